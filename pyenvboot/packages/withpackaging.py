"""Make ``import packaging`` work for ``check`` and the pip verification.

Requirements are evaluated with ``packaging``, never with home-made version logic
(:mod:`pyenvboot.packages.versions` has the one fallback: ordering pip wheels in an
``init`` without packaging).
The zipapp carries it and ``pip install pyenvboot[check]`` installs it; a plain
``pip install pyenvboot`` does not, but every venv that ``pyenvboot pip`` can run
in has pip, and pip carries a copy (``pip._vendor.packaging``). That copy is used
only when the real one is missing. Nothing on the ``exec`` path imports this.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from pyenvboot.errors import VerifyError

if TYPE_CHECKING:
    from pyenvboot.installers.changes import Listing

    Listings = List[Optional[Tuple[Tuple[int, int], Listing]]]

SUBMODULES = ("version", "specifiers", "markers", "requirements", "utils")


def import_packaging(site_dirs: Sequence[str] = ()) -> str:
    """Import ``packaging`` (or alias pip's copy from ``site_dirs`` as it); return where it came from."""
    try:
        import packaging.requirements  # noqa: F401

        return "packaging"
    except ImportError:
        pass
    saved_path, saved_flag = list(sys.path), sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # never leave __pycache__ behind in the venv
    try:
        for site in site_dirs:
            if not os.path.isfile(os.path.join(site, "pip", "_vendor", "packaging", "requirements.py")):
                continue
            sys.path[:] = saved_path + [site]
            try:
                root = importlib.import_module("pip._vendor.packaging")
                modules = {name: importlib.import_module("pip._vendor.packaging." + name) for name in SUBMODULES}
            except Exception:  # a pip for another Python may not even compile here
                continue
            sys.modules["packaging"] = root
            for name, module in modules.items():
                sys.modules["packaging." + name] = module
            return "pip._vendor.packaging from " + site
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_flag
    raise VerifyError(
        "cannot evaluate requirements: the Python running pyenvboot (%s) has no 'packaging' module and the venv"
        " has no pip to borrow it from; use the pyenvboot zipapp, or pip install 'pyenvboot[check]'" % sys.executable
    )


def vendored_dirs(site_dirs: Sequence[str]) -> List[str]:
    """The directories :func:`import_packaging` may borrow from, each with its ``__pycache__``.

    What it loads: ``pip/__init__``, ``pip/_vendor/__init__`` and the vendored
    ``packaging``, each from its source or its byte code.
    """
    dirs: List[str] = []
    for site in site_dirs:
        pip = os.path.join(site, "pip")
        dirs += [pip, pip + "/__pycache__", pip + "/_vendor", pip + "/_vendor/__pycache__"]
        dirs += [directory for directory, _, _ in os.walk(pip + "/_vendor/packaging")]
    return dirs


def forget_borrowed() -> None:
    """Drop pip's copy from ``sys.modules``: the next :func:`import_packaging` borrows it again.

    Only modules that import ``packaging`` when they are called may run before this;
    one that bound its names at import (:mod:`pyenvboot.packages.requirements`) would
    keep the old copy.
    """
    for name in list(sys.modules):
        if name in ("packaging", "pip") or name.startswith(("packaging.", "pip.")):
            del sys.modules[name]


class EarlyPackaging:
    """``packaging`` imported while pip runs, kept only if pip did not replace what it came from.

    Borrowing pip's copy is most of the verification's cost after pip (its regular
    expressions compile on import). Borrowed while pip runs, it may come from a pip
    that the same command replaces (``pip install -U pip``, or a requirement on
    pip): :meth:`check` then drops it, and the import after pip takes the new one.
    """

    def __init__(self, site_dirs: Sequence[str]) -> None:
        self.site_dirs = list(site_dirs)
        self.borrowed = False
        self.dirs: List[str] = []
        self.before: Listings = []
        try:
            import packaging.requirements  # noqa: F401
        except ImportError:
            self.dirs = vendored_dirs(self.site_dirs)
            self.before = self.listings()  # taken before the import reads the files
            try:
                import_packaging(self.site_dirs)
                self.borrowed = True
            except VerifyError:
                forget_borrowed()  # what a failed import left (pip moving its files away, say) is not reused

    def listings(self) -> Listings:
        """The inode and ctime of each of :attr:`dirs` and of their entries.

        pip never rewrites a file in place (its ``install_wheel`` unlinks a file before
        writing the new one, an uninstall moves files away: ``StashedUninstallPathSet``),
        so a file it touched is missing, or has another inode, in a later listing.
        """
        from pyenvboot.installers.changes import listing

        return [listing(directory) for directory in self.dirs]

    def check(self) -> None:
        """After pip: forget the borrowed copy when any file it may have come from changed."""
        if self.borrowed and self.listings() != self.before:
            forget_borrowed()
