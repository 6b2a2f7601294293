"""What a killed pip leaves in site-packages, cleared before the next build step.

pip installs a wheel in this order (pip/_internal/operations/install/wheel.py):
it moves a distribution it replaces aside to ``~<name>``, unpacks the wheel (the
wheel's own RECORD included), byte-compiles, writes the console scripts, then
INSTALLER, REQUESTED and direct_url.json, and last its own RECORD, which lists all
of it. Each metadata file goes through a temporary ``<name><8 characters>.tmp`` and
a rename; each ``.pyc`` through importlib's ``<file>.pyc.<id>`` and a rename. Under
the venv lock no pip is running, so whatever of this a kill left is stale.
"""

from __future__ import annotations

import os
import sys

from pyenvboot.packages.record import record_paths
from pyenvboot.venv.files import remove_path
from pyenvboot.venv.layout import site_dirs

# Imported before every installer starts: csv, re and typing (~12 ms) only where they are used.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Set, Tuple

# pip writes dist-info files through "<name><8 random characters>.tmp" and renames them.
PIP_TEMP_FILES = ("INSTALLER", "RECORD", "REQUESTED", "direct_url.json", "METADATA", "WHEEL")


def pyc_temp(name: str) -> bool:
    """importlib's temporary byte code, ``<cache file>.<id(path)>`` (``_write_atomic`` in
    Lib/importlib/_bootstrap_external.py), which it renames into place?"""
    head, dot, tail = name.rpartition(".")
    return bool(dot) and head.endswith(".pyc") and tail.isascii() and tail.isdigit()


def pip_stash(name: str) -> bool:
    """A distribution pip moved aside (``~<name>``) while replacing it, to restore it if the install fails?"""
    return name.startswith("~")


def pip_leftover(name: str) -> bool:
    """One of pip's temporary dist-info files (``RECORDk3j2h1g0.tmp``)?"""
    return name.endswith(".tmp") and any(
        name.startswith(base) and len(name) == len(base) + 12 for base in PIP_TEMP_FILES
    )


def remove_pip_leftovers(venv: str) -> None:
    """Clear what a killed pip left in the venv's site-packages.

    Without it, the ``~`` copies, the temporary files and dist-info directories
    without METADATA stay: every later pip warns "Ignoring invalid distribution" or
    "Skipping ... invalid metadata", and never removes them. A dist-info cut short
    before its final RECORD counts as installed, and pip cannot cleanly uninstall or
    upgrade it: see :func:`finish_record`.
    """
    for site in site_dirs(venv):
        for name in sorted(os.listdir(site)):
            path = os.path.join(site, name)
            if pip_stash(name):
                doomed = [path]
            elif name.endswith(".dist-info") and os.path.isdir(path) and not os.path.islink(path):
                doomed = dist_info_leftovers(site, name)
            else:
                continue
            for leftover in doomed:
                print("pyenvboot: removing %s, left by an interrupted pip" % leftover, file=sys.stderr)
                remove_path(leftover)
            if doomed and os.path.isdir(path):
                try:
                    os.rmdir(path)  # only when nothing but pip's temporary files was in it
                except OSError:
                    pass


def dist_info_leftovers(site: str, name: str) -> List[str]:
    """What to remove of the dist-info ``name``: all of it, or the temporary files in and beside it."""
    path = os.path.join(site, name)
    if not os.path.exists(os.path.join(path, "METADATA")):
        return [path]  # no distribution without METADATA: pip ignores it, and never removes it
    if not any(os.path.exists(os.path.join(path, n)) for n in ("RECORD", "INSTALLER")):
        # Killed while unpacking the wheel, before its RECORD: pip counts it as installed,
        # then cannot uninstall or upgrade it ("RECORD file not found", pypa/pip#12645).
        return [path]
    doomed = [os.path.join(path, n) for n in os.listdir(path) if pip_leftover(n)]
    return doomed + finish_record(site, name)


def finish_record(site: str, name: str) -> List[str]:
    """Complete the RECORD of a dist-info whose install was killed before pip wrote its own.

    Until pip renames its RECORD into place, the dist-info holds the wheel's RECORD:
    it lists neither INSTALLER, REQUESTED and direct_url.json nor the byte code. pip
    uninstalls by RECORD, so it then removes the dist-info file by file and leaves
    the unlisted ones in a directory without METADATA, beside the new version
    ("Skipping ... due to invalid metadata entry 'name'"). Once INSTALLER exists every
    file of the distribution is in place, so the rows pip was about to write are
    added (without hashes, as PEP 376 allows). Returns the temporary ``.pyc`` files
    of an interrupted compile beside the files RECORD lists, which nothing else
    removes.
    """
    path = os.path.join(site, name)
    record = os.path.join(path, "RECORD")
    try:
        with open(record, "rb") as f:
            data = f.read()  # bytes: decoding every RECORD before each pip step would double this function's cost
        if ("%s/INSTALLER," % name).encode() in data or ("%s/METADATA," % name).encode() not in data:
            return []  # pip's own RECORD (it lists INSTALLER, written just before it), or no wheel's of this name
        text = data.decode()
    except (OSError, UnicodeDecodeError):
        return []
    try:
        listed = record_paths(text)
    except ValueError:
        return []
    known = set(listed)
    added, temps = byte_code(site, listed, known)
    if not os.path.exists(os.path.join(path, "INSTALLER")):
        return temps  # cut short before the console scripts: not complete, only the temporaries go
    for directory, _, files in os.walk(path):
        for file in sorted(files):
            entry = os.path.relpath(os.path.join(directory, file), site)
            if entry not in known and not pip_leftover(file):
                added.append(entry)
    if added:
        print("pyenvboot: completing %s, left by an interrupted pip" % record, file=sys.stderr)
        with open(record, "a", encoding="utf-8", newline="") as f:
            if text and not text.endswith("\n"):
                f.write("\n")
            import csv

            csv.writer(f, lineterminator="\n").writerows([entry, "", ""] for entry in added)
    return temps


def byte_code(site: str, listed: List[str], known: Set[str]) -> Tuple[List[str], List[str]]:
    """(the ``.pyc`` files beside the modules ``listed`` that ``known`` lacks, importlib's temporaries there)."""
    added: List[str] = []
    temps: List[str] = []
    modules: Dict[str, Set[str]] = {}  # __pycache__ -> the module names RECORD lists beside it
    for entry in listed:
        if entry.endswith(".py"):
            directory, file = os.path.split(entry)
            modules.setdefault(os.path.join(directory, "__pycache__"), set()).add(file[:-3])
    for cache, names in sorted(modules.items()):
        try:
            entries = sorted(os.listdir(os.path.join(site, cache)))
        except OSError:
            continue
        # Only this distribution's modules: a namespace package shares its __pycache__ ("x.cpython-311.pyc").
        for entry in (e for e in entries if e.split(".", 1)[0] in names):
            if pyc_temp(entry):
                temps.append(os.path.join(site, cache, entry))
            elif entry.endswith(".pyc") and cache + "/" + entry not in known:
                added.append(cache + "/" + entry)
    return added, temps
