"""The argparse parser of the commands that do not run on every start (``exec``'s is by hand, in cli)."""

from __future__ import annotations

import argparse
from typing import Any, Callable, NoReturn

from pyenvboot.errors import UsageError


def build_parser() -> argparse.ArgumentParser:
    """argparse for every command but ``exec``, ``run``, ``pip`` and plain ``env``; errors as one line."""
    from pyenvboot import __version__

    class OneLineParser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise UsageError("%s: %s (see '%s --help')" % (self.prog, message, self.prog))

    parser = OneLineParser(
        prog="pyenvboot",
        description="An isolated, group-writable venv for Python container images.",
    )
    parser.add_argument("-V", "--version", action="version", version="pyenvboot " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True

    def venv_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--venv", metavar="DIR", help="the venv (default: $PYENVBOOT_VENV, else /opt/venv)")

    _init_parser(sub.add_parser("init", help="create or update the venv"), venv_opt)

    _env_parser(sub.add_parser("env", help="print the activation environment"), venv_opt)
    _exec_parser(sub.add_parser("exec", help="exec a command in the venv (the ENTRYPOINT)"), venv_opt)
    venv_opt(sub.add_parser("shell", help="start an interactive shell in the venv"))
    _pip_parser(sub, venv_opt)
    p = sub.add_parser("run", help="run an installer or build script (uv, poetry, pipenv, ...) as 'pip' runs pip")
    venv_opt(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments, after '--'")
    _check_parser(
        sub.add_parser("check", help="diagnose the venv: isolation, consistency, pins, interpreter, permissions"),
        venv_opt,
    )
    _fix_permissions_parser(sub.add_parser("fix-permissions", help="apply the permission policy to trees"))
    return parser


def _env_parser(p: argparse.ArgumentParser, venv_opt: Callable[[argparse.ArgumentParser], None]) -> None:
    venv_opt(p)
    p.add_argument(
        "--format",
        choices=["sh", "dockerfile", "json"],
        default="sh",
        help="sh: export/unset lines to eval (default); dockerfile: ENV lines;"
        " json: one object, null for a variable to unset",
    )
    p.add_argument(
        "--identity", action="store_true", help="include the identity fix-ups for this UID (used by the shell hook)"
    )


def _exec_parser(p: argparse.ArgumentParser, venv_opt: Callable[[argparse.ArgumentParser], None]) -> None:
    venv_opt(p)
    p.add_argument("--init", action="store_true", help="stay as PID 1: forward signals and reap zombies")
    p.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments (default: a shell)")


def _pip_parser(sub: Any, venv_opt: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "pip",
        help="run pip in the venv, locked, then fix permissions",
        usage="%(prog)s [--venv DIR] PIP_ARGS...",
        description="Run the venv's pip with umask 002, under an exclusive lock on the venv, with no pip"
        " cache left in the image layer; then apply the permission policy to what pip added. After"
        " 'install', every requirement is checked to be met inside the venv (exit 9 if not).",
        epilog="pip's own help: 'pyenvboot pip help', or 'pyenvboot pip help install'"
        " ('pyenvboot pip install --help').",
    )
    venv_opt(p)
    p.add_argument("pip_args", nargs=argparse.REMAINDER, metavar="PIP_ARGS", help="pip's command and arguments")


def _check_parser(p: argparse.ArgumentParser, venv_opt: Callable[[argparse.ArgumentParser], None]) -> None:
    venv_opt(p)
    p.add_argument(
        "-r",
        "--requirement",
        dest="requirements",
        action="append",
        default=[],
        metavar="FILE",
        help="also check that this requirements file is met inside the venv (repeatable)",
    )
    p.add_argument("--group", metavar="GROUP", help="group the venv must be writable by (default: the venv's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _fix_permissions_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--group", metavar="GROUP", help="owning group (default: 0)")
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a tree to fix: group-owned, group read-write, setgid directories, no world-write;"
        " symlinks are not followed",
    )


def _init_parser(p: argparse.ArgumentParser, venv_opt: Callable[[argparse.ArgumentParser], None]) -> None:
    """``init``'s options."""
    from pyenvboot.create import CREATORS
    from pyenvboot.runtime.launcher import LAUNCHER_FORMS

    venv_opt(p)
    p.add_argument(
        "--python",
        metavar="EXE",
        help="base interpreter (default: an existing venv's own while it runs, else the one running pyenvboot)",
    )
    p.add_argument("--group", metavar="GROUP", help="group that may write the venv (default: 0)")
    p.add_argument("--without-pip", action="store_true", help="do not install pip")
    p.add_argument("--pip-wheel", metavar="FILE", help="seed pip from this wheel")
    p.add_argument("--wheelhouse", metavar="DIR", help="look for a pip wheel here too")
    p.add_argument(
        "--creator",
        choices=CREATORS,
        default="auto",
        help="where pip comes from: venv = a pip wheel (ensurepip's, Debian's, --pip-wheel, --wheelhouse),"
        " virtualenv = the base's virtualenv module, auto = a wheel, else virtualenv (default)",
    )
    p.add_argument(
        "--launcher",
        choices=LAUNCHER_FORMS,
        default="auto",
        help="VENV/bin/pyenvboot, the ENTRYPOINT: sh = a /bin/sh script (fast), python = runs on the venv's"
        " python (for an image without /bin/sh, e.g. a distroless final stage), auto = sh where /bin/sh exists"
        " (default)",
    )
    p.add_argument("--prompt", help="prompt marker (default: the venv's directory name)")
    p.add_argument(
        "--home",
        metavar="DIR",
        help="shared home for UIDs without one (default: $PYENVBOOT_HOME, else /home/pyenvboot)",
    )
    p.add_argument("--no-home", action="store_true", help="do not create the shared home")
    p.add_argument(
        "--writable-passwd",
        action="store_true",
        help="make /etc/passwd group-writable so arbitrary UIDs get a real entry (see SECURITY.md)",
    )
