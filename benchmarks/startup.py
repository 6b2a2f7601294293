"""Section: what the venv's start-up guard (``site-packages/00-pyenvboot-guard.pth``) costs per interpreter start.

Two figures, both taken in this run:

- side by side: ``V/bin/python -c pass`` of the venv ``init`` made, against a copy of
  the same venv without the guard's ``.pth`` (alternating runs, medians), as any
  process and as PID 1 of a new PID namespace (``unshare --pid --fork``), where the
  guard also installs its SIGTERM handler;
- in process: ``site.addpackage`` of the guard's ``.pth`` (what ``site`` does with it
  at every start: open, read, ``exec`` of its line), timed with ``timeit`` in the
  venv's own python, without and with PID 1's handler import. That figure has none
  of the start-up noise, so the target's verdict is taken from it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import List

from benchmarks.harness import Case, checked, interleave, log
from benchmarks.prepare import Env
from benchmarks.report import Section, Table, Target
from pyenvboot.runtime.guard import PID1_MODULE, PTH_NAME

TARGET_MS = 0.2
UNSHARE = ["/usr/bin/unshare", "--pid", "--fork", "--"]

# Run by the venv's python: the guard's cost per start, as site pays it. The PID 1 branch
# cannot run here (we are not PID 1), so its extra cost is measured as the import of the
# handler module, dropped from sys.modules each time so that every round imports it afresh.
IN_PROCESS = r"""
import json, os, site, sys, timeit
sp, name, module = sys.argv[1], sys.argv[2], sys.argv[3]
n = 2000
def guard():
    site.addpackage(sp, name, set())
def pid1():
    sys.modules.pop(module, None)
    __import__(module)
os.umask(0o022)
best = lambda f: min(timeit.repeat(f, number=n, repeat=7)) / n * 1e3
print(json.dumps({"guard": best(guard), "pid1": best(pid1)}))
"""


def run(env: Env, rounds: int) -> Section:
    start = time.monotonic()
    with_guard = env.venv
    without = os.path.join(env.work, "venv-no-guard")
    shutil.rmtree(without, ignore_errors=True)
    checked(["cp", "-a", with_guard, without])
    site = checked([with_guard + "/bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    site = site.strip()
    os.unlink(os.path.join(without, os.path.relpath(site, with_guard), PTH_NAME))
    env_vars = env.image_env()
    cases: List[Case] = [
        Case("`V/bin/python -c pass`, without the guard", [without + "/bin/python", "-c", "pass"], env_vars),
        Case("`V/bin/python -c pass`, with the guard", [with_guard + "/bin/python", "-c", "pass"], env_vars),
        Case("as PID 1, without the guard", [*UNSHARE, without + "/bin/python", "-c", "pass"], env_vars),
        Case(
            "as PID 1, with the guard (SIGTERM handler)", [*UNSHARE, with_guard + "/bin/python", "-c", "pass"], env_vars
        ),
    ]
    log("start-up guard: %d commands x %d rounds, interleaved" % (len(cases), rounds))
    interleave(cases, rounds, warmup=3)
    figures = json.loads(
        checked([without + "/bin/python", "-c", IN_PROCESS, site, PTH_NAME, PID1_MODULE], env=env_vars)
    )
    section = Section("Start-up guard of the venv's python")
    section.intro = (
        "The `.pth` line `init` writes into the venv's site-packages clears the umask's group-write bit in every"
        " process of the venv's python, and as PID 1 gives SIGTERM its usual effect. Side by side: %d alternating"
        " rounds, medians; in process: `site.addpackage` of the guard, best of 7 x 2000 with `timeit`." % rounds
    )
    rows = [[c.name, "%.2f" % c.median_ms, c.spread_ms, "%.2f" % c.min_ms] for c in cases]
    section.tables.append(Table(["command", "median ms", "IQR ms", "min ms"], rows, "**side by side**"))
    plain = cases[1].median_ms - cases[0].median_ms
    pid1 = cases[3].median_ms - cases[2].median_ms
    guard_ms = float(figures["guard"])
    pid1_ms = guard_ms + float(figures["pid1"])
    section.tables.append(
        Table(
            ["per interpreter start", "in process ms", "side by side (difference of medians) ms"],
            [
                ["any process: umask", "%.3f" % guard_ms, "%+.3f" % plain],
                ["PID 1: umask and SIGTERM handler", "%.3f" % pid1_ms, "%+.3f" % pid1],
            ],
            "**the guard's cost**",
        )
    )
    section.notes.append(
        "The side-by-side difference is within the start-up noise (see the IQR); the in-process figure is the"
        " guard's own cost and decides the verdict."
    )
    section.targets.append(
        Target(
            "start-up guard per interpreter start",
            "<= %.1f ms" % TARGET_MS,
            "%.3f ms" % guard_ms,
            guard_ms <= TARGET_MS,
        )
    )
    section.targets.append(
        Target(
            "start-up guard as PID 1 (with the SIGTERM handler)",
            "<= %.1f ms" % TARGET_MS,
            "%.3f ms" % pid1_ms,
            pid1_ms <= TARGET_MS,
        )
    )
    shutil.rmtree(without, ignore_errors=True)
    section.seconds = time.monotonic() - start
    return section
