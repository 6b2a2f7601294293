"""Installed distributions, read from their metadata files.

``check``, the pip verification and the repair after a Python upgrade look at a
venv from outside: the venv's python may be another version than the one running
pyenvboot, so its ``importlib.metadata`` is not ours to import. ``*.dist-info``
and ``*.egg-info`` (Debian's ``dist-packages`` is full of those) are plain files
read with the standard library.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from email.parser import HeaderParser
from typing import List, Optional

# A compiled extension module tied to one CPython version: foo.cpython-311-x86_64-linux-gnu.so
CPYTHON_EXTENSION = re.compile(r"\.cpython-(\d)(\d+)[^/]*\.so$")


@dataclass
class Distribution:
    """One installed distribution: what its metadata says and where it lies."""

    name: str
    version: str
    path: str  # the .dist-info / .egg-info directory (or file)
    location: str  # the directory on sys.path that holds it
    requires: List[str] = field(default_factory=list)  # PEP 508 strings, markers included
    extras: List[str] = field(default_factory=list)  # Provides-Extra
    tags: List[str] = field(default_factory=list)  # WHEEL Tag lines, e.g. cp311-cp311-manylinux_2_17_x86_64
    files_read: Optional[List[str]] = field(default=None, repr=False)  # see files

    @property
    def files(self) -> List[str]:
        """RECORD entries (an egg-info's installed-files.txt), relative to location.

        Read on first use: a big distribution's RECORD has thousands of rows, and
        most callers (the check after ``pyenvboot pip install``) never need them.
        """
        if self.files_read is None:
            self.files_read = _installed_files(self.path)
        return self.files_read

    def __str__(self) -> str:
        return "%s %s" % (self.name, self.version)


def _read_text(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _requires_txt(text: str) -> List[str]:
    """setuptools' ``requires.txt`` (``[extra:marker]`` sections) as PEP 508 strings."""
    out: List[str] = []
    extra, marker = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            extra, marker = extra.strip(), marker.strip()
            continue
        conditions = []
        if marker:
            conditions.append("(%s)" % marker)
        if extra:
            conditions.append('extra == "%s"' % extra)
        out.append(line + ("; " + " and ".join(conditions) if conditions else ""))
    return out


def _name_from_dir(basename: str) -> str:
    return basename.rsplit(".", 1)[0].split("-")[0]


def read_distribution(path: str) -> Optional[Distribution]:
    """The distribution whose metadata is at ``path`` (a .dist-info or .egg-info), or None."""
    location = os.path.dirname(path)
    basename = os.path.basename(path)
    egg = basename.endswith(".egg-info")
    if os.path.isdir(path):
        text = _read_text(os.path.join(path, "PKG-INFO" if egg else "METADATA"))
    elif egg:  # distutils wrote PKG-INFO as a single file
        text = _read_text(path)
    else:
        return None
    if text is None:
        return None
    msg = HeaderParser().parsestr(text)
    name = (msg.get("Name") or _name_from_dir(basename)).strip()
    version = (msg.get("Version") or "").strip()
    dist = Distribution(name=name, version=version, path=path, location=location)
    dist.requires = [r.strip() for r in msg.get_all("Requires-Dist") or []]
    dist.extras = [e.strip() for e in msg.get_all("Provides-Extra") or []]
    if egg and os.path.isdir(path):
        requires = _read_text(os.path.join(path, "requires.txt"))
        if requires and not dist.requires:
            dist.requires = _requires_txt(requires)
    elif not egg:
        wheel = _read_text(os.path.join(path, "WHEEL")) or ""
        dist.tags = [t.strip() for t in HeaderParser().parsestr(wheel).get_all("Tag") or []]
    return dist


def _installed_files(path: str) -> List[str]:
    """The files a .dist-info's RECORD or an .egg-info directory's installed-files.txt lists."""
    basename = os.path.basename(path)
    if basename.endswith(".egg-info"):
        if not os.path.isdir(path):
            return []
        listed = _read_text(os.path.join(path, "installed-files.txt")) or ""
        return [os.path.normpath(os.path.join(basename, line.strip())) for line in listed.splitlines() if line.strip()]
    record = _read_text(os.path.join(path, "RECORD")) or ""
    return [row[0] for row in csv.reader(record.splitlines()) if row and row[0]]


def read_distributions(directory: str) -> List[Distribution]:
    """Every distribution installed directly in ``directory`` (a site-packages), sorted by name."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        if name.endswith((".dist-info", ".egg-info")):
            dist = read_distribution(os.path.join(directory, name))
            if dist is not None:
                found.append(dist)
    return found


def abi_bound(dist: Distribution, minor: int) -> Optional[str]:
    """Why ``dist`` cannot run on CPython 3.``minor``, or None when it can (pure Python, abi3).

    Judged from the wheel tags and the extension modules RECORD lists, the same
    evidence pip uses: an ABI tag other than ``none``/``abi3`` pins one CPython.
    """
    for tag in dist.tags:
        parts = tag.split("-")
        if len(parts) != 3:
            continue
        python, abi, _ = parts
        if abi == "abi3":
            m = re.match(r"cp3(\d+)$", python)
            if m and int(m.group(1)) > minor:
                return "needs CPython >= 3.%s (%s)" % (m.group(1), tag)
        elif abi != "none":
            return "built for %s" % tag
    for name in dist.files:
        m = CPYTHON_EXTENSION.search(name)
        if m and (m.group(1), m.group(2)) != ("3", str(minor)):
            return "has the compiled module %s" % os.path.basename(name)
    return None
