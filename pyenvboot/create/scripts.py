"""The scripts stage and the launcher stage: what the venv runs, rendered for its final path.

The activate scripts are the base interpreter's own (its ``venv`` module's templates,
which differ between Python versions); the shell hook, the launcher and pyenvboot's
runtime copy are pyenvboot's. In a live venv each is replaced by a rename, so a killed
``init`` leaves the old file or the new one.
"""

from __future__ import annotations

import os
import shutil

from pyenvboot.create.interpreter import Interpreter, run_code
from pyenvboot.errors import CreateError
from pyenvboot.runtime.environment import hook_path
from pyenvboot.runtime.hook import render_hook
from pyenvboot.runtime.launcher import LIB_RELPATH, copy_runtime, write_launcher
from pyenvboot.venv.files import remove_path, scratch_name, write_atomic

# Run by the target interpreter: its venv module renders the stdlib activate scripts
# for the final venv. argv: final venv, bin directory to write to, prompt, base
# executable, purelib. No venv module (a trimmed stdlib): no activate scripts.
ACTIVATE = r"""
import os, sys, types
final, bin_path, prompt, exe, purelib = sys.argv[1:6]
try:
    import venv
except ImportError:
    sys.exit(0)
ctx = types.SimpleNamespace(env_dir=final, env_name=os.path.basename(final),
    prompt=("(%s) " % prompt) if sys.version_info < (3, 12) else prompt,
    bin_name="bin", bin_path=bin_path, env_exe=os.path.join(final, "bin", "python"),
    executable=exe, python_dir=os.path.dirname(exe), python_exe=os.path.basename(exe),
    inc_path=os.path.join(final, "include"), lib_path=purelib,
    cfg_path=os.path.join(final, "pyvenv.cfg"), env_exec_cmd=os.path.join(final, "bin", "python"))
venv.EnvBuilder(prompt=prompt).setup_scripts(ctx)
"""


def write_activate_scripts(python: str, venv: str, root: str, prompt: str, info: Interpreter) -> None:
    """``bin/activate*`` from the base's venv module; in a live venv rendered aside, then renamed over, each."""
    live = root == venv
    scratch = scratch_name(os.path.join(venv, ""), "scripts") if live else root
    bin_dir = os.path.join(scratch, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    try:
        problem = run_code(python, ACTIVATE, [venv, bin_dir, prompt, info.executable, info.purelib])
        if problem:
            raise CreateError(
                "cannot write the activate scripts of %s (%s); free space and run init again" % (venv, problem)
            )
        if live:
            for name in sorted(os.listdir(bin_dir)):
                os.replace(os.path.join(bin_dir, name), os.path.join(venv, "bin", name))
    finally:
        if live:
            shutil.rmtree(scratch, ignore_errors=True)


def write_hook(venv: str, root: str, prompt: str) -> None:
    """The shell hook (BASH_ENV, ENV, PROMPT_COMMAND), in ``root``, for the venv at ``venv``."""
    path = root + hook_path(venv)[len(venv) :]
    write_atomic(path, render_hook(venv, prompt, [os.path.join(venv, "bin", "pyenvboot")]))


def install_runtime(venv: str, root: str) -> None:
    """pyenvboot's own copy for the launcher (the byte-code stage compiles it).

    In a live venv the new copy is made beside the old one and swapped in by
    renames: a killed init leaves the old copy or the new one, not half of one
    (but for the instant between two renames; the next init restores it).
    """
    lib = os.path.join(root, LIB_RELPATH)
    if root != venv or not os.path.isdir(lib):
        copy_runtime(lib)
        return
    inside = os.path.join(lib, "")
    scratch = scratch_name(inside, "new")
    copy_runtime(scratch)
    for name in sorted(os.listdir(scratch)):
        old = scratch_name(inside, "old") + "-" + name
        if os.path.lexists(os.path.join(lib, name)):
            os.rename(os.path.join(lib, name), old)
        os.rename(os.path.join(scratch, name), os.path.join(lib, name))
        remove_path(old)
    remove_path(scratch)


def install_launcher(venv: str, root: str, form: str) -> None:
    """``bin/pyenvboot``, the ENTRYPOINT, in the form chosen (see pyenvboot.runtime.launcher)."""
    write_launcher(os.path.join(root, "bin"), venv, form)
