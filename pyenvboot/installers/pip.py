"""``pyenvboot pip``: pip in the RUN steps of derived builds.

``venv/bin/python -m pip ARGS`` as a build step (:mod:`pyenvboot.installers.step`);
after an install or uninstall the policy covers what pip installed
(:class:`pyenvboot.installers.changes.Installed`).
"""

from __future__ import annotations

from pyenvboot.installers.changes import Installed
from pyenvboot.installers.step import run_in_venv, venv_python

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional, Sequence

    from pyenvboot.installers.step import After

# What ``pip install`` and ``pip uninstall`` write, and where: every file it installs is in the RECORD of the
# distribution's new .dist-info (wheel files, generated scripts, byte code, the dist-info's own files: PEP 376,
# the binary distribution format spec, pip's install_wheel); a VCS editable checkout goes to VENV/src; nothing
# else is written into the venv. These options send files elsewhere, or relocate them.
PIP_ELSEWHERE = ("--target", "--prefix", "--root", "--user")


def sends_elsewhere(args: Sequence[str]) -> bool:
    """Do the options in ``args`` send the files to another tree (``--target`` and the like, up to ``--``)?"""
    for arg in args:
        if arg == "--":
            break
        if any(arg == opt or arg.startswith(opt + "=") for opt in PIP_ELSEWHERE):
            return True
        if arg.startswith("-") and not arg.startswith("--") and "t" in arg[1:]:
            return True  # -t DIR, -qt DIR, -tDIR: --target
    return False


def pip_changes_known(args: Sequence[str]) -> bool:
    """Is ``pip ARGS`` an install or uninstall whose writes :class:`Installed` can list?"""
    return bool(args) and args[0] in ("install", "uninstall") and not sends_elsewhere(args[1:])


def run_pip(
    venv: str,
    args: Sequence[str],
    environ: Mapping[str, str],
    after: Optional[After] = None,
) -> int:
    """Run ``venv/bin/python -m pip ARGS`` under the venv lock; return pip's exit code."""
    python = venv_python(venv)
    tracker = Installed if pip_changes_known(args) else None
    return run_in_venv(venv, [python, "-m", "pip", *args], environ, after, tracker)
