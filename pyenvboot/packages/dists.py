"""Installed distributions in one directory, read with ``importlib.metadata``.

``check``, the pip verification and the repair after a Python upgrade look at a
venv from outside: the venv's python may be another version than the one running
pyenvboot, but its metadata files are plain files, and
``importlib.metadata.Distribution.at(path)`` of the Python running pyenvboot reads
them: name, version, requirements (a ``.dist-info``'s Requires-Dist, an
``.egg-info``'s requires.txt as PEP 508 strings), extras, the WHEEL file. On 151
real distributions (a venv, Debian's dist-packages with its egg-infos, a pyenv
site-packages) it gives the answers the hand-written reader gave, on 3.8 to 3.13;
the one difference is textual: a requires.txt ``[:marker]`` section comes out as
``dep; marker``, not ``dep; (marker)``.

Still written here, because importlib.metadata does not answer it:

- which metadata directories a site-packages holds, and their paths: repair
  moves a ``.dist-info`` and check names it, and ``distributions(path=[site])``
  gives no public path for a distribution (only ``locate_file``, the site);
- the installed files: ``Distribution.files`` drops RECORD entries missing on
  disk from 3.12 on (a resumed set-aside needs the ones already moved, for the
  directories they leave empty), and before 3.12 reads an ``.egg-info``'s
  SOURCES.txt (the source tree) instead of installed-files.txt;
- whether a distribution is bound to one CPython ABI (:func:`abi_bound`).

Cost, measured side by side (min of 15 runs, 2-core machine under load): reading
151 distributions takes 120-210 ms against 60-80 ms for the old HeaderParser
reader (the full email parser also walks every description), 19 (a typical
app venv) 10-20 ms against 7-17 ms; importing importlib.metadata adds 7 ms (3.11)
to 35 ms (3.13). ``check`` and the verification after ``pyenvboot pip install``
pay it once per run, next to starting the venv's python; the ``exec`` path never
imports this module.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from email.parser import HeaderParser
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from pyenvboot.packages.record import record_paths

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


def directory_name(basename: str) -> str:
    """The distribution name in a metadata directory's name: ``{name}-{version}.dist-info`` (the name
    escaped, PEP 427), setuptools' ``{name}-{version}-pyX.Y.egg-info``, ``{name}.egg-info``."""
    return basename.rsplit(".", 1)[0].split("-")[0]


def read_distribution(path: str) -> Optional[Distribution]:
    """The distribution whose metadata is at ``path`` (a .dist-info or .egg-info), or None."""
    import importlib.metadata

    basename = os.path.basename(path)
    if basename.endswith(".dist-info") and not os.path.isdir(path):
        return None  # only an .egg-info may be a single file (distutils' PKG-INFO)
    meta = importlib.metadata.Distribution.at(path)
    message = meta.metadata
    if not message:  # no METADATA / PKG-INFO: empty (importlib_metadata >= 8: None)
        return None

    def header(key: str) -> str:  # 3.12 warns about [] on a missing key, which is to raise KeyError one day
        return str(message[key]).strip() if key in message else ""

    name = header("Name") or directory_name(basename)
    dist = Distribution(name=name, version=header("Version"), path=path, location=os.path.dirname(path))
    # Requirements as meta.requires gives them, without parsing the metadata a second time for a .dist-info:
    # Requires-Dist lines, else (an .egg-info) setuptools' requires.txt turned into PEP 508 strings.
    requires = message.get_all("Requires-Dist") or (meta.requires if basename.endswith(".egg-info") else None)
    dist.requires = [r.strip() for r in requires or []]
    dist.extras = [e.strip() for e in message.get_all("Provides-Extra") or []]
    if basename.endswith(".dist-info"):
        wheel = meta.read_text("WHEEL") or ""
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
    return record_paths(_read_text(os.path.join(path, "RECORD")) or "")


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


class ByName(Mapping[str, Distribution]):
    """The distributions of ``sites`` by canonical name, each read when first asked for.

    Reading a site-packages whole costs 120-210 ms for 150 distributions (see
    above), while a ``pip install`` asks for a handful. The candidates for a name
    come from the metadata directories' names (``{name}-{version}.dist-info`` with
    the name escaped, PEP 427; setuptools' ``{name}-{version}-pyX.Y.egg-info``),
    in the order a whole read takes them; their metadata decides. A directory named
    unlike its metadata is not found here: a caller that finds something missing or
    unmet reads the sites whole before it says so.
    """

    def __init__(self, sites: Sequence[str], canonical: Callable[[str], str]) -> None:
        self.canonical = canonical
        self.candidates: Dict[str, List[str]] = {}
        self.read: Dict[str, Optional[Distribution]] = {}
        for site in sites:
            try:
                names = sorted(os.listdir(site))
            except OSError:
                continue
            for name in names:
                if name.endswith((".dist-info", ".egg-info")):
                    key = canonical(directory_name(name))
                    self.candidates.setdefault(key, []).append(os.path.join(site, name))

    def __getitem__(self, name: str) -> Distribution:
        if name not in self.read:
            self.read[name] = None
            for path in self.candidates.get(name, []):
                dist = read_distribution(path)
                if dist is not None and self.canonical(dist.name) == name:
                    self.read[name] = dist
                    break
        found = self.read[name]
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([name for name in self.candidates if name in self])

    def __len__(self) -> int:
        return sum(1 for _ in self)


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
