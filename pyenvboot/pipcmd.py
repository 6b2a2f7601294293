"""``pyenvboot pip``: pip for the RUN steps of derived builds.

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
    """The runtime environment, writing no identity files, and no pip cache unless configured."""
    env = runtime_environment(environ, venv, persist=False)
    if not any(environ.get(var) for var in CACHE_VARS):
        env["PIP_NO_CACHE_DIR"] = "1"
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return env


# pip writes dist-info files through "<name><8 random characters>.tmp" and renames them.
PIP_TEMP_FILES = ("INSTALLER", "RECORD", "REQUESTED", "direct_url.json", "METADATA", "WHEEL")


def pip_leftover(name: str) -> bool:
    """One of pip's temporary dist-info files (``RECORDk3j2h1g0.tmp``)?"""
    return name.endswith(".tmp") and any(
        name.startswith(base) and len(name) == len(base) + 12 for base in PIP_TEMP_FILES
    )


def remove_pip_leftovers(venv: str) -> None:
    """Remove what a killed pip left in site-packages.

    pip first moves a distribution it replaces to ``~<name>``, unpacks the wheel, then
    writes its own dist-info files (RECORD last) through temporary files. Killed in
    between, the ``~`` copies, the temporary files and dist-info directories without
    METADATA stay: every later pip warns "Ignoring invalid distribution" or "Skipping
    ... invalid metadata", and never removes them. A dist-info cut short before its
    RECORD and INSTALLER counts as installed, and pip can never uninstall or upgrade
    it. Under the venv lock no pip is running, so all of it is stale.
    """
    import glob
    import sys

    from pyenvboot.seed import remove_path

    for site in glob.glob(glob.escape(venv) + "/lib/python*/site-packages"):
        for name in sorted(os.listdir(site)):
            path = os.path.join(site, name)
            if name.startswith("~"):
                doomed = [path]
            elif name.endswith(".dist-info") and os.path.isdir(path) and not os.path.islink(path):
                if not os.path.exists(os.path.join(path, "METADATA")):
                    doomed = [path]  # no distribution without METADATA: pip ignores it, and never removes it
                elif not any(os.path.exists(os.path.join(path, n)) for n in ("RECORD", "INSTALLER")):
                    # Killed while unpacking the wheel, before its RECORD: pip counts it as installed,
                    # then cannot uninstall or upgrade it ("RECORD file not found", pypa/pip#12645).
                    doomed = [path]
                else:
                    doomed = [os.path.join(path, n) for n in os.listdir(path) if pip_leftover(n)]
            else:
                continue
            for leftover in doomed:
                print("pyenvboot: removing %s, left by an interrupted pip" % leftover, file=sys.stderr)
                remove_path(leftover)
            if doomed and name.endswith(".dist-info") and os.path.isdir(path):
                try:
                    os.rmdir(path)  # only when nothing but pip's temporary files was in it
                except OSError:
                    pass


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
    with locked(venv, "pip") as lock:
        remove_pip_leftovers(venv)
        try:
            # pip shares the lock, so a pip that outlives a killed pyenvboot still holds it.
            code = subprocess.call(argv, env=env, pass_fds=(lock,))
        finally:
            # Root fixes everything; another UID can only fix what it owns.
            fix_tree(os.path.realpath(venv), gid, only_owned=os.geteuid() != 0)
        if after is not None:
            code = after(code)
    return code
