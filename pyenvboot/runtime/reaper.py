"""``exec --init``: stay as a minimal PID 1 for apps that spawn children.

Plain ``exec`` replaces itself with the app, which is right for most apps. An app
that starts children it does not wait for (shell scripts, some servers) leaves
zombies once it is PID 1, because the kernel re-parents orphans to PID 1. With
``--init`` pyenvboot forks the app and stays behind, like tini. Plain ``exec`` does the
same, unasked, for a shell that would otherwise be a PID 1 deaf to SIGTERM
(:func:`pyenvboot.runtime.execute.shell_would_be_pid1`):

- the app gets the same environment, identity and umask as plain ``exec``;
- the app runs in its own process group and, on a terminal, is its foreground group,
  so Ctrl-C reaches it once, from the terminal, not twice;
- SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are forwarded to the
  app, or to its whole process group with ``PYENVBOOT_INIT_KILL_GROUP=1`` (tini's ``-g``);
- every child that exits is reaped, the app's own and the orphans';
- the exit code is the app's, or 128+N when signal N killed it, as in a shell.

Signals are blocked and taken with ``sigwaitinfo`` rather than handled: a PID 1 gets
signals sent from inside its namespace only if it does not leave them at SIG_DFL,
and blocked signals are queued, so none is lost between two waits.
"""

from __future__ import annotations

import errno
import os
import sys

from pyenvboot.errors import UsageError
from pyenvboot.runtime.execute import check_argv, default_signals, exec_error, execvpe, prepare

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from typing import Dict, List, Mapping, Optional, Sequence, Set
else:
    # The C module: ``signal`` imports enum, ~8 ms.
    import _signal

KILL_GROUP_VAR = "PYENVBOOT_INIT_KILL_GROUP"
FORWARDED = (
    _signal.SIGTERM,
    _signal.SIGINT,
    _signal.SIGHUP,
    _signal.SIGQUIT,
    _signal.SIGUSR1,
    _signal.SIGUSR2,
    _signal.SIGWINCH,
)
# Also blocked in pyenvboot: SIGCHLD is waited for; SIGTTIN/SIGTTOU would stop it once the
# app owns the terminal (the app itself gets them back with its original mask).
BLOCKED = (*FORWARDED, _signal.SIGCHLD, _signal.SIGTTIN, _signal.SIGTTOU)


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N for signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 128 + os.WSTOPSIG(status)


def kill_group(environ: Mapping[str, str]) -> bool:
    """``PYENVBOOT_INIT_KILL_GROUP``: forward to the app's process group instead of the app."""
    value = environ.get(KILL_GROUP_VAR, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise UsageError("%s=%r: use 1 (signal the app's process group) or 0 (the app only)" % (KILL_GROUP_VAR, value))


def _take_terminal() -> None:
    """Make the app's new process group the terminal's foreground group, if there is a terminal."""
    try:
        os.tcsetpgrp(0, os.getpgrp())
    except OSError:
        pass  # no terminal (ENOTTY), or not our session's: nothing to hand over


def _child(argv: List[str], env: Dict[str, str], mask: Set[int], report: int) -> None:
    """In the forked child: own process group, terminal, default signals, then exec."""
    try:
        os.setpgid(0, 0)
        _take_terminal()  # SIGTTOU is still blocked here, so this cannot stop us
        default_signals()
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        execvpe(argv, env)
    except OSError as exc:
        code = exc.errno or errno.ENOEXEC
    except BaseException:
        code = errno.ENOEXEC
    try:
        os.write(report, str(code).encode())
    finally:
        os._exit(127)


def spawn(argv: List[str], env: Dict[str, str], mask: Set[int]) -> int:
    """Fork and exec the app; its pid, or the same error plain ``exec`` gives (127/126).

    The child reports a failed exec through a close-on-exec pipe, so the parent knows
    the outcome before it starts forwarding signals.
    """
    check_argv(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()  # close-on-exec (PEP 446)
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(argv, env, mask, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    if not data:
        return pid
    os.waitpid(pid, 0)
    err = int(data.decode() or errno.ENOEXEC)
    raise exec_error(argv[0], env, OSError(err, os.strerror(err))) from None


def reap(app: int) -> Optional[int]:
    """Reap every child that has exited; the app's wait status if it is among them."""
    status: Optional[int] = None
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if pid == 0:
            return status
        if pid == app:
            status = st


def supervise(app: int, group: bool) -> int:
    """Forward signals to the app and reap children until the app exits; its exit code."""
    target = -app if group else app
    waited = set(BLOCKED) - {_signal.SIGTTIN, _signal.SIGTTOU}
    while True:
        info = _signal.sigwaitinfo(waited)
        if info.si_signo == _signal.SIGCHLD:
            status = reap(app)
            if status is not None:
                reap(app)  # orphans that exited meanwhile
                return exit_code(status)
            continue
        try:
            os.kill(target, info.si_signo)
        except ProcessLookupError:
            pass  # the app is exiting; its SIGCHLD is on its way


def run_init(venv: str, command: Sequence[str], environ: Mapping[str, str]) -> int:
    """``pyenvboot exec --init``: like ``exec``, but stay as PID 1; the app's exit code."""
    group = kill_group(environ)
    argv, env = prepare(venv, command, environ)
    return init_app(argv, env, group)


def init_app(argv: List[str], env: Dict[str, str], group: bool) -> int:
    """Start the prepared app and supervise it until it exits; its exit code."""
    mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, BLOCKED)
    try:
        app = spawn(argv, env, mask)
    except BaseException:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        raise
    # Signals stay blocked to the end: one arriving after the app's exit must not
    # change the exit code.
    return supervise(app, group)
