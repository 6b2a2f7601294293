"""``pyenvboot run -- CMD``: any installer or build script, as ``pyenvboot pip`` runs pip.

The known installers get the policy on what they changed
(:class:`pyenvboot.installers.changes.Touched`); any other command, which may write
anywhere, has the whole venv walked.
"""

from __future__ import annotations

import os

from pyenvboot.installers.changes import Touched
from pyenvboot.installers.pip import pip_changes_known, sends_elsewhere
from pyenvboot.installers.step import run_in_venv, venv_python

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, Mapping, Optional, Sequence

    from pyenvboot.installers.changes import Tracker

# The installers whose writes into the venv Touched accounts for (wheels through RECORD, uv's byte code and
# its .lock, poetry through the ``installer`` library, pipenv through pip), and their subcommands that install
# or uninstall: ``uv run``, ``poetry run`` and ``pipenv run`` run anything, and have the venv walked.
SCOPED = {
    "uv": (("pip", "install"), ("pip", "uninstall"), ("pip", "sync"), ("sync",), ("add",), ("remove",)),
    "poetry": (("install",), ("add",), ("remove",), ("update",), ("sync",)),
    "pipenv": (("install",), ("sync",), ("uninstall",), ("update",)),
}


def is_pip(name: str) -> bool:
    """``pip``, ``pip3``, ``pip3.12``: the names pip installs its scripts under."""
    rest = name[len("pip3.") :] if name.startswith("pip3.") else name
    return name in ("pip", "pip3") or (rest != name and rest.isdigit())


def scoped(argv: Sequence[str]) -> bool:
    """Can :class:`Touched` tell what ``argv`` changes? An install or uninstall by a known installer, not
    sending files elsewhere. Options before the subcommand (``uv --directory D sync``) count as unknown."""
    name = os.path.basename(argv[0]) if argv else ""
    if is_pip(name):
        return pip_changes_known(argv[1:])
    words = tuple(argv[1:3])
    if not any(words[: len(sub)] == sub for sub in SCOPED.get(name, ())):
        return False
    return not sends_elsewhere(argv[1:])  # uv pip install --target / --prefix: a tree the listings do not show


def uv_config_files(argv: Sequence[str], environ: Mapping[str, str]) -> List[str]:
    """The files uv may read settings from (uv's configuration discovery), unless it is told to read none."""
    if "--no-config" in argv or environ.get("UV_NO_CONFIG"):
        return []
    files = [environ.get("UV_CONFIG_FILE", "")]
    files += [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--config-file"]
    files += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config-file=")]
    directory = os.getcwd()
    while True:
        files += [os.path.join(directory, "uv.toml"), os.path.join(directory, "pyproject.toml")]
        if directory == "/":
            break
        directory = os.path.dirname(directory)
    config = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME") or "/", ".config")
    system = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":") + ["/etc"]
    return files + [os.path.join(config, "uv", "uv.toml")] + [os.path.join(d, "uv", "uv.toml") for d in system]


def compiles_site_packages(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Does uv ``argv`` compile the byte code of all of site-packages (``--compile-bytecode`` beyond
    ``uv pip install``, which compiles only what it installed: astral-sh/uv#19914)?

    The setting comes from the command line, ``UV_COMPILE_BYTECODE`` or a config file;
    any mention of it counts, which at worst checks site-packages in full for nothing.
    """
    if os.path.basename(argv[0]) != "uv" or list(argv[1:3]) == ["pip", "install"]:
        return False
    if any(arg in ("--compile-bytecode", "--compile") for arg in argv) or environ.get("UV_COMPILE_BYTECODE"):
        return True
    for path in uv_config_files(argv, environ):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                if "compile-bytecode" in f.read():
                    return True
        except OSError:
            continue
    return False


def run_command(venv: str, argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """``pyenvboot run``: ``argv`` as a build step for ``venv``; its exit code."""
    venv_python(venv)
    tracker: Optional[Callable[[str], Tracker]] = None
    if scoped(argv):
        sites_compiled = compiles_site_packages(argv, environ)
        tracker = lambda path: Touched(path, sites_compiled)  # noqa: E731
    return run_in_venv(venv, argv, environ, tracker=tracker)
