"""The byte-code stage: compile what ``init`` put in the venv, with the base interpreter.

So that no later process (a root ``pip list`` at umask 022 above all) writes a
``__pycache__`` into the venv.
"""

from __future__ import annotations

import os
from typing import List

from pyenvboot.create.interpreter import run_code
from pyenvboot.errors import CreateError
from pyenvboot.runtime.guard import PID1_MODULE
from pyenvboot.runtime.launcher import LIB_RELPATH, PACKAGES

# Run by the target interpreter. argv: final venv, the tree it is built in, then paths
# relative to it, each prefixed "t:" or "u:". Each path is compiled as the final
# venv's, so the code objects name the files where they will live (``ddir``);
# directories with one worker per CPU, because compiling pip's ~500 modules is most
# of init's time. "t:" is the usual timestamp-checked byte code (pip: a pip upgrade
# replaces sources and byte code together). "u:" is PEP 552's unchecked-hash byte
# code, for pyenvboot's runtime copy: only init replaces it (and compiles it again),
# and a COPY into another image stage that does not keep mtimes must not make every
# run of the launcher (``python -I -S``, so without the guard) write byte code at
# the caller's umask. It also spares the launcher a stat per module.
COMPILE = r"""
import compileall, os, py_compile, sys
final, root = sys.argv[1], sys.argv[2]
ok = True
for arg in sys.argv[3:]:
    kind, rel = arg.split(":", 1)
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH if kind == "u" else None
    path, dest = os.path.join(root, rel), os.path.join(final, rel)
    if os.path.isdir(path):
        ok &= bool(compileall.compile_dir(path, maxlevels=100, ddir=dest, quiet=1, workers=0, invalidation_mode=mode))
    elif os.path.isfile(path):
        ok &= bool(compileall.compile_file(path, ddir=os.path.dirname(dest), quiet=1, invalidation_mode=mode))
sys.exit(0 if ok else 1)
"""


def seeded_code(venv: str, purelib: str, with_pip: bool) -> List[str]:
    """What init put in the venv that Python may import, relative to the venv, as COMPILE takes it."""
    site = os.path.relpath(purelib, venv)
    paths = ["u:" + os.path.join(LIB_RELPATH, name) for name in PACKAGES]
    paths.append("t:" + os.path.join(site, PID1_MODULE + ".py"))
    if with_pip:
        paths.append("t:" + os.path.join(site, "pip"))
    return paths


def compile_seeded(python: str, venv: str, root: str, paths: List[str]) -> None:
    """Byte-compile ``paths`` under ``root`` (the staging dir or the venv) in one run of ``python``.

    Up-to-date byte code is left alone, so an update of a compiled venv costs a
    stat per module; a pip that another run upgraded is compiled as it stands.
    """
    problem = run_code(python, COMPILE, [venv, root] + paths)
    if problem:
        raise CreateError(
            "cannot byte-compile what init seeded into %s (%s); free space or fix the files and run init again"
            % (venv, problem)
        )
