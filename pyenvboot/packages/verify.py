"""Install-time verification for ``pyenvboot pip install``.

After pip succeeds, every requirement it was given (``-r`` files, ``-c`` files,
names on the command line) must be met by a distribution *inside the venv*,
including what those pull in. pip's "Requirement already satisfied" for an OS
package outside the venv thus fails the image build instead of passing silently.
The arguments are parsed here with the standard library; ``packaging`` is loaded
only when there is something to verify.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AbstractSet, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from pyenvboot.errors import VerifyError
from pyenvboot.packages.pipoptions import GLOBAL_VALUE, INSTALL_VALUE, SHORT_VALUE

if TYPE_CHECKING:
    from pyenvboot.packages.dists import Distribution

# Installing somewhere else than the venv, or not at all: nothing to verify in the venv.
ELSEWHERE = {"-t", "--target", "--prefix", "--root", "--user", "--dry-run", "-h", "--help"}


@dataclass
class PipInstall:
    """What a ``pip install`` command line asks for."""

    files: List[str] = field(default_factory=list)
    constraints: List[str] = field(default_factory=list)
    specs: List[str] = field(default_factory=list)
    no_deps: bool = False


def _option(word: str, takes_value: AbstractSet[str]) -> Tuple[str, Optional[str]]:
    """(option name, attached value or None) for ``--opt=value``, ``-rFILE``, ``--opt``."""
    if word.startswith("--"):
        name, eq, value = word.partition("=")
        return name, (value if eq else None)
    if len(word) > 2 and word[:2] in SHORT_VALUE and word[:2] in takes_value:
        return word[:2], word[2:]
    return word, None


def parse_pip_install(args: Sequence[str]) -> Optional[PipInstall]:
    """The requirements of ``pip [options] install ...``; None when it is not an install into the venv."""
    words = list(args)
    i = 0
    while i < len(words) and words[i].startswith("-"):  # general options before the command
        name, value = _option(words[i], GLOBAL_VALUE)
        i += 2 if name in GLOBAL_VALUE and value is None else 1
    if i >= len(words) or words[i] != "install":
        return None
    request = PipInstall()
    i += 1
    only_positional = False
    while i < len(words):
        word = words[i]
        i += 1
        if only_positional or not word.startswith("-") or word == "-":
            request.specs.append(word)
            continue
        if word == "--":
            only_positional = True
            continue
        name, value = _option(word, INSTALL_VALUE)
        if name in INSTALL_VALUE and value is None:
            if i >= len(words):
                return None  # pip itself rejects this
            value = words[i]
            i += 1
        if name in ELSEWHERE:
            return None
        if name in ("-r", "--requirement"):
            request.files.append(str(value))
        elif name in ("-c", "--constraint"):
            request.constraints.append(str(value))
        elif name in ("-e", "--editable"):
            request.specs.append(str(value))
        elif name == "--no-deps":
            request.no_deps = True
    return request


def verify_install(venv: str, request: PipInstall, environ: Mapping[str, str]) -> List[str]:
    """One line per requirement of ``request`` not met inside ``venv`` (empty when all are)."""
    from pyenvboot.packages.dists import read_distributions
    from pyenvboot.packages.withpackaging import import_packaging
    from pyenvboot.venv.facts import inside, probe_venv, venv_site_dirs

    facts, error = probe_venv(venv, environ)
    if facts is None:
        return ["cannot verify what pip installed: " + error]
    sites = venv_site_dirs(venv, facts, None)
    import_packaging(sites)
    from pyenvboot.packages import requirements as rq

    pins: List[rq.Pin] = []
    for path in request.files:
        pins += rq.parse_file(path, environ)
    for path in request.constraints:
        pins += rq.parse_file(path, environ, constraint=True)
    for spec in request.specs:
        pin = rq.parse_spec(spec, "the command line")
        if pin is not None:
            pins.append(pin)
    if not pins:
        return []
    installed: Dict[str, Distribution] = {}
    for dist in (d for site in sites for d in read_distributions(site)):
        installed.setdefault(rq.canonical(dist.name), dist)
    unmet, wanted = rq.pin_problems(pins, installed, facts.markers)
    if not request.no_deps:
        unmet += rq.closure_problems(wanted, installed, facts.markers)
    outside: Dict[str, str] = {}
    for entry in facts.path:
        if not inside(entry, venv) and os.path.isdir(entry):
            for dist in read_distributions(entry):
                outside.setdefault(rq.canonical(dist.name), "%s in %s" % (dist, entry))
    lines = []
    for problem in unmet:
        line = "after pip install, in %s: %s" % (venv, problem.message())
        m = re.match(r"[A-Za-z0-9._-]+", problem.requirement)
        name = rq.canonical(m.group(0)) if m and problem.kind != "invalid" else ""
        if problem.found is None and name in outside:
            line += " (%s is outside the venv: pip counted it; run 'pyenvboot check')" % outside[name]
        lines.append(line)
    return lines


def after_pip(venv: str, args: Sequence[str], environ: Mapping[str, str]) -> Optional[Callable[[int], int]]:
    """The ``after`` hook for :func:`pyenvboot.installers.pip.run_pip`, or None when there is nothing to verify.

    The hook raises :class:`VerifyError` with one line per unmet requirement.
    """
    request = parse_pip_install(args)
    if request is None or not (request.files or request.constraints or request.specs):
        return None

    def after(code: int) -> int:
        if code != 0:
            return code  # pip already failed and said why
        problems = verify_install(venv, request, environ)
        if problems:
            raise VerifyError(problems[0], problems)
        return code

    return after
