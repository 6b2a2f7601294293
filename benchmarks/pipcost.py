"""Section: what `pyenvboot pip` adds to pip and `pyenvboot run` to uv, on an 18k-entry venv and a 100k-entry venv.

`pyenvboot pip` runs pip under the venv lock and then applies the permission
policy to what pip installed. Its overhead should not grow with the venv: each
round installs and uninstalls one small package (idna, from the local wheels) with
plain `V/bin/python -m pip` and with `pyenvboot pip --venv V`, taking turns, on
two venvs: the fix-permissions venv (numpy, pandas, django, sympy) and the same
venv with its packages' trees repeated under other names up to 100,000 entries.
Both are hard-linked copies of the cached venv (what pip writes is new files; it
never writes into an existing one, pip's ``install_wheel`` unlinks first).
"""

from __future__ import annotations

import os
import time
import zipfile
from typing import Dict, List

from benchmarks.harness import Case, checked, interleave, log, ratio
from benchmarks.permissions import snapshot
from benchmarks.prepare import PLAIN_PATH, Env, ensure_perm_venv
from benchmarks.report import Section, Table, Target

TARGET = 1.1
BIG = 100_000
PACKAGE = "idna"


def hardlinked_copy(source: str, tree: str) -> None:
    os.makedirs(os.path.dirname(tree), exist_ok=True)
    checked(["cp", "-al", source, tree])


def grow(tree: str, entries: int) -> int:
    """Repeat the biggest package trees of ``tree``'s site-packages under other names until it has ``entries``."""
    site = next(os.path.join(tree, "lib", d, "site-packages") for d in os.listdir(os.path.join(tree, "lib")))
    count = len(snapshot(tree))
    copies = 0
    names = ("numpy", "pandas", "sympy", "django")
    while count < entries:
        name = names[copies % len(names)]
        copies += 1
        target = os.path.join(site, "zz_copy%d_%s" % (copies, name))
        checked(["cp", "-al", os.path.join(site, name), target])
        count = len(snapshot(tree))
    return count


def seed_pip(zipapp: str, directory: str) -> str:
    """The newest pip wheel the zipapp carries (what ``init`` from it seeds), extracted into ``directory``.

    The cached venv has the pip of the Python that made it; a venv made by the zipapp's
    ``init`` has this one, and so do the copies measured here.
    """
    with zipfile.ZipFile(zipapp) as z:
        names = [n for n in z.namelist() if n.startswith("seed-wheels/pip-") and n.endswith(".whl")]
        newest = max(names, key=lambda n: [int(x) for x in n.split("-")[2].split(".") if x.isdigit()])
        os.makedirs(directory, exist_ok=True)
        return z.extract(newest, directory)


def venvs(env: Env) -> Dict[str, int]:
    """Hard-linked copies of the fix-permissions venv, one grown to ``BIG`` entries, with ``init``'s pip."""
    source = ensure_perm_venv(env.cache)
    small = os.path.join(env.work, "pipcost", "small")
    big = os.path.join(env.work, "pipcost", "big")
    log("pip overhead: hard-linked copies of the fix-permissions venv, one grown to %d entries" % BIG)
    hardlinked_copy(source, small)
    hardlinked_copy(source, big)
    pip_env = dict(env.pip_env, PATH=PLAIN_PATH)
    seeded = seed_pip(env.zipapp, os.path.join(env.work, "pipcost", "seed"))
    for tree in (small, big):
        checked([tree + "/bin/python", "-m", "pip", "install", "-q", "--no-index", seeded], env=pip_env)
    return {small: len(snapshot(small)), big: grow(big, BIG)}


def cases_for(env: Env, tree: str, entries: int) -> List[Case]:
    """Install + uninstall through plain pip, ``pyenvboot pip``, plain uv and ``pyenvboot run -- uv``, and the
    floor of ``run``: a uv uninstall that finds nothing to do, twice, plain and through ``run`` (what pyenvboot
    costs around an installer command, the policy step on an unchanged venv included)."""
    pip_env = dict(env.pip_env, PATH=PLAIN_PATH)
    # What `pyenvboot run` gives uv (no cache left in the layer, copies), given to plain uv too: the same work.
    uv_env = dict(pip_env, UV_NO_CACHE="1", UV_LINK_MODE="copy", UV_PYTHON_DOWNLOADS="never")
    wheels = "--no-index --find-links %s" % env.index_wheels
    ours = "%s/bin/pyenvboot" % env.venv
    pip = "%s/bin/python -m pip" % tree
    uv = env.tool("uv")
    python = "--python %s/bin/python" % tree
    run = "%s run --venv %s --" % (ours, tree)
    uv_round = "{0} pip install -q %s {1} {2} && {0} pip uninstall -q %s {2}" % (python, python)
    floor = "{0} pip uninstall -q %s no-such-dist && {0} pip uninstall -q %s no-such-dist" % (python, python)
    scripts = [
        ("plain `V/bin/python -m pip`", pip_env, "{0} install -q {1} {2} && {0} uninstall -q -y {2}", pip),
        ("`pyenvboot pip --venv V`", pip_env, "{0} install -q {1} {2} && {0} uninstall -q -y {2}",
         "%s pip --venv %s" % (ours, tree)),
        ("plain `uv pip`", uv_env, uv_round, uv),
        ("`pyenvboot run --venv V -- uv pip`", uv_env, uv_round, "%s %s" % (run, uv)),
        ("floor: plain `uv pip uninstall` of nothing installed, twice", uv_env, floor, uv),
        ("floor: `pyenvboot run --venv V -- uv pip uninstall` of nothing installed, twice", uv_env, floor,
         "%s %s" % (run, uv)),
    ]  # fmt: skip
    return [
        Case("%s (%d entries)" % (label, entries), ["/bin/sh", "-c", script.format(cmd, wheels, PACKAGE)], case_env)
        for label, case_env, script, cmd in scripts
    ]


def run(env: Env, rounds: int) -> Section:
    start = time.monotonic()
    sizes = venvs(env)
    cases: List[Case] = []
    for tree, entries in sizes.items():
        cases += cases_for(env, tree, entries)
    log("pip overhead: %d cases x %d rounds (install + uninstall of %s)" % (len(cases), rounds, PACKAGE))
    interleave(cases, rounds, warmup=1)
    section = Section("pyenvboot pip and run against plain pip and uv, on a big and a huge venv")
    small, big = sorted(sizes.values())
    section.intro = (
        "One round: install %s then uninstall it (from local wheels, quiet), through plain pip, `pyenvboot pip`,"
        " plain uv (with the variables `run` sets: no cache, copies) and `pyenvboot run -- uv`, taking turns, on"
        " a venv of %d entries and one of %d. Median wall time of the pair. Both venvs have the pip that `init`"
        " from the zipapp seeds. The floor: `uv pip uninstall` of a distribution that is not installed, twice,"
        " plain and through `run`." % (PACKAGE, small, big)
    )
    rows = []
    for i in range(0, len(cases), 2):
        plain, ours = cases[i], cases[i + 1]
        r = ours.median_ms / plain.median_ms
        rows.append([plain.name, "%.0f" % plain.median_ms, plain.spread_ms, "1.00x"])
        rows.append([ours.name, "%.0f" % ours.median_ms, ours.spread_ms, ratio(ours.median_ms, plain.median_ms)])
        if not plain.name.startswith("floor"):
            section.targets.append(Target(
                "%s vs %s, install + uninstall" % (ours.name, plain.name), "<= %.1fx" % TARGET,
                "%.2fx (%.0f vs %.0f ms)" % (r, ours.median_ms, plain.median_ms), r <= TARGET))  # fmt: skip
    section.tables.append(Table(["command", "median ms", "IQR ms", "vs plain"], rows))
    section.notes.append(
        "After a successful install or uninstall, `pyenvboot pip` applies the policy to the directories named"
        " by the RECORD files of the distributions pip installed (and their ancestors); `pyenvboot run` with uv,"
        " poetry, pipenv or pip adds the top-level entries of the venv's own directories (the root, bin, lib,"
        " site-packages) that changed, so its cost follows what the installer wrote, not the venv's size; other"
        " commands, and a failed installer, still walk the whole venv. The floor pair shows what pyenvboot costs"
        " around a command that does nothing: a target the floor already exceeds cannot be met by the policy step."
    )
    section.seconds = time.monotonic() - start
    return section
