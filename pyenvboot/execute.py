"""Replace this process with the app: the one place that calls ``os.execvpe``.

``exec`` and ``shell`` end here, so the app becomes PID 1 (no wrapper process stays)
and receives SIGTERM itself. Failures mirror the shell: 127 when the command is not
found, 126 when it is found but cannot be executed.
"""

from __future__ import annotations

import errno
import os
import sys

from pyenvboot.environment import activation_changes, apply_changes
from pyenvboot.errors import CommandNotFound, NotExecutable, PyenvbootError, VenvError
from pyenvboot.identity import fix_identity, missing_home

# typing costs ~5 ms of imports; the exec path only needs it for type checkers (issue 5).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from typing import Dict, List, Mapping, NoReturn, Optional, Sequence, Tuple

    from pyenvboot.environment import Changes
else:
    # The C module: ``signal`` imports enum, ~8 ms on every container start (issue 5).
    import _signal

UMASK = 0o002


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


def _first_executable(name: str, env: Mapping[str, str]) -> Optional[str]:
    """The file ``execvpe`` runs for ``name``: the first executable regular file on PATH."""
    if "/" in name:
        return name
    for directory in env.get("PATH", "").split(":"):
        path = (directory or ".") + "/" + name
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def execvpe(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """``os.execvpe``, and like ``execvp(3)`` and every shell, a text file without ``#!`` runs with /bin/sh.

    The venv launcher's sh fast path gets that from sh itself; this keeps the Python
    path the same. A file that looks binary (NUL in its first bytes, as bash checks)
    keeps the exec error.
    """
    try:
        os.execvpe(argv[0], list(argv), dict(env))
    except OSError as exc:
        if exc.errno != errno.ENOEXEC:
            raise
        script = _first_executable(argv[0], env)
        try:
            with open(script or "", "rb") as f:
                binary = b"\0" in f.read(80)
        except OSError:
            raise exc from None
        if binary:
            raise
        os.execve("/bin/sh", ["/bin/sh", script or argv[0], *argv[1:]], dict(env))


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


def check_venv(venv: str) -> None:
    """Fail clearly (not with 127 for ``python``) when the venv is missing."""
    if not venv.startswith("/"):
        raise VenvError("venv path %r is relative; use an absolute path (--venv or PYENVBOOT_VENV)" % venv)
    if not os.path.isfile(venv + "/pyvenv.cfg"):
        raise VenvError("no venv at %s (pyvenv.cfg missing); run 'pyenvboot init --venv %s'" % (venv, venv))


def runtime_environment(environ: Mapping[str, str], venv: str, persist: bool = True) -> Dict[str, str]:
    """The app's environment: activation plus the identity fix-ups (see :func:`fix_identity`)."""
    changes: Changes = activation_changes(environ, venv)
    changes.update(fix_identity(apply_changes(environ, changes), persist))
    return apply_changes(environ, changes)


def shell_argv(env: Mapping[str, str]) -> List[str]:
    """An interactive shell: the user's (``$SHELL``, passwd), else bash, else sh."""
    candidates: List[Optional[str]] = [env.get("SHELL")]
    try:
        import pwd

        candidates.append(pwd.getpwuid(os.getuid()).pw_shell)
    except KeyError:
        pass
    candidates += [_first_executable("bash", env), "/bin/sh"]
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


def prepare(venv: str, command: Sequence[str], environ: Mapping[str, str]) -> Tuple[List[str], Dict[str, str]]:
    """What ``exec`` and ``exec --init`` share: venv check, environment, identity, umask 002, argv."""
    check_venv(venv)
    env = runtime_environment(environ, venv)
    missing = missing_home(env)
    if missing:
        sys.stderr.write("pyenvboot: warning: %s\n" % missing)
    os.umask(UMASK)
    return (list(command) if command else shell_argv(env)), env


def run(venv: str, command: Sequence[str], environ: Mapping[str, str]) -> NoReturn:
    """``pyenvboot exec``/``shell``: environment, umask 002, identity, then exec."""
    argv, env = prepare(venv, command, environ)
    exec_app(argv, env)
