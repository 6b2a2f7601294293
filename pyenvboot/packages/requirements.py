"""Requirement files and requirement evaluation, with ``packaging``.

Imported only by ``check`` and the pip verification, after
:func:`pyenvboot.packages.withpackaging.import_packaging`; the ``exec`` path never loads it.
Everything here is pure: files in, findings out. Markers are evaluated in the
venv's interpreter's environment (``python_version`` of the venv, not of the
Python running pyenvboot), which the caller supplies.
"""

from __future__ import annotations

import os
import re
import shlex
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pyenvboot.errors import UsageError
from pyenvboot.packages.dists import Distribution
from pyenvboot.packages.pipoptions import FILE_VALUE

ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")


@dataclass
class Pin:
    """A requirement someone asked for, and where: ``requirements.txt:3`` or ``the command line``."""

    requirement: Requirement
    origin: str
    constraint: bool = False


@dataclass
class Unmet:
    """One requirement that the venv does not meet."""

    who: str  # "Jinja2 3.1.2", "Jinja2[i18n] 3.1.2", "requirements.txt:3"
    requirement: str  # without its marker: "MarkupSafe>=2.0"
    found: Optional[str]  # what is installed instead ("MarkupSafe 1.1.1"), None when nothing is
    kind: str = "needs"  # "needs" (a distribution's dependency), "pin", "constraint" or "invalid"

    def message(self) -> str:
        if self.kind == "invalid":
            return "%s has an unreadable requirement %r in its metadata" % (self.who, self.requirement)
        if self.kind == "needs":
            if self.found is None:
                return "%s needs %s, which is not installed" % (self.who, self.requirement)
            return "%s needs %s, but %s is installed" % (self.who, self.requirement, self.found)
        what = "constraint " + self.requirement if self.kind == "constraint" else self.requirement
        if self.found is None:
            return "%s: %s is not installed in the venv" % (self.who, what)
        return "%s: %s is not met: %s is installed" % (self.who, what, self.found)


# -- requirement files ---------------------------------------------------------------


def bare(req: Requirement) -> str:
    """``req`` without its marker, as one would pass it to pip."""
    text = req.name
    if req.extras:
        text += "[%s]" % ",".join(sorted(req.extras))
    if req.url:
        return text + " @ " + req.url
    return text + str(req.specifier)


def _expand_env(line: str, environ: Mapping[str, str]) -> str:
    """``${VAR}``, as pip expands it in requirement files (only set variables)."""
    return re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: environ.get(m.group(1), m.group(0)), line)


def logical_lines(text: str) -> List[Tuple[int, str]]:
    """(first line number, text) with comments removed and ``\\`` continuations joined, as pip reads them."""
    out: List[Tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = number
        line = re.sub(r"(^|\s+)#.*$", "", raw)
        if line.endswith("\\"):
            buf += line[:-1]
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    if buf.strip():
        out.append((start, buf.strip()))
    return out


def looks_like_path(spec: str) -> bool:
    """A local path or URL, which pip installs without a name we could check."""
    if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@", spec):
        return False  # PEP 508 "name @ url"
    return "://" in spec or "/" in spec or spec.startswith((".", "~")) or spec.lower().endswith(ARCHIVES)


def egg_name(spec: str) -> Optional[str]:
    """The project name in a URL's ``#egg=name`` fragment, if any."""
    m = re.search(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return m.group(1) if m else None


def parse_spec(spec: str, origin: str, constraint: bool = False) -> Optional[Pin]:
    """One requirement as pip would take it; None for a path or URL without a name."""
    if looks_like_path(spec):
        name = egg_name(spec)
        return Pin(Requirement(name), origin, constraint) if name else None
    try:
        return Pin(Requirement(spec), origin, constraint)
    except InvalidRequirement as exc:
        raise UsageError("%s: invalid requirement %r: %s" % (origin, spec, str(exc).splitlines()[0])) from None


def _split_options(line: str) -> Tuple[str, str]:
    """pip's rule: the requirement is the words before the first one starting with ``-``."""
    words = line.split(" ")
    for i, word in enumerate(words):
        if word.startswith("-"):
            return " ".join(words[:i]).strip(), " ".join(words[i:])
    return line, ""


def parse_file(
    path: str,
    environ: Mapping[str, str],
    constraint: bool = False,
    display: Optional[str] = None,
    _reading: Optional[Set[str]] = None,
) -> List[Pin]:
    """Every requirement in a pip requirements file, following ``-r`` and ``-c`` includes.

    A file that cannot be read, or a line that is not a requirement, is a
    :class:`UsageError` naming the file and line.
    """
    if "://" in path:
        raise UsageError("%s: remote requirement files cannot be checked; download it and pass the file" % path)
    name = display or path
    real = os.path.realpath(path)
    reading = set() if _reading is None else _reading
    if real in reading:
        return []  # an include cycle; pip would loop, we read each file once
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError("cannot read requirements file %s: %s" % (name, reason)) from None
    reading.add(real)
    pins: List[Pin] = []
    for number, raw in logical_lines(text):
        origin = "%s:%d" % (name, number)
        line = _expand_env(raw, environ)
        spec, options = _split_options(line) if not line.startswith("-") else ("", line)
        if spec:
            pin = parse_spec(spec, origin, constraint)
            if pin is not None:
                pins.append(pin)
        else:
            pins += _option_pins(options, origin, (path, name), environ, constraint, reading)
    reading.discard(real)
    return pins


def _option_pins(
    options: str,
    origin: str,
    where: Tuple[str, str],
    environ: Mapping[str, str],
    constraint: bool,
    reading: Set[str],
) -> List[Pin]:
    """The requirements an options line adds: ``-r``/``-c`` files (read relative to ``where``'s
    file; the second item is its name as shown) and ``-e`` projects; other options are skipped."""
    try:
        words = shlex.split(options)
    except ValueError as exc:
        raise UsageError("%s: cannot parse %r: %s" % (origin, options, exc)) from None
    path, name = where
    pins: List[Pin] = []
    i = 0
    while i < len(words):
        word, value = words[i], None
        for short, long in (("-r", "--requirement"), ("-c", "--constraint"), ("-e", "--editable")):
            if word in (short, long):
                if i + 1 >= len(words):
                    raise UsageError("%s: %s needs a value" % (origin, word))
                value, i = words[i + 1], i + 1
            elif word.startswith(long + "="):
                value = word[len(long) + 1 :]
            elif word.startswith(short) and len(word) > 2 and not word.startswith("--"):
                value = word[2:]
            else:
                continue
            if short == "-e":
                pin = parse_spec(value, origin, constraint)  # a path or URL counts only with #egg=name
                pins += [pin] if pin is not None else []
            else:
                base = os.path.dirname(path)
                nested = value if value.startswith("/") or "://" in value else os.path.join(base, value)
                shown = value if os.path.isabs(value) else os.path.normpath(os.path.join(os.path.dirname(name), value))
                pins += parse_file(nested, environ, short == "-c", shown, reading)
            break
        else:
            if word in FILE_VALUE and i + 1 < len(words):
                i += 1  # skip the option's value
        i += 1
    return pins


# -- evaluation ---------------------------------------------------------------------------


def canonical(name: str) -> str:
    """A project name as PEP 503 compares it (``Jinja_2`` and ``jinja-2`` are one project)."""
    return str(canonicalize_name(name))


def by_name(dists: Iterable[Distribution]) -> Dict[str, List[Distribution]]:
    """Distributions grouped by canonical name; more than one means a broken install."""
    out: Dict[str, List[Distribution]] = OrderedDict()
    for dist in dists:
        out.setdefault(canonical(dist.name), []).append(dist)
    return out


def version_ok(version: str, specifier: SpecifierSet) -> bool:
    """Does ``version`` meet ``specifier``? Pre-releases count once installed, as pip sees them."""
    if not str(specifier):
        return True
    try:
        return specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def applies(req: Requirement, env: Mapping[str, str], extra: str = "") -> bool:
    """Is ``req`` wanted in the venv's environment (its marker true), under ``extra``?"""
    if req.marker is None:
        return not extra  # an unconditional requirement belongs to the base, not to an extra
    values = dict(env)
    values["extra"] = extra
    if not req.marker.evaluate(values):
        return False
    if extra:  # belongs to the extra only if it would not apply without it
        values["extra"] = ""
        return not req.marker.evaluate(values)
    return True


def _label(dist: Distribution, extra: str) -> str:
    return "%s[%s] %s" % (dist.name, extra, dist.version) if extra else str(dist)


def closure_problems(
    start: Iterable[Tuple[Distribution, str]],
    installed: Mapping[str, Distribution],
    env: Mapping[str, str],
    follow: bool = True,
) -> List[Unmet]:
    """Unmet requirements of the (distribution, extra) pairs in ``start``.

    With ``follow``, also of every distribution and extra they pull in (what pip
    would have installed with them).
    """
    problems: List[Unmet] = []
    seen: Set[Tuple[str, str]] = set()
    queue = list(start)
    while queue:
        dist, extra = queue.pop(0)
        key = (canonical(dist.name), extra)
        if key in seen:
            continue
        seen.add(key)
        for text in dist.requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                problems.append(Unmet(_label(dist, extra), text, None, "invalid"))
                continue
            if not applies(req, env, extra):
                continue
            target = installed.get(canonical(req.name))
            if target is None or not version_ok(target.version, req.specifier):
                problems.append(Unmet(_label(dist, extra), bare(req), str(target) if target else None))
                continue
            if follow:
                queue.append((target, ""))
                queue.extend((target, canonical(e)) for e in sorted(req.extras))
    return problems


def pin_problems(
    pins: Sequence[Pin], installed: Mapping[str, Distribution], env: Mapping[str, str]
) -> Tuple[List[Unmet], List[Tuple[Distribution, str]]]:
    """Pins not met inside the venv, and the (distribution, extra) pairs the met ones ask for."""
    problems: List[Unmet] = []
    wanted: List[Tuple[Distribution, str]] = []
    for pin in pins:
        req = pin.requirement
        if not applies(req, env):
            continue
        dist = installed.get(canonical(req.name))
        ok = dist is not None and version_ok(dist.version, req.specifier)
        if pin.constraint:
            if dist is not None and not ok:
                problems.append(Unmet(pin.origin, bare(req), str(dist), "constraint"))
            continue
        if dist is None or not ok:
            problems.append(Unmet(pin.origin, bare(req), str(dist) if dist else None, "pin"))
            continue
        wanted.append((dist, ""))
        wanted.extend((dist, canonical(e)) for e in sorted(req.extras))
    return problems, wanted


def names_wanted(pins: Sequence[Pin], dists: Iterable[Distribution]) -> Dict[str, str]:
    """Canonical name -> who wants it, for naming outside distributions that would satisfy it."""
    out: Dict[str, str] = {}
    for pin in pins:
        if not pin.constraint:
            out.setdefault(canonical(pin.requirement.name), pin.origin)
    for dist in dists:
        for text in dist.requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            out.setdefault(canonical(req.name), str(dist))
    return out
