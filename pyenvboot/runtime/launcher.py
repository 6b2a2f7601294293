"""A copy of pyenvboot inside the venv, byte-compiled for the venv's interpreter.

The zipapp cannot carry byte code for every Python version, so every start would
compile pyenvboot from source. ``init`` therefore copies the package (and the
vendored ``packaging``, when present) into ``VENV/share/pyenvboot/lib``, has the
base interpreter compile it, and writes ``VENV/bin/pyenvboot``, which runs it with
``-I -S``. With the venv first on PATH, the ENTRYPOINT ``pyenvboot exec`` finds
that launcher: no site import, no compile, no zip.

The launcher comes in two forms. The ``sh`` form does the common ``exec`` in sh
(one Python start fewer on every container start) and needs ``/bin/sh``. The
``python`` form names the venv's own python on its ``#!`` line, so it runs in an
image without any shell (distroless). A file's ``#!`` names one interpreter and
the kernel has no fallback (binfmt_script: a missing interpreter is ENOENT, which
the container runtime reports as "no such file or directory"), so the form is
chosen where the venv is built: ``--launcher auto`` takes sh when there is a
``/bin/sh``; a multi-stage build whose final stage has none asks for ``python``.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile

from pyenvboot.runtime.contract import SH_COMMAND_SEARCH, SH_CONTAINER, SH_FIRST_START, sh_indent
from pyenvboot.runtime.environment import hook_path, sh_quote
from pyenvboot.runtime.execute import SHELLS

LIB_RELPATH = "share/pyenvboot/lib"
PACKAGES = ("pyenvboot", "packaging")
LAUNCHER_FORMS = ("auto", "sh", "python")
# Linux reads at most BINPRM_BUF_SIZE bytes of a #! line: 128 before Linux 5.1, 256 since; longer lines are
# cut (fs/binfmt_script.c). The interpreter path ends at the first blank, so it can have none.
SHEBANG_MAX = 127
PYTHON_FLAGS = "-IS"


def running_archive() -> str | None:
    """The zip archive (the zipapp) pyenvboot is imported from; None when it runs from a directory."""
    spec = sys.modules["pyenvboot"].__spec__
    archive = getattr(spec.loader, "archive", None) if spec else None
    return archive if isinstance(archive, str) else None


def _source() -> tuple[str | None, str]:
    """(zip archive or None, directory that holds the packages)."""
    archive = running_archive()
    if archive:
        return archive, ""
    package = os.path.dirname(sys.modules["pyenvboot"].__file__ or "")
    here = os.path.dirname(os.path.abspath(package))
    return None, here


def copy_runtime(lib_dir: str) -> None:
    """Copy the pyenvboot package (and packaging, when vendored next to it) into ``lib_dir``."""
    archive, directory = _source()
    for name in PACKAGES:
        shutil.rmtree(os.path.join(lib_dir, name), ignore_errors=True)
    os.makedirs(lib_dir, exist_ok=True)
    if archive:
        with zipfile.ZipFile(archive) as zf:
            members = [
                m for m in zf.namelist() if m.split("/")[0] in PACKAGES or m.split("/")[0].startswith("packaging-")
            ]
            zf.extractall(lib_dir, members)
        return
    shutil.copytree(
        os.path.join(directory, "pyenvboot"),
        os.path.join(lib_dir, "pyenvboot"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    try:
        import packaging
    except ImportError:
        return
    if packaging.__file__:
        shutil.copytree(
            os.path.dirname(packaging.__file__),
            os.path.join(lib_dir, "packaging"),
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )


# VENV/bin/pyenvboot, the sh form; see launcher_text.
LAUNCHER_SH = """\
#!/bin/sh
# pyenvboot for {venv}, written by 'pyenvboot init'.
# This venv is the default for every command run through it.
_pyenvboot_venv={q_venv}
if [ -z "${{PYENVBOOT_VENV-}}" ]; then PYENVBOOT_VENV=$_pyenvboot_venv; export PYENVBOOT_VENV; fi
if [ "${{1-}}" = exec ] && [ "$PYENVBOOT_VENV" = "$_pyenvboot_venv" ]; then
  case ${{2-}} in
    --) _pyenvboot_skip=2 ;;
    -*|'') _pyenvboot_skip= ;;
    *) _pyenvboot_skip=1 ;;
  esac
  if [ -n "$_pyenvboot_skip" ] && [ "$#" -gt "$_pyenvboot_skip" ]; then
    _pyenvboot_fast=1
{container}    _pyenvboot_m=
    if [ -n "$_pyenvboot_ctr" ]; then _pyenvboot_m="${{TMPDIR:-/tmp}}/pyenvboot-started-$_pyenvboot_ctr"; fi
{first_start}    . {hook}
    unset -f _pyenvboot_first_start
    shift "$_pyenvboot_skip"
    if [ -n "$_pyenvboot_fast" ]; then
      _pyenvboot_fast=
{search}    fi
    if [ -n "$_pyenvboot_fast" ] && [ "$$" = 1 ] && [ "$#" -ge 3 ]; then
      case ${{1##*/}} in
        {shells})
          case $2 in
            -c*|-[!-]*c*) case $3 in exec|exec[[:space:]]*) ;; *) _pyenvboot_fast= ;; esac ;;
          esac ;;
      esac
    fi
    if [ -n "$_pyenvboot_fast" ]; then
      # The container is started: the marker of pyenvboot.runtime.state.started_marker, made as it makes it.
      if [ -n "$_pyenvboot_m" ] && [ ! -e "$_pyenvboot_m" ]; then true 2>/dev/null >> "$_pyenvboot_m"; fi
      unset _pyenvboot_venv _pyenvboot_skip _pyenvboot_fast _pyenvboot_ifs _pyenvboot_d _pyenvboot_m _pyenvboot_ctr
      exec "$@"
    fi
    set -- exec -- "$@"
  fi
fi
if [ ! -x {python} ]; then
  # A venv copied into an image stage without its base Python (pyvenv.cfg's home):
  # say so in one line instead of the shell's "not found".
  printf 'error: %s does not exist: %s was made for a base Python this image lacks (COPY of the venv into a %s\n' \
    "$(readlink {python} || echo {python})" "$_pyenvboot_venv" \
    "stage not built FROM the image that made it?); build that stage FROM that image, or install that Python" >&2
  exit 3
fi
exec {python} -IS -c {code} "$@"
"""


def launcher_text(venv: str) -> str:
    """``VENV/bin/pyenvboot``: sh, doing the common ``exec`` itself, else the byte-compiled copy.

    A second Python start would double the cost of every container start,
    so ``pyenvboot exec [--] CMD...`` for this venv is done in sh when it can only
    succeed: the hook (which activates the venv) found the identity without Python,
    and CMD is an executable file. Everything else, and every case that could fail,
    runs the Python implementation, which defines the behaviour and the messages.
    As PID 1, a shell given a command string goes to Python too, which stays as its
    init: the ``case`` after ``[ "$$" = 1 ]`` in :data:`LAUNCHER_SH` is
    :func:`pyenvboot.runtime.execute.shell_would_be_pid1`
    (``[[:space:]]`` is its BLANKS). The command search is
    :data:`pyenvboot.runtime.contract.SH_COMMAND_SEARCH`; a nameless UID's first start,
    :data:`pyenvboot.runtime.contract.SH_FIRST_START`, which the hook calls.
    """
    q = sh_quote
    code = "import sys; sys.path.insert(0, %r); from pyenvboot.cli import main; sys.exit(main())" % os.path.join(
        venv, LIB_RELPATH
    )
    return LAUNCHER_SH.format(
        venv=venv,
        q_venv=q(venv),
        hook=q(hook_path(venv)),
        search=sh_indent(SH_COMMAND_SEARCH, 6),
        container=sh_indent(SH_CONTAINER, 4),
        first_start=sh_indent(SH_FIRST_START, 4),
        shells="|".join(sorted(SHELLS)),
        python=q(os.path.join(venv, "bin", "python")),
        code=q(code),
    )


def python_launcher_text(venv: str) -> str:
    """``VENV/bin/pyenvboot`` for an image without /bin/sh: Python from the first byte, the venv's own python.

    The same program as the sh form's Python path (``python -IS``, pyenvboot's
    byte-compiled copy), so both forms behave alike; it costs one interpreter start.
    """
    lib = os.path.join(venv, LIB_RELPATH)
    return f"""\
#!{os.path.join(venv, "bin", "python")} {PYTHON_FLAGS}
# pyenvboot for {venv}, written by 'pyenvboot init --launcher python': it needs no /bin/sh.
# This venv is the default for every command run through it.
import os
import sys

if not os.environ.get("PYENVBOOT_VENV"):
    os.environ["PYENVBOOT_VENV"] = {venv!r}
sys.path.insert(0, {lib!r})
from pyenvboot.cli import main

sys.exit(main())
"""


def choose_form(requested: str, shell: str = "/bin/sh") -> str:
    """``auto``: the sh form where ``shell`` can run, else the python form."""
    if requested != "auto":
        return requested
    return "sh" if os.access(shell, os.X_OK) else "python"


def shebang_problem(venv: str) -> str | None:
    """Why the python form's ``#!`` line cannot name this venv's python, or None."""
    line = "#!%s %s" % (os.path.join(venv, "bin", "python"), PYTHON_FLAGS)
    if any(c.isspace() for c in venv):
        return "the venv path %r has a blank, which ends the interpreter on a #! line" % venv
    if len(line.encode()) > SHEBANG_MAX:
        return "the #! line for %s would be %d bytes; Linux reads %d" % (venv, len(line.encode()), SHEBANG_MAX)
    return None


def interpreter_of(path: str) -> str | None:
    """The interpreter a script's ``#!`` line names, or None (no ``#!``, unreadable)."""
    try:
        with open(path, "rb") as f:
            first = f.readline(SHEBANG_MAX + 2)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].split(None, 1)
    return os.fsdecode(words[0]) if words else None


def write_launcher(bin_dir: str, venv: str, form: str = "sh") -> None:
    from pyenvboot.venv.files import write_atomic

    text = python_launcher_text(venv) if form == "python" else launcher_text(venv)
    write_atomic(os.path.join(bin_dir, "pyenvboot"), text, executable=True)
