"""``pyenvboot run -- CMD``: any installer or build script, as ``pyenvboot pip`` runs pip.

The known installers get the policy on what they changed
(:class:`pyenvboot.installers.changes.Touched`); any other command, which may write
anywhere, has the whole venv walked.
"""

from __future__ import annotations

import os
import re
from typing import Mapping, Sequence

from pyenvboot.installers.changes import Touched
from pyenvboot.installers.pip import PIP_ELSEWHERE, pip_changes_known
from pyenvboot.installers.step import run_in_venv, venv_python

# The installers whose writes into the venv Touched accounts for: wheels through RECORD, uv's byte code and
# its .lock, poetry through the ``installer`` library, pipenv through pip.
SCOPED = ("uv", "poetry", "pipenv")
PIP = re.compile(r"pip(3(\.\d+)?)?")


def scoped(argv: Sequence[str]) -> bool:
    """Can :class:`Touched` tell what ``argv`` changes? A known installer, not sending files elsewhere."""
    name = os.path.basename(argv[0]) if argv else ""
    if PIP.fullmatch(name):
        return pip_changes_known(argv[1:])
    if name not in SCOPED:
        return False
    for arg in argv[1:]:
        if arg == "--":
            break
        if any(arg == opt or arg.startswith(opt + "=") for opt in PIP_ELSEWHERE):
            return False  # uv pip install --target / --prefix: a tree the venv's listings do not show
    return True


def run_command(venv: str, argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """``pyenvboot run``: ``argv`` as a build step for ``venv``; its exit code."""
    venv_python(venv)
    return run_in_venv(venv, argv, environ, tracker=Touched if scoped(argv) else None)
