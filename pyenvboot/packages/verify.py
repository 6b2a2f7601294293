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
import time

from pyenvboot.errors import VerifyError
from pyenvboot.installers.step import After
from pyenvboot.packages.pipoptions import GLOBAL_VALUE, INSTALL_VALUE, SHORT_VALUE

# Imported before pip starts: dataclasses, typing, re and subprocess (~20 ms) are left to what runs after.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import AbstractSet, Dict, List, Mapping, Optional, Sequence, Tuple

    from pyenvboot.packages.dists import Distribution
    from pyenvboot.packages.requirements import Pin, Unmet
    from pyenvboot.packages.withpackaging import EarlyPackaging
    from pyenvboot.venv.facts import VenvFacts

# Installing somewhere else than the venv, or not at all: nothing to verify in the venv.
ELSEWHERE = {"-t", "--target", "--prefix", "--root", "--user", "--dry-run", "-h", "--help"}


class PipInstall:
    """What a ``pip install`` command line asks for."""

    def __init__(
        self,
        files: Sequence[str] = (),
        constraints: Sequence[str] = (),
        specs: Sequence[str] = (),
        no_deps: bool = False,
    ) -> None:
        self.files: List[str] = list(files)
        self.constraints: List[str] = list(constraints)
        self.specs: List[str] = list(specs)
        self.no_deps = no_deps


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


def verify_install(venv: str, request: PipInstall, environ: Mapping[str, str], facts: VenvFacts) -> List[str]:
    """One line per requirement of ``request`` not met inside ``venv`` (empty when all are)."""
    import re

    from pyenvboot.packages.dists import ByName, read_distributions
    from pyenvboot.packages.withpackaging import import_packaging
    from pyenvboot.venv.facts import inside, venv_site_dirs

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
    # Each name read when asked for; before anything is called missing or unmet, everything is read.
    unmet = unmet_in(ByName(sites, rq.canonical), pins, request, facts)
    if unmet:
        installed: Dict[str, Distribution] = {}
        for dist in (d for site in sites for d in read_distributions(site)):
            installed.setdefault(rq.canonical(dist.name), dist)
        unmet = unmet_in(installed, pins, request, facts)
    outside: Dict[str, str] = {}
    if unmet:  # the system's distributions are read only to explain a failure
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


def unmet_in(
    installed: Mapping[str, Distribution], pins: Sequence[Pin], request: PipInstall, facts: VenvFacts
) -> List[Unmet]:
    """The pins of ``request`` and (unless ``--no-deps``) what they pull in, not met by ``installed``."""
    from pyenvboot.packages import requirements as rq

    unmet, wanted = rq.pin_problems(pins, installed, facts.markers)
    if not request.no_deps:
        unmet += rq.closure_problems(wanted, installed, facts.markers)
    return unmet


class Verification(After):
    """The check after ``pyenvboot pip install``, started while pip runs.

    Asking the venv's python for its facts, importing ``packaging`` (its tokenizer
    compiles its regular expressions on import) and ``importlib.metadata`` are most
    of the check's cost, and none depends on what pip does: they overlap pip's run
    (pip's copy of ``packaging`` is dropped after pip if pip replaced it).
    A ``.pth`` file that pip writes can change ``sys.path``, so when one changed
    while the probe ran the venv is asked again.
    """

    def __init__(self, venv: str, request: PipInstall, environ: Mapping[str, str]) -> None:
        self.venv, self.request, self.environ = venv, request, environ
        self.probe: Optional[subprocess.Popen[bytes]] = None
        self.early: Optional[EarlyPackaging] = None
        self.started = 0.0

    def start(self) -> None:
        from pyenvboot.venv.facts import start_probe

        self.started = time.time()
        try:
            self.probe = start_probe(self.venv, self.environ)
        except OSError:
            self.probe = None  # finish asks again, and says why it cannot
        try:
            # What finish reads with, imported now: importlib.metadata (7-35 ms), then packaging, or pip's copy
            # of it when it is missing (kept only if pip leaves that copy alone: EarlyPackaging).
            import importlib.metadata  # noqa: F401

            import pyenvboot.packages.dists
            from pyenvboot.packages.withpackaging import EarlyPackaging
            from pyenvboot.venv.layout import site_dirs

            self.early = EarlyPackaging(site_dirs(self.venv))
            if not self.early.borrowed:  # binds packaging's names: only a copy that is never forgotten
                import pyenvboot.packages.requirements  # noqa: F401
        except Exception:
            pass  # finish imports them again, and reports what fails

    def finish(self, code: int) -> int:
        if code != 0:
            if self.probe is not None:
                self.probe.kill()
                self.probe.wait()
            return code  # pip already failed and said why
        facts, error = self.facts()
        if facts is None:
            raise VerifyError("cannot verify what pip installed: " + error)
        if self.early is not None:
            self.early.check()
        problems = verify_install(self.venv, self.request, self.environ, facts)
        if problems:
            raise VerifyError(problems[0], problems)
        return code

    def facts(self) -> Tuple[Optional[VenvFacts], str]:
        from pyenvboot.venv.facts import probe_result, probe_venv

        if self.probe is not None:
            answer = probe_result(self.venv, self.probe)
            if not self.pth_changed():
                return answer
        return probe_venv(self.venv, self.environ)

    def pth_changed(self) -> bool:
        """Did a ``.pth`` file in the venv's site-packages change since :meth:`start`?

        A second of margin: file times come from the kernel's coarse clock, which
        lags ``time.time()`` by up to a timer tick.
        """
        from pyenvboot.venv.layout import site_dirs

        for site in site_dirs(self.venv):
            try:
                with os.scandir(site) as entries:
                    for entry in entries:
                        if entry.name.endswith(".pth"):
                            st = entry.stat(follow_symlinks=False)
                            if max(st.st_mtime, st.st_ctime) >= self.started - 1.0:
                                return True
            except OSError:
                return True  # cannot tell: ask again
        return False


def after_pip(venv: str, args: Sequence[str], environ: Mapping[str, str]) -> Optional[Verification]:
    """The ``after`` step for :func:`pyenvboot.installers.pip.run_pip`, or None when there is nothing to verify.

    It raises :class:`VerifyError` with one line per unmet requirement.
    """
    request = parse_pip_install(args)
    if request is None or not (request.files or request.constraints or request.specs):
        return None
    return Verification(venv, request, environ)
