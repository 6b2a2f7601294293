"""Replace this process with the app: the one place that calls ``os.execvpe``.

``exec`` and ``shell`` end here, so the app becomes PID 1 (no wrapper process stays)
and receives SIGTERM itself. Failures mirror the shell: 127 when the command is not
found, 126 when it is found but cannot be executed.

One exception: a shell given a command string (``sh -c '...'``, Docker's shell-form
``CMD``), see :func:`shell_would_be_pid1`. As PID 1 it would never stop on SIGTERM,
so pyenvboot stays as a minimal init for it (:mod:`pyenvboot.runtime.reaper`).
"""

from __future__ import annotations

import errno
import os
import sys

from pyenvboot.errors import CommandNotFound, NotExecutable, PyenvbootError
from pyenvboot.runtime.contract import UMASK as UMASK
from pyenvboot.runtime.contract import first_executable
from pyenvboot.runtime.environment import check_venv, runtime_environment
from pyenvboot.runtime.identity import missing_home
from pyenvboot.runtime.state import in_started_container, mark_started

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from typing import Dict, List, Mapping, NoReturn, Optional, Sequence, Tuple

else:
    # The C module: ``signal`` imports enum, ~8 ms on every container start.
    import _signal


def exec_error(name: str, env: Mapping[str, str], exc: OSError) -> PyenvbootError:
    """The shell's verdict on a failed exec of ``name``: 127 not found, 126 found but not executable.

    Shared by ``exec`` and ``exec --init``, whose child reports the errno of its exec.
    """
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        where = "" if "/" in name else " in PATH=" + env.get("PATH", "")
        return CommandNotFound("%s: command not found%s; check the name, or install it into the image" % (name, where))
    if isinstance(exc, PermissionError):
        return NotExecutable(
            "%s: permission denied (not executable by uid %d, or a directory); chmod +x it" % (name, os.getuid())
        )
    if exc.errno == errno.ENOEXEC:
        return NotExecutable("%s: exec format error (a binary for another machine?); rebuild or replace it" % name)
    return NotExecutable("%s: cannot execute: %s" % (name, exc.strerror))


def check_argv(argv: Sequence[str]) -> None:
    """An empty command is "not found", as in a shell (``os.execvpe`` would raise ValueError)."""
    if not argv or not argv[0]:
        raise CommandNotFound("'': command not found; give a command after '--'")


def default_signals() -> None:
    """Undo CPython's SIG_IGN for SIGPIPE and SIGXFSZ: exec would pass it on (``yes | head`` breaks)."""
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)


def sh_script(argv: Sequence[str], env: Mapping[str, str], exc: OSError) -> Optional[str]:
    """The file to run with /bin/sh when exec failed on a text file without ``#!``, else None.

    ``execvp(3)`` and every shell do that on ENOEXEC. A file that looks binary (NUL
    in its first bytes, as bash checks) keeps the exec error.
    """
    if exc.errno != errno.ENOEXEC:
        return None
    script = first_executable(argv[0], env.get("PATH", ""))
    try:
        with open(script or "", "rb") as f:
            binary = b"\0" in f.read(80)
    except OSError:
        return None
    return None if binary else script


def execvpe(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """``os.execvpe``, and like ``execvp(3)`` and every shell, a text file without ``#!`` runs with /bin/sh.

    The venv launcher's sh fast path gets that from sh itself; this keeps the Python
    path the same.
    """
    try:
        os.execvpe(argv[0], list(argv), dict(env))
    except OSError as exc:
        script = sh_script(argv, env, exc)
        if script is None:
            raise
        os.execve("/bin/sh", ["/bin/sh", script, *argv[1:]], dict(env))


def exec_app(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """``execvpe`` ``argv`` with ``env``, searching the new environment's PATH."""
    check_argv(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    default_signals()
    try:
        execvpe(argv, env)
    except OSError as exc:
        _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
        raise exec_error(argv[0], env, exc) from None


def shell_argv(env: Mapping[str, str]) -> List[str]:
    """An interactive shell: the user's (``$SHELL``, passwd), else bash, else sh."""
    candidates: List[Optional[str]] = [env.get("SHELL")]
    try:
        import pwd

        candidates.append(pwd.getpwuid(os.getuid()).pw_shell)
    except KeyError:
        pass
    candidates += [first_executable("bash", env.get("PATH", "")), "/bin/sh"]
    for shell in candidates:
        if (
            shell
            and shell.startswith("/")
            and not shell.endswith(("/nologin", "/false"))
            and os.access(shell, os.X_OK)
            and os.path.isfile(shell)
        ):
            return [shell, "-i"]
    return ["sh", "-i"]


# Shells by the base name of argv[0]. None forwards SIGTERM to the command it waits for,
# and as PID 1 a shell that leaves SIGTERM at its default never gets it.
SHELLS = frozenset(("sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"))
BLANKS = " \t\n\v\f\r"  # sh's [[:space:]] in the C locale


def shell_would_be_pid1(argv: Sequence[str]) -> bool:
    """Would exec'ing ``argv`` as PID 1 leave a shell waiting on a command string, deaf to SIGTERM?

    The kernel drops a signal to a PID namespace's init whose disposition is the
    default (kernel/signal.c, ``sig_task_ignored``: SIGNAL_UNKILLABLE), even from
    ``docker stop``. Debian's dash runs even a single command as a child
    (``sh -c 'python app.py'``: dash stays PID 1), so ``docker stop`` waits out its
    timeout and ends with 137.

    The contract, which the venv launcher's sh fast path mirrors
    (:func:`pyenvboot.runtime.launcher.launcher_text`; a differential test covers each case):
    argv[0]'s base name is one of :data:`SHELLS`; argv[1] is a cluster of short
    options containing ``c`` (``-c``, ``-ec``, ``-lc``); and the command string
    argv[2] is neither ``exec`` nor begins with ``exec`` and a blank, because
    ``sh -c 'exec app'`` makes the app PID 1 itself.
    """
    if len(argv) < 3 or argv[0].rsplit("/", 1)[-1] not in SHELLS:
        return False
    option, script = argv[1], argv[2]
    if not (option[:1] == "-" and option[1:2] not in ("", "-") and "c" in option[1:]):
        return False
    return not (script == "exec" or (script[:4] == "exec" and len(script) > 4 and script[4] in BLANKS))


def prepare(
    venv: str, command: Sequence[str], environ: Mapping[str, str], start: bool = True
) -> Tuple[List[str], Dict[str, str]]:
    """What ``exec`` and ``exec --init`` share: venv check, environment, identity, umask 002, argv.

    ``start``: this is the ENTRYPOINT starting the container, so identity may be
    written (see :func:`pyenvboot.runtime.state.started_marker`). ``shell`` is not: it
    writes identity only inside a container that was started.
    """
    check_venv(venv)
    if start:
        mark_started(environ)
    env = runtime_environment(environ, venv, persist=start or in_started_container(environ))
    missing = missing_home(env)
    if missing:
        sys.stderr.write("pyenvboot: warning: %s\n" % missing)
    os.umask(UMASK)
    return (list(command) if command else shell_argv(env)), env


def run(venv: str, command: Sequence[str], environ: Mapping[str, str], start: bool = True) -> int:
    """``pyenvboot exec``/``shell``: environment, umask 002, identity, then exec.

    Returns only where pyenvboot is PID 1 and stays as init for a shell
    (:func:`shell_would_be_pid1`): then with the shell's exit code.
    """
    argv, env = prepare(venv, command, environ, start)
    if os.getpid() == 1 and shell_would_be_pid1(argv):
        from pyenvboot.runtime.reaper import init_app, kill_group

        return init_app(argv, env, kill_group(environ))
    exec_app(argv, env)
