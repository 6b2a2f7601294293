"""Unpack a pure-Python wheel into a venv without running pip.

Only for seeding pip itself, without running pip: the wheel
is pip's own, pure Python, with console scripts and no ``.data`` directory.
The scripts are added to RECORD so that pip can later upgrade or remove itself.
"""

from __future__ import annotations

import configparser
import functools
import io
import os
import zipfile
from typing import Dict, List, Mapping

from pyenvboot.errors import CreateError
from pyenvboot.venv.files import write_atomic


def _safe_member(name: str) -> bool:
    parts = name.split("/")
    return not name.startswith("/") and ".." not in parts and "\\" not in name


def shebang(python: str, options: str = "") -> str:
    """A script's first line(s); a ``/bin/sh`` trampoline when the path is too long or has spaces.

    Linux before 5.1 cuts ``#!`` lines at 127 bytes (BINPRM_BUF_SIZE was 128, now 256),
    and pip's script maker (distlib) keeps to that limit too. ``options`` is one word
    of interpreter flags, e.g. ``-IS``.
    """
    line = python + (" " + options if options else "")
    if len(line.encode()) + 2 <= 127 and " " not in python:
        return "#!%s\n" % line
    quoted = "'" + python.replace("'", "'\\''") + "'"
    flags = options + " " if options else ""
    return "#!/bin/sh\n'''exec' %s %s\"$0\" \"$@\"\n' '''\n" % (quoted, flags)


def script_text(python: str, module: str, func: str) -> str:
    return (
        shebang(python)
        + "import sys\n"
        + "from %s import %s\n" % (module, func.split(".")[0])
        + "if __name__ == '__main__':\n"
        + "    if sys.argv[0].endswith('-script.pyw'):\n"
        + "        sys.argv[0] = sys.argv[0][:-11]\n"
        + "    sys.exit(%s())\n" % func
    )


def write_console_scripts(
    scripts: Mapping[str, str], script_names: Dict[str, List[str]], bin_dir: str, python: str
) -> List[str]:
    """Write the console scripts named in ``script_names`` for ``scripts`` (entry point -> "module:func").

    Each file is replaced atomically (executable, less the umask), so a killed
    run never leaves half a script. Returns the paths written.
    """
    written: List[str] = []
    for entry, files in script_names.items():
        if entry not in scripts:
            continue
        module, _, func = scripts[entry].partition(":")
        text = script_text(python, module.strip(), func.strip())
        for filename in files:
            path = os.path.join(bin_dir, filename)
            write_atomic(path, text, executable=True)
            written.append(path)
    return written


def console_scripts(entry_points: str) -> Dict[str, str]:
    """The ``[console_scripts]`` section of an ``entry_points.txt``: script name -> ``module:func``."""
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(entry_points)
    return dict(parser["console_scripts"]) if parser.has_section("console_scripts") else {}


def open_wheel(path: str) -> zipfile.ZipFile:
    """A wheel file, or a wheel stored inside a zip archive (``ARCHIVE/MEMBER``, as zipimport names paths).

    A wheel inside the zipapp is read into memory whole (pip's is 2 MB): one read, then
    random access without inflating anything twice, since the zipapp stores wheels uncompressed.
    Raises OSError, zipfile.BadZipFile or KeyError.
    """
    if os.path.isfile(path):
        return zipfile.ZipFile(path)
    archive = path
    while not os.path.isfile(archive):
        parent = os.path.dirname(archive)
        if parent == archive:
            raise FileNotFoundError(2, "no such file", path)
        archive = parent
    return zipfile.ZipFile(io.BytesIO(_member(archive, os.path.relpath(path, archive))))


@functools.lru_cache(maxsize=1)
def _member(archive: str, name: str) -> bytes:
    """One member of a zip archive; kept, since ``init`` reads the chosen pip wheel's metadata, then the wheel."""
    with zipfile.ZipFile(archive) as outer:
        return outer.read(name)


def install_wheel(wheel: str, purelib: str, bin_dir: str, python: str, script_names: Dict[str, List[str]]) -> None:
    """Extract ``wheel`` into ``purelib``; write the console scripts named in ``script_names``.

    ``script_names`` maps an entry point to the file names to write for it (pip's
    ``pip`` entry point becomes ``pip``, ``pip3`` and ``pip3.X``).
    """
    try:
        zf = open_wheel(wheel)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise CreateError("cannot read wheel %s: %s" % (wheel, exc)) from None
    with zf:
        names = zf.namelist()
        if not all(_safe_member(n) for n in names):
            raise CreateError("refusing wheel %s: it has paths outside its root" % wheel)
        dist_info = sorted({n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")})
        if len(dist_info) != 1:
            raise CreateError("%s is not a wheel (no single .dist-info directory)" % wheel)
        # pip's wheel is ~500 files: one mkdir per directory and bare os.open/os.write
        # halve the unpack time against makedirs+open per member.
        made = set()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        for name in names:
            if name.endswith("/"):
                continue
            dest = os.path.join(purelib, name)
            directory = os.path.dirname(dest)
            if directory not in made:
                os.makedirs(directory, exist_ok=True)
                made.add(directory)
            data = memoryview(zf.read(name))
            fd = os.open(dest, flags, 0o666)
            try:
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
        try:
            entry_points = zf.read(dist_info[0] + "/entry_points.txt").decode()
        except KeyError:
            entry_points = ""
    written = write_console_scripts(console_scripts(entry_points), script_names, bin_dir, python)
    record_lines = ["%s,," % os.path.relpath(path, purelib) for path in written]
    record = os.path.join(purelib, dist_info[0], "RECORD")
    buf = io.StringIO()
    buf.write("".join(line + "\n" for line in record_lines))
    buf.write("%s/INSTALLER,,\n" % dist_info[0])
    with open(record, "a", encoding="utf-8") as f:
        f.write(buf.getvalue())
    with open(os.path.join(purelib, dist_info[0], "INSTALLER"), "w", encoding="utf-8") as f:
        f.write("pyenvboot\n")
