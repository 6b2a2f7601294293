"""A build step: an installer run for a venv under its lock at umask 002, then the permission policy.

``pyenvboot pip`` and ``pyenvboot run`` both come here. The installer runs with the
build step's environment (:mod:`pyenvboot.installers.environment`); afterwards the
policy is applied to what it changed when a tracker (:mod:`pyenvboot.installers.changes`)
can tell, else to the whole venv. The exit code is the installer's.
"""

from __future__ import annotations

import os

from pyenvboot.errors import VenvError
from pyenvboot.installers.environment import Scratch, build_environment
from pyenvboot.installers.leftovers import remove_pip_leftovers
from pyenvboot.permissions.policy import Report, fix_dirs, fix_tree
from pyenvboot.runtime.contract import search_order
from pyenvboot.runtime.environment import check_venv
from pyenvboot.runtime.execute import UMASK, check_argv, exec_error, sh_script
from pyenvboot.venv.lock import locked

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from typing import Callable, Mapping, Optional, Sequence

    from pyenvboot.installers.changes import Scope, Tracker
else:
    import _signal  # the C module: signal imports enum


def spawn(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Start ``argv`` with ``env`` (``posix_spawn``), searching ``env``'s PATH as ``execvpe(3)`` does; its pid.

    Not ``subprocess``: importing it (with ``locale``, ``re``, ``enum``, ``threading``,
    ``selectors``) is a third of what ``pyenvboot pip`` and ``run`` cost before the
    installer starts. The child gets SIGPIPE and SIGXFSZ back at their defaults, as
    ``subprocess`` gives them (CPython ignores both).
    """
    denied: Optional[OSError] = None
    for candidate in search_order(argv[0], env.get("PATH", "")):
        try:
            return os.posix_spawn(candidate, list(argv), dict(env), setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ))
        except (FileNotFoundError, NotADirectoryError) as exc:
            missing = exc
        except PermissionError as exc:
            denied = exc  # execvpe goes on, and reports EACCES if nothing else runs
    raise denied or missing


def wait(pid: int, meanwhile: Optional[Callable[[], None]] = None) -> int:
    """``pid``'s exit code, or minus the signal that killed it (``subprocess``'s convention).

    ``meanwhile`` runs first, while ``pid`` does.
    """
    try:
        if meanwhile is not None:
            meanwhile()
        _, status = os.waitpid(pid, 0)
    except BaseException:  # KeyboardInterrupt: as subprocess.call, kill the child before leaving
        os.kill(pid, _signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def call(
    argv: Sequence[str],
    env: Mapping[str, str],
    pass_fds: Sequence[int] = (),
    meanwhile: Optional[Callable[[], None]] = None,
) -> int:
    """Run ``argv`` and return its exit code; 127 and 126 as ``exec`` and the shell give them.

    ``pass_fds`` are inherited by the command (every other descriptor of ours is close-on-exec).
    ``meanwhile`` runs while the command does.
    """
    check_argv(argv)
    for fd in pass_fds:
        os.set_inheritable(fd, True)
    try:
        try:
            pid = spawn(argv, env)
        except OSError as exc:
            script = sh_script(argv, env, exc)
            if script is None:
                raise exec_error(argv[0], env, exc) from None
            pid = spawn(["/bin/sh", script, *argv[1:]], env)
    finally:
        for fd in pass_fds:
            os.set_inheritable(fd, False)
    return wait(pid, meanwhile)


class After:
    """Work a build step does under its lock besides the installer: verification, for one.

    ``start`` runs as soon as the installer has started, so that work which does not
    depend on its result (imports, a probe of the interpreter) overlaps it; ``finish``
    runs once it has ended and returns the step's exit code.
    """

    def start(self) -> None:
        """While the installer runs. It must not raise: it would kill the installer."""

    def finish(self, code: int) -> int:
        return code


def venv_python(venv: str) -> str:
    check_venv(venv)
    python = venv + "/bin/python"
    if not os.path.exists(python):
        raise VenvError("%s does not run (dangling or missing); run 'pyenvboot init --venv %s'" % (python, venv))
    return python


def apply_policy(venv: str, gid: int, scope: Optional[Scope]) -> Report:
    """The policy on the venv: on ``scope`` (its directories' entries and its trees), or on all of it when None.

    Root fixes everything; another UID can only fix what it owns.
    """
    only_owned = os.geteuid() != 0
    root = os.path.realpath(venv)
    if scope is None:
        return fix_tree(root, gid, only_owned=only_owned)
    report = fix_dirs(root, scope.dirs, gid, only_owned=only_owned)
    for tree in sorted(scope.trees):
        if any(tree.startswith(other + "/") for other in scope.trees):
            continue  # inside another tree of the scope
        if os.path.isdir(tree) and not os.path.islink(tree):
            report.add(fix_tree(tree, gid, only_owned=only_owned))
    return report


def run_in_venv(
    venv: str,
    argv: Sequence[str],
    environ: Mapping[str, str],
    after: Optional[After] = None,
    tracker: Optional[Callable[[str], Tracker]] = None,
) -> int:
    """Run ``argv`` for ``venv`` in a build step: locked, umask 002, then the policy on the venv.

    ``after`` runs under the same lock, started with the command and finished with
    its exit code, and returns the final one (install-time verification hooks in
    here). ``tracker``: made before the command, it scopes the policy after a
    successful one to what the command changed; without one, or when the command
    failed, the whole venv is walked.
    """
    scratch = Scratch()
    env = build_environment(environ, venv, scratch)
    os.umask(UMASK)
    gid = os.stat(venv).st_gid
    try:
        with locked(venv, "installing") as lock:
            remove_pip_leftovers(venv)
            changes = tracker(venv) if tracker is not None else None
            code = 1
            try:
                # The command shares the lock, so one that outlives a killed pyenvboot still holds it.
                code = call(argv, env, pass_fds=(lock,), meanwhile=after.start if after is not None else None)
            finally:
                # A failed or interrupted installer may have rolled back or left half an install: walk it all.
                apply_policy(venv, gid, changes.scope() if changes is not None and code == 0 else None)
            if after is not None:
                code = after.finish(code)
    finally:
        scratch.remove()
    return code
