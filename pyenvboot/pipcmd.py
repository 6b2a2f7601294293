"""``pyenvboot pip``: pip for the RUN steps of derived builds (issue 2, point 6).

umask 002 and the venv lock around a real pip, no pip cache left in the image
layer, then the permission policy on what pip added. The exit code is pip's.
"""

from __future__ import annotations

import os
import subprocess
from typing import Callable, List, Mapping, Optional, Sequence

from pyenvboot.errors import VenvError
from pyenvboot.execute import UMASK, check_venv, runtime_environment
from pyenvboot.lock import locked
from pyenvboot.permissions import fix_tree

CACHE_VARS = ("PIP_NO_CACHE_DIR", "PIP_CACHE_DIR", "PYENVBOOT_PIP_CACHE")


def pip_environment(environ: Mapping[str, str], venv: str) -> dict[str, str]:
    """The runtime environment, plus no pip cache unless the user configured one."""
    env = runtime_environment(environ, venv)
    if not any(environ.get(var) for var in CACHE_VARS):
        env["PIP_NO_CACHE_DIR"] = "1"
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return env


def run_pip(
    venv: str,
    args: Sequence[str],
    environ: Mapping[str, str],
    after: Optional[Callable[[int], int]] = None,
) -> int:
    """Run ``venv/bin/python -m pip ARGS`` under the venv lock; return pip's exit code.

    ``after`` runs under the same lock with pip's exit code and returns the final one
    (install-time verification hooks in here).
    """
    check_venv(venv)
    python = venv + "/bin/python"
    if not os.path.exists(python):
        raise VenvError("%s does not run (dangling or missing); run 'pyenvboot init --venv %s'" % (python, venv))
    env = pip_environment(environ, venv)
    os.umask(UMASK)
    gid = os.stat(venv).st_gid
    argv: List[str] = [python, "-m", "pip"] + list(args)
    with locked(venv, "pip"):
        try:
            code = subprocess.call(argv, env=env)
        finally:
            # Root fixes everything; another UID can only fix what it owns.
            fix_tree(os.path.realpath(venv), gid, only_owned=os.geteuid() != 0)
        if after is not None:
            code = after(code)
    return code
