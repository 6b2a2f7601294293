"""``check``'s isolation: nothing on the venv's ``sys.path`` but the venv and the base's standard library.

pip counts every distribution on ``sys.path`` as installed: an OS-packaged Jinja2
outside the venv "satisfies" ``pip install Jinja2``. Each foreign entry is named
with where it comes from (PYTHONPATH, a ``.pth`` file, the user site, the base's
site-packages, start-up code) and what it shadows or stands in for.
"""

from __future__ import annotations

import os
from shlex import quote
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from pyenvboot.diagnosis.report import Problem
from pyenvboot.packages.dists import Distribution, read_distributions
from pyenvboot.runtime.guard import PTH_NAME as GUARD_PTH
from pyenvboot.venv.facts import VenvFacts, inside


def stdlib_entry(entry: str, facts: VenvFacts) -> bool:
    """Part of the base interpreter's standard library (its zip, its lib dir, lib-dynload)?"""
    zipname = "python%d%d.zip" % (facts.version[0], facts.version[1])
    if os.path.basename(entry) == zipname and inside(os.path.dirname(entry), facts.base_prefix):
        return True
    real = os.path.realpath(entry)
    for lib in (facts.stdlib, facts.platstdlib):
        top = os.path.realpath(lib)
        if real == top or real.startswith(top + "/"):
            parts = real[len(top) :].split("/")
            if "site-packages" not in parts and "dist-packages" not in parts:
                return True
    return False


def pth_files(site_dirs: Sequence[str]) -> Tuple[Dict[str, str], List[str]]:
    """(resolved path -> the .pth file that adds it, .pth files with ``import`` lines)."""
    adds: Dict[str, str] = {}
    imports: List[str] = []
    for site in site_dirs:
        try:
            names = sorted(n for n in os.listdir(site) if n.endswith(".pth"))
        except OSError:
            continue
        for name in names:
            pth = os.path.join(site, name)
            try:
                with open(pth, encoding="utf-8", errors="replace") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.rstrip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith(("import ", "import\t")):
                    if pth not in imports and name != GUARD_PTH:  # the guard adds no path
                        imports.append(pth)
                    continue
                adds.setdefault(os.path.realpath(os.path.join(site, line)), pth)
    return adds, imports


def entry_source(
    entry: str, facts: VenvFacts, cfg: Mapping[str, str], venv: str, adds: Mapping[str, str], imports: Sequence[str]
) -> Tuple[str, str]:
    """(where a foreign ``sys.path`` entry comes from, how to get rid of it)."""
    pythonpath = [os.path.abspath(p) for p in facts.pythonpath.split(os.pathsep) if p]
    if os.path.abspath(entry) in pythonpath:
        return (
            "from PYTHONPATH=%s" % facts.pythonpath,
            "unset PYTHONPATH (or drop %s from it) where the app runs" % entry,
        )
    real = os.path.realpath(entry)
    if real in adds:
        return "added by %s" % adds[real], "remove %s (or its line for %s)" % (adds[real], entry)
    if facts.user_site and real == os.path.realpath(facts.user_site):
        return (
            "the user site-packages",
            "set PYTHONNOUSERSITE=1 where the app runs (the ENV lines of 'pyenvboot init' do)",
        )
    system_site = cfg.get("include-system-site-packages", "false").lower() != "false"
    if system_site and any(real == os.path.realpath(s) for s in facts.site):
        return "the base Python's site-packages (include-system-site-packages = true)", "pyenvboot init --venv %s" % (
            quote(venv)
        )
    culprits = [p for p in (facts.customize.get("sitecustomize"), facts.customize.get("usercustomize")) if p]
    culprits += list(imports)
    return (
        "added at start-up (by %s)" % (", ".join(culprits) if culprits else "a sitecustomize or a .pth import line"),
        "remove the code that adds it",
    )


def check_isolation(
    venv: str,
    cfg: Mapping[str, str],
    facts: Optional[VenvFacts],
    installed: Mapping[str, Distribution],
    wanted: Mapping[str, str],
    pip: str,
) -> List[Problem]:
    """pyvenv.cfg isolated; nothing on sys.path but the venv and the base's stdlib; name what leaks in.

    ``installed``: the venv's distributions by canonical name; ``wanted``: canonical
    name -> who wants it (a pin, or an installed distribution's requirement).
    """
    problems: List[Problem] = []
    setting = cfg.get("include-system-site-packages", "false")
    if setting.lower() != "false":
        problems.append(
            Problem(
                "isolation",
                "pyvenv.cfg has include-system-site-packages = %s: the base Python's packages (e.g. Debian's"
                " /usr/lib/python3/dist-packages) count as installed; init sets it to false and removes nothing"
                % setting,
                "pyenvboot init --venv %s" % quote(venv),
            )
        )
    if facts is None:
        return problems
    sites = [s for s in facts.site if inside(s, venv)] + [s for s in facts.site if not inside(s, venv)]
    if facts.user_site:
        sites.append(facts.user_site)
    adds, imports = pth_files(sites)
    venv_positions = [i for i, e in enumerate(facts.path) if inside(e, venv)]
    first_venv = min(venv_positions) if venv_positions else len(facts.path)
    for position, entry in enumerate(facts.path):
        if inside(entry, venv) or stdlib_entry(entry, facts):
            continue
        source, fix = entry_source(entry, facts, cfg, venv, adds, imports)
        problems.append(Problem("isolation", "%s is on sys.path, %s" % (entry, source), fix))
        problems += foreign_distributions(entry, position < first_venv, fix, installed, wanted, pip)
    return problems


def foreign_distributions(
    entry: str, first: bool, fix: str, installed: Mapping[str, Distribution], wanted: Mapping[str, str], pip: str
) -> List[Problem]:
    """What the distributions in a foreign ``sys.path`` entry do: shadow the venv's (``first``: it comes
    before the venv), or stand in for a wanted one the venv lacks."""
    from pyenvboot.packages.requirements import canonical

    problems: List[Problem] = []
    for dist in read_distributions(entry) if os.path.isdir(entry) else []:
        name = canonical(dist.name)
        own = installed.get(name)
        if own is not None:
            if first:
                problems.append(
                    Problem(
                        "isolation",
                        "%s in %s shadows the venv's %s (it comes first on sys.path)" % (dist, entry, own),
                        fix,
                    )
                )
        elif name in wanted:
            problems.append(
                Problem(
                    "isolation",
                    "%s in %s is importable from outside the venv and would satisfy %s (wanted by %s), which"
                    " the venv does not have" % (dist, entry, dist.name, wanted[name]),
                    "%s, then %s install %s" % (fix, pip, quote(dist.name)),
                )
            )
    return problems
