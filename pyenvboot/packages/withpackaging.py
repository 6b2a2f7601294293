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
from typing import Sequence

from pyenvboot.errors import VerifyError

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
