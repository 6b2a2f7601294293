"""A build step: an installer run for a venv under its lock at umask 002, then the permission policy.

``pyenvboot pip`` and ``pyenvboot run`` both come here. The installer runs with the
build step's environment (:mod:`pyenvboot.installers.environment`); afterwards the
policy is applied to what it changed when a tracker (:mod:`pyenvboot.installers.changes`)
can tell, else to the whole venv. The exit code is the installer's.
"""

from __future__ import annotations

import os
import subprocess
from typing import Callable, Mapping, Optional, Sequence

from pyenvboot.errors import VenvError
from pyenvboot.installers.changes import Scope, Tracker
from pyenvboot.installers.environment import Scratch, build_environment
from pyenvboot.installers.leftovers import remove_pip_leftovers
from pyenvboot.permissions.policy import Report, fix_dirs, fix_tree
from pyenvboot.runtime.execute import UMASK, check_argv, check_venv, exec_error, sh_script
from pyenvboot.venv.lock import locked


def call(argv: Sequence[str], env: Mapping[str, str], pass_fds: Sequence[int] = ()) -> int:
    """Run ``argv`` and return its exit code; 127 and 126 as ``exec`` and the shell give them."""
    check_argv(argv)
    try:
        return subprocess.call(list(argv), env=dict(env), pass_fds=tuple(pass_fds))
    except OSError as exc:
        script = sh_script(argv, env, exc)
        if script is None:
            raise exec_error(argv[0], env, exc) from None
        return subprocess.call(["/bin/sh", script, *argv[1:]], env=dict(env), pass_fds=tuple(pass_fds))


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
            part = fix_tree(tree, gid, only_owned=only_owned)
            report.scanned += part.scanned
            report.changed += part.changed
            report.skipped += part.skipped
            report.special += part.special
    return report


def run_in_venv(
    venv: str,
    argv: Sequence[str],
    environ: Mapping[str, str],
    after: Optional[Callable[[int], int]] = None,
    tracker: Optional[Callable[[str], Tracker]] = None,
) -> int:
    """Run ``argv`` for ``venv`` in a build step: locked, umask 002, then the policy on the venv.

    ``after`` runs under the same lock with the exit code and returns the final one
    (install-time verification hooks in here). ``tracker``: made before the command,
    it scopes the policy after a successful one to what the command changed; without
    one, or when the command failed, the whole venv is walked.
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
                code = call(argv, env, pass_fds=(lock,))
            finally:
                # A failed or interrupted installer may have rolled back or left half an install: walk it all.
                apply_policy(venv, gid, changes.scope() if changes is not None and code == 0 else None)
            if after is not None:
                code = after(code)
    finally:
        scratch.remove()
    return code
