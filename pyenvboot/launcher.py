"""A copy of pyenvboot inside the venv, byte-compiled for the venv's interpreter (issue 5).

The zipapp cannot carry byte code for every Python version, so every start would
compile pyenvboot from source. ``init`` therefore copies the package (and the
vendored ``packaging``, when present) into ``VENV/share/pyenvboot/lib``, has the
base interpreter compile it, and writes ``VENV/bin/pyenvboot``, which runs it with
``-I -S``. With the venv first on PATH, the ENTRYPOINT ``pyenvboot exec`` finds
that launcher: no site import, no compile, no zip.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile

from pyenvboot.wheel import shebang

LIB_RELPATH = "share/pyenvboot/lib"
PACKAGES = ("pyenvboot", "packaging")


def _source() -> tuple[str | None, str]:
    """(zip archive or None, directory that holds the packages)."""
    spec = sys.modules["pyenvboot"].__spec__
    archive = getattr(spec.loader, "archive", None) if spec else None
    if archive:
        return archive, ""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
                m
                for m in zf.namelist()
                if m.split("/")[0] in PACKAGES or m.split("/")[0].startswith("packaging-")
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


def launcher_text(venv: str) -> str:
    """``VENV/bin/pyenvboot``: the venv's python, isolated and without site, on the copy."""
    lib = os.path.join(venv, LIB_RELPATH)
    return (
        shebang(os.path.join(venv, "bin", "python"), "-IS")
        + "import sys\n"
        + "sys.path.insert(0, %r)\n" % lib
        + "from pyenvboot.cli import main\n"
        + "sys.exit(main())\n"
    )


def write_launcher(bin_dir: str, venv: str) -> None:
    path = os.path.join(bin_dir, "pyenvboot")
    tmp = path + ".pyenvboot-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o777)  # executable, less the umask
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(launcher_text(venv))
    os.replace(tmp, path)
