"""Section 5: peak memory of `exec` before it replaces itself, and of `pyenvboot pip` beyond pip's.

Peak RSS comes from GNU time (`%M`: the child's `ru_maxrss`). Linux keeps a
process's high-water mark across exec, so `pyenvboot exec -- /bin/true` reports
the larger of pyenvboot and `true`: pyenvboot's peak before the exec. GNU time's
own fork starts the child at about 1 MB, which the `/bin/true` row shows.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from typing import Dict, List, Tuple

from benchmarks.entry import SETPRIV, FreshTmp
from benchmarks.harness import GNU_TIME, Case, checked, interleave, log, max_rss, ratio
from benchmarks.prepare import INDEX_PACKAGES, PLAIN_PATH, Env, ensure_perm_venv
from benchmarks.report import Section, Table

# Runs pyenvboot's CLI like the venv launcher, then reports this process's own peak (children excluded).
SELF_RSS = (
    "import sys, resource\n"
    "out = sys.argv.pop(1)\n"
    "sys.path.insert(0, sys.argv.pop(1))\n"
    "from pyenvboot.cli import main\n"
    "code = main()\n"
    "with open(out, 'w') as f:\n"
    "    f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def exec_memory(env: Env, rounds: int) -> Table:
    v = env.venv
    known = env.image_env({"HOME": "/root", "USER": "root", "LOGNAME": "root"})
    nameless = env.image_env({"HOME": "/"})
    fresh = FreshTmp(os.path.join(env.work, "tmp-mem"))
    true = ["/bin/true"]
    rows: List[Tuple[str, List[str], Dict[str, str], bool]] = [
        ("`/bin/true` (GNU time's fork + exec)", true, known, False),
        ("`V/bin/python -I -S -c pass`", [v + "/bin/python", "-I", "-S", "-c", "pass"], known, False),
        ("`V/bin/python -c pass`", [v + "/bin/python", "-c", "pass"], known, False),
        ("`V/bin/pyenvboot exec -- true` (launcher)", [v + "/bin/pyenvboot", "exec", "--", *true], known, False),
        (
            "`V/bin/pyenvboot exec --venv V -- true` (launcher, Python path)",
            [v + "/bin/pyenvboot", "exec", "--venv", v, "--", *true],
            known,
            False,
        ),
        (
            "`pyenvboot.pyz exec --venv V -- true` (zipapp)",
            [env.zipapp, "exec", "--venv", v, "--", *true],
            known,
            False,
        ),
        (
            "console script `exec --venv V -- true`",
            [env.console_venv + "/bin/pyenvboot", "exec", "--venv", v, "--", *true],
            known,
            False,
        ),
        (
            "launcher, UID without passwd entry, first start",
            [*SETPRIV, v + "/bin/pyenvboot", "exec", "--", *true],
            nameless,
            True,
        ),
        ("`tini -- true`", ["/usr/bin/tini", "--", *true], known, False),
    ]
    samples: Dict[str, List[int]] = {name: [] for name, _, _, _ in rows}
    for _ in range(rounds):
        for name, argv, run_env, first in rows:
            extra = fresh.prepare() if first else {}
            samples[name].append(max_rss(argv, dict(run_env, **extra), env.work))
            if first:
                fresh.cleanup()
    base = statistics.median(samples[rows[2][0]])
    table_rows = [
        [name, "%.1f" % (statistics.median(samples[name]) / 1024), ratio(statistics.median(samples[name]), base)]
        for name, _, _, _ in rows
    ]
    return Table(
        ["command", "peak RSS MiB (median)", "vs `python -c pass`"],
        table_rows,
        "**exec: peak RSS of the process before and after it execs `/bin/true`** (%d alternating rounds)" % rounds,
    )


def _status_kib(path: str, field: str) -> int:
    with open(path, encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise ValueError("no %s in %s" % (field, path))


def init_memory(env: Env, rounds: int) -> Table:
    """What stays resident as PID 1 while a shell-form command runs: the app reads PID 1's own status.

    In a new PID namespace with its own /proc, ``/proc/1/status`` is the namespace's
    init: the shell itself, pyenvboot staying as its init, or tini.
    """
    v = env.venv
    known = env.image_env({"HOME": "/root", "USER": "root", "LOGNAME": "root"})
    ns = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--"]
    out = os.path.join(env.work, "pid1", "status")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    script = "cat /proc/1/status > %s" % out
    rows: List[Tuple[str, List[str]]] = [
        ("dash: `/bin/sh -c APP` as PID 1 (SIGTERM lost)", [*ns, "/bin/sh", "-c", script]),
        (
            "pyenvboot staying as init: `V/bin/pyenvboot exec -- /bin/sh -c APP`",
            [*ns, v + "/bin/pyenvboot", "exec", "--", "/bin/sh", "-c", script],
        ),
        ("`tini -- /bin/sh -c APP`", [*ns, "/usr/bin/tini", "--", "/bin/sh", "-c", script]),
    ]
    samples: Dict[str, List[Tuple[int, int]]] = {name: [] for name, _ in rows}
    for _ in range(rounds):
        for name, argv in rows:
            checked(argv, env=known)
            samples[name].append((_status_kib(out, "VmRSS"), _status_kib(out, "RssAnon")))
    table_rows = [
        [
            name,
            "%.1f" % (statistics.median(r for r, _ in samples[name]) / 1024),
            "%.1f" % (statistics.median(a for _, a in samples[name]) / 1024),
        ]
        for name, _ in rows
    ]
    return Table(
        ["PID 1", "RSS MiB (median)", "of it private (RssAnon) MiB"],
        table_rows,
        "**a shell-form command as PID 1: what stays resident while the app runs** (PID 1's `/proc/1/status`,"
        " read by the app; %d alternating rounds)" % rounds,
    )


def pip_memory(env: Env, rounds: int) -> Table:
    """``pyenvboot pip install`` vs ``python -m pip install`` of the same wheels into a copy of the big venv."""
    tree = os.path.join(env.work, "mem", "venv")
    os.makedirs(os.path.dirname(tree))
    checked(["cp", "-a", ensure_perm_venv(env.cache), tree])
    # Bring the copy's own pyenvboot (VENV/bin/pyenvboot and its library) up to this checkout, the way an image
    # gets it: init from the zipapp, which also carries the vendored packaging that install verification uses.
    checked([env.zipapp, "init", "--venv", tree, "--no-home"], env={"PATH": PLAIN_PATH, "HOME": "/root"})
    pip_env = dict(env.pip_env, PYENVBOOT_VENV=tree, HOME="/root", USER="root", LOGNAME="root", PIP_NO_CACHE_DIR="1")
    install = ["install", "-q", "--no-index", "--find-links", env.index_wheels, *INDEX_PACKAGES]
    uninstall = [tree + "/bin/python", "-m", "pip", "uninstall", "-q", "-y", *_installed_names(env.index_wheels)]
    lib = tree + "/share/pyenvboot/lib"
    own = os.path.join(env.work, "mem", "self-rss")

    def reset() -> Dict[str, str]:
        checked(uninstall, env=pip_env)
        return {}

    timed = os.path.join(env.work, "mem", "time.txt")
    tool = [GNU_TIME, "-f", "%M", "-a", "-o"]
    plain = Case(
        "`V/bin/python -m pip install …`",
        [*tool, timed + ".pip", tree + "/bin/python", "-m", "pip", *install],
        pip_env,
        prepare=reset,
    )
    wrapped = Case(
        "`V/bin/pyenvboot pip install …`",
        [*tool, timed + ".pyenvboot", tree + "/bin/python", "-I", "-S", "-c", SELF_RSS, own, lib, "pip", *install],
        pip_env,
        prepare=reset,
    )
    selfs: List[int] = []

    def record() -> None:
        with open(own, encoding="ascii") as f:
            selfs.append(int(f.read()))

    wrapped.cleanup = record
    checked(plain.argv[len(tool) + 1 :], env=pip_env)  # the wheels install at all
    log("pip: %d rounds of both installs into a %s copy" % (rounds, os.path.basename(tree)))
    interleave([plain, wrapped], rounds, warmup=0)
    peaks: Dict[str, List[int]] = {}
    for suffix in ("pip", "pyenvboot"):
        with open(timed + "." + suffix, encoding="ascii") as f:
            peaks[suffix] = [int(x) for x in f.read().split() if x.isdigit()]
    pip_peak = statistics.median(peaks["pip"])
    ours_peak = statistics.median(peaks["pyenvboot"])
    rows = [
        [plain.name, "%.0f" % plain.median_ms, "1.00x", "%.1f" % (pip_peak / 1024), "-"],
        [
            wrapped.name,
            "%.0f" % wrapped.median_ms,
            ratio(wrapped.median_ms, plain.median_ms),
            "%.1f" % (ours_peak / 1024),
            "%.1f" % (statistics.median(selfs) / 1024),
        ],
    ]
    shutil.rmtree(os.path.dirname(tree), ignore_errors=True)
    return Table(
        ["command", "median ms", "vs pip", "peak RSS MiB, whole tree", "peak RSS MiB, pyenvboot's own process"],
        rows,
        "**pip: installing %s (%d wheels, local) into a copy of the section 3 venv** (%d alternating rounds;"
        " uninstalled before each run, untimed)"
        % (" and ".join(INDEX_PACKAGES), len(_installed_names(env.index_wheels)), rounds),
    )


def _installed_names(wheels: str) -> List[str]:
    return sorted(n.split("-")[0] for n in os.listdir(wheels) if n.endswith(".whl"))


def run(env: Env, rounds: int) -> Section:
    start = time.monotonic()
    section = Section("5. Peak memory")
    log("memory: exec, %d rounds" % rounds)
    section.tables.append(exec_memory(env, rounds))
    log("memory: PID 1 of a shell-form command, %d rounds" % rounds)
    section.tables.append(init_memory(env, rounds))
    section.tables.append(pip_memory(env, max(3, rounds // 2)))
    section.intro = " ".join(__doc__.split("\n\n", 1)[1].split()) if __doc__ else ""
    section.notes.append(
        '"Whole tree" is the larger of pyenvboot\'s process and the pip it runs (GNU time reports the maximum over'
        ' the children waited for); "own process" is `getrusage(RUSAGE_SELF)` inside pyenvboot after pip and the'
        " permission walk finished. Wall times include the permission walk over the whole venv after pip."
    )
    section.seconds = time.monotonic() - start
    return section
