"""The command line: a thin layer that turns errors into ``error: ...`` and an exit code.

``exec`` runs on every container start, so it is parsed by hand and never imports
argparse (about 10 ms, 20 with the parser's other imports); so are the plain forms
of ``env``, ``pip`` and ``fix-permissions``, whose no-op pass is measured against
a shell pipeline. Every other command, and any form the hand parsers do not take,
uses argparse.
"""

from __future__ import annotations

import os
import sys

from pyenvboot.errors import EXIT_BROKEN_PIPE, EXIT_FAILURE, EXIT_USAGE, PyenvbootError, UsageError

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import List, Optional, Sequence, Tuple


class HelpRequested(Exception):
    """``exec --help``: the hand parser defers to argparse for the text."""


def parse_exec(
    args: Sequence[str], name: str = "exec", allow_init: bool = True
) -> Tuple[Optional[str], bool, List[str]]:
    """``exec [--venv DIR] [--init] [--] CMD [ARG...]`` -> (venv, init, command); ``run`` without --init."""
    venv: Optional[str] = None
    init = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg == "--venv":
            if i + 1 >= len(args):
                raise UsageError("%s: --venv needs a directory" % name)
            venv = args[i + 1]
            i += 2
        elif arg.startswith("--venv="):
            venv = arg[len("--venv=") :]
            i += 1
        elif arg == "--init" and allow_init:
            init = True
            i += 1
        elif arg in ("-h", "--help"):
            raise HelpRequested()
        elif arg.startswith("-") and arg != "-":
            raise UsageError("%s: unknown option %s; options go before '--' and the command" % (name, arg))
        else:
            break
    return venv, init, list(args[i:])


def _exec(args: Sequence[str]) -> int:
    """Does not return, except as an init (``--init``, or a shell as PID 1): then the child's exit code."""
    from pyenvboot.runtime.environment import venv_path
    from pyenvboot.runtime.execute import run

    venv, init, command = parse_exec(args)
    venv = venv_path(venv, os.environ, existing=True)
    if init:
        from pyenvboot.runtime.reaper import run_init

        return run_init(venv, command, os.environ)
    return run(venv, command, os.environ)


def _cmd_init(ns: "argparse.Namespace") -> int:
    from pyenvboot.create.builder import VenvBuilder
    from pyenvboot.create.provision import shared_home
    from pyenvboot.permissions.policy import resolve_group
    from pyenvboot.runtime.environment import format_dockerfile, image_changes, venv_path

    gid = resolve_group(ns.group)
    venv = venv_path(ns.venv, os.environ)
    builder = VenvBuilder(
        venv,
        python=ns.python,
        gid=gid,
        with_pip=not ns.without_pip,
        pip_wheel=ns.pip_wheel,
        wheelhouse=ns.wheelhouse,
        prompt=ns.prompt,
        creator=ns.creator,
        launcher=ns.launcher,
        home=None if ns.no_home else shared_home(ns.home, os.environ),
        writable_passwd=ns.writable_passwd,
    )
    for action in builder.create().actions:
        print("pyenvboot: " + action)
    print("pyenvboot: add these lines to the Dockerfile:")
    sys.stdout.write(format_dockerfile(image_changes(venv)))
    return 0


def parse_env(args: Sequence[str]) -> Optional[Tuple[Optional[str], str, bool]]:
    """``env [--venv DIR] [--format F] [--identity]`` -> (venv, format, identity), by hand.

    The shell hook runs ``env --identity`` for a UID it cannot name, so this path
    skips argparse too: its import would cost every such shell. None: anything else,
    which argparse then reports.
    """
    venv: Optional[str] = None
    fmt = "sh"
    identity = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--identity":
            identity = True
        elif arg in ("--venv", "--format") and i + 1 < len(args):
            i += 1
            if arg == "--venv":
                venv = args[i]
            elif args[i] in ("sh", "dockerfile", "json"):
                fmt = args[i]
            else:
                return None
        else:
            return None
        i += 1
    return venv, fmt, identity


def _env(venv_arg: Optional[str], fmt: str, identity: bool) -> int:
    from pyenvboot.runtime.environment import FORMATTERS, runtime_changes, venv_path
    from pyenvboot.runtime.state import in_started_container

    venv = venv_path(venv_arg, os.environ, existing=True)
    # The shell hook: in a build step (no container started) it writes nothing into the layer.
    changes = runtime_changes(os.environ, venv, identity, persist=identity and in_started_container(os.environ))
    sys.stdout.write(FORMATTERS[fmt](changes))
    return 0


def _cmd_env(ns: "argparse.Namespace") -> int:
    return _env(ns.venv, ns.format, ns.identity)


def _cmd_shell(ns: "argparse.Namespace") -> int:
    from pyenvboot.runtime.environment import venv_path
    from pyenvboot.runtime.execute import run

    return run(venv_path(ns.venv, os.environ, existing=True), [], os.environ, start=False)


def _cmd_pip(args: Sequence[str]) -> int:
    from pyenvboot.installers.pip import run_pip
    from pyenvboot.runtime.environment import venv_path

    venv: Optional[str] = None
    args = list(args)
    if args and args[0] == "--venv":
        if len(args) < 2:
            raise UsageError("pip: --venv needs a directory")
        venv, args = args[1], args[2:]
    elif args and args[0].startswith("--venv="):
        venv, args = args[0][len("--venv=") :], args[1:]
    if not args:
        raise UsageError("pip: give pip's arguments, e.g. 'pyenvboot pip install -r requirements.txt'")
    from pyenvboot.errors import VerifyError
    from pyenvboot.packages.verify import after_pip

    venv = venv_path(venv, os.environ, existing=True)
    try:
        return run_pip(venv, args, os.environ, after=after_pip(venv, args, os.environ))
    except VerifyError as exc:
        for line in exc.lines:
            print("error: " + line, file=sys.stderr)
        return exc.exit_code


def _cmd_run(args: Sequence[str]) -> int:
    """``run [--venv DIR] [--] CMD [ARG...]``, parsed by hand: CMD's options are its own."""
    from pyenvboot.installers.run import run_command
    from pyenvboot.runtime.environment import venv_path

    venv, _, command = parse_exec(args, "run", allow_init=False)
    if not command:
        raise UsageError("run: give a command, e.g. 'pyenvboot run -- uv pip install -r requirements.txt'")
    return run_command(venv_path(venv, os.environ, existing=True), command, os.environ)


def _cmd_check(ns: "argparse.Namespace") -> int:
    from pyenvboot.diagnosis.check import diagnose
    from pyenvboot.diagnosis.report import render
    from pyenvboot.runtime.environment import venv_path

    report = diagnose(venv_path(ns.venv, os.environ, existing=True), ns.requirements, ns.group, os.environ)
    sys.stdout.write(render(report, ns.json))
    return 0 if report.healthy else EXIT_FAILURE  # 1: check found problems


def parse_fix_permissions(args: Sequence[str]) -> Optional[Tuple[Optional[str], List[str]]]:
    """``fix-permissions [--group GROUP] PATH...`` -> (group, paths), by hand; None: anything else (argparse's)."""
    group: Optional[str] = None
    if args[:1] == ["--group"] and len(args) > 1 and not args[1].startswith("-"):
        group, args = args[1], args[2:]
    if not args or any(arg.startswith("-") for arg in args):
        return None
    return group, list(args)


def _cmd_fix_permissions(ns: "argparse.Namespace") -> int:
    return _fix_permissions(ns.group, ns.paths)


def _fix_permissions(group: Optional[str], paths: Sequence[str]) -> int:
    from pyenvboot.permissions.policy import fix_tree, resolve_group

    gid = resolve_group(group)
    status = 0
    for path in paths:
        report = fix_tree(path, gid)
        print("%s: %d entries, %d changed" % (path, report.scanned, report.changed))
        for line in report.special:
            print("pyenvboot: left alone %s (never made group-writable)" % line, file=sys.stderr)
        for line in report.skipped:
            print("pyenvboot: skipped " + line, file=sys.stderr)
        if report.skipped:
            status = 1
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run pyenvboot; returns the exit code (``exec`` does not return when it succeeds)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] in (["exec"], ["run"]):
            try:
                return _exec(args[1:]) if args[0] == "exec" else _cmd_run(args[1:])
            except HelpRequested:
                pass
        if args and args[0] == "pip" and args[1:2] not in (["-h"], ["--help"]):
            return _cmd_pip(args[1:])
        env_args = parse_env(args[1:]) if args[:1] == ["env"] else None
        if env_args is not None:
            code = _env(*env_args)
            sys.stdout.flush()
            return code
        fix_args = parse_fix_permissions(args[1:]) if args[:1] == ["fix-permissions"] else None
        if fix_args is not None:
            code = _fix_permissions(*fix_args)
            sys.stdout.flush()
            return code
        from pyenvboot.parser import build_parser

        ns = build_parser().parse_args(args)
        handler = {
            "init": _cmd_init,
            "env": _cmd_env,
            "shell": _cmd_shell,
            "check": _cmd_check,
            "fix-permissions": _cmd_fix_permissions,
        }.get(ns.command)
        if handler is None:  # "exec --help" exits inside argparse
            return EXIT_USAGE
        code = handler(ns)
        sys.stdout.flush()  # so that a closed stdout fails here, not in the interpreter's exit
        return code
    except PyenvbootError as exc:
        print("error: " + exc.message, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout's reader went away (``pyenvboot env | head -1``): stop quietly, as a killed ``cat`` would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
