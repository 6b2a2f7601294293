"""Section: what `pyenvboot pip` adds to pip, on an 18k-entry venv and a 100k-entry venv.

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
from typing import List

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


def run(env: Env, rounds: int) -> Section:
    start = time.monotonic()
    source = ensure_perm_venv(env.cache)
    small = os.path.join(env.work, "pipcost", "small")
    big = os.path.join(env.work, "pipcost", "big")
    log("pip overhead: hard-linked copies of the fix-permissions venv, one grown to %d entries" % BIG)
    hardlinked_copy(source, small)
    hardlinked_copy(source, big)
    pip_env = dict(env.pip_env)
    pip_env["PATH"] = PLAIN_PATH
    seeded = seed_pip(env.zipapp, os.path.join(env.work, "pipcost", "seed"))
    for tree in (small, big):
        checked([tree + "/bin/python", "-m", "pip", "install", "-q", "--no-index", seeded], env=pip_env)
    sizes = {small: len(snapshot(small)), big: grow(big, BIG)}
    wheels = ["--no-index", "--find-links", env.index_wheels]
    cases: List[Case] = []
    for tree in (small, big):
        plain = "%s/bin/python -m pip" % tree
        ours = "%s/bin/pyenvboot pip --venv %s" % (env.venv, tree)
        for label, pip in (("plain `V/bin/python -m pip`", plain), ("`pyenvboot pip --venv V`", ours)):
            script = "%s install -q %s %s && %s uninstall -q -y %s" % (pip, " ".join(wheels), PACKAGE, pip, PACKAGE)
            cases.append(Case("%s (%d entries)" % (label, sizes[tree]), ["/bin/sh", "-c", script], pip_env))
    log("pip overhead: %d cases x %d rounds (install + uninstall of %s)" % (len(cases), rounds, PACKAGE))
    interleave(cases, rounds, warmup=1)

    section = Section("pyenvboot pip against plain pip, on a big and a huge venv")
    section.intro = (
        "One round: `pip install %s` then `pip uninstall -y %s` (from local wheels, quiet), through plain pip"
        " and through `pyenvboot pip`, taking turns, on a venv of %d entries and one of %d. Median wall time of"
        " the pair. Both venvs have the pip that `init` from the zipapp seeds (%s)." % (
            PACKAGE, PACKAGE, sizes[small], sizes[big], os.path.basename(seeded))
    )
    rows = []
    for i in range(0, len(cases), 2):
        plain, ours = cases[i], cases[i + 1]
        rows.append([plain.name, "%.0f" % plain.median_ms, plain.spread_ms, "1.00x"])
        rows.append([ours.name, "%.0f" % ours.median_ms, ours.spread_ms, ratio(ours.median_ms, plain.median_ms)])
        r = ours.median_ms / plain.median_ms
        section.targets.append(
            Target(
                "`pyenvboot pip` vs plain pip, install + uninstall, %d-entry venv" % sizes[small if i == 0 else big],
                "<= %.1fx" % TARGET,
                "%.2fx (%.0f vs %.0f ms)" % (r, ours.median_ms, plain.median_ms),
                r <= TARGET,
            )
        )
    section.tables.append(Table(["command", "median ms", "IQR ms", "vs plain pip"], rows))
    section.notes.append(
        "After a successful install or uninstall, `pyenvboot pip` applies the policy to the directories named"
        " by the RECORD files of the distributions pip installed (and their ancestors), so its cost follows what"
        " pip wrote, not the venv's size; other pip commands and a failed pip still walk the whole venv."
    )
    section.seconds = time.monotonic() - start
    return section
