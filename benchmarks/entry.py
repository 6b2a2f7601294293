"""Section 1: what the entrypoint, ``pyenvboot env`` and the shell hook cost per start.

Every figure is a median wall time per run and its ratio to the floor of its
group: the app started directly (``V/bin/python -c pass``), or ``bash -c true``
for the hook. Two identities: root with USER, LOGNAME and HOME set, and a UID with
no passwd entry (``setpriv --reuid=1000680000 --regid=0 --clear-groups``) with
``HOME=/`` and no USER, as OpenShift starts containers.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from typing import Dict, List, Optional

from benchmarks.harness import Case, interleave, log, ratio
from benchmarks.prepare import Env
from benchmarks.report import Section, Table, Target

NAMELESS_UID = 1000680000
SETPRIV = ["/usr/bin/setpriv", "--reuid=%d" % NAMELESS_UID, "--regid=0", "--clear-groups", "--"]
TARGET = 1.3  # within 1.3x of the floor
# What a first start without Python cannot avoid: a shell, and the UID's two runtime files (made with O_EXCL
# in a sticky TMPDIR, as a container's /tmp is).
FIRST_START_FLOOR = "reference: `sh -c 'set -C; : >$TMPDIR/a; : >$TMPDIR/b; exec APP'` (a shell and two files)"


class FreshTmp:
    """A new, empty TMPDIR for every run: no identity cached by an earlier run (a first start)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.counter = itertools.count()
        self.current: Optional[str] = None
        os.makedirs(root, exist_ok=True)

    def prepare(self) -> Dict[str, str]:
        self.current = os.path.join(self.root, str(next(self.counter)))
        os.mkdir(self.current)
        os.chmod(self.current, 0o1777)
        return {"TMPDIR": self.current}

    def cleanup(self) -> None:
        if self.current:
            shutil.rmtree(self.current, ignore_errors=True)


def _cached_tmp(root: str) -> str:
    """A TMPDIR that keeps the identity the first nameless run caches (the steady state)."""
    os.makedirs(root)
    os.chmod(root, 0o1777)
    return root


class Group:
    """Alternatives measured against one floor."""

    def __init__(self, title: str, floor: Case, target: bool = True) -> None:
        self.title = title
        self.floor = floor
        self.cases: List[Case] = [floor]
        self.target = target

    def add(self, case: Case) -> Case:
        self.cases.append(case)
        return case


def python_launcher(env: Env) -> str:
    """What ``init --launcher python`` writes as V/bin/pyenvboot, beside V (it names V's paths itself)."""
    from pyenvboot.runtime.launcher import write_launcher

    directory = os.path.join(env.work, "python-launcher")
    os.makedirs(directory, exist_ok=True)
    write_launcher(directory, env.venv, "python")
    return os.path.join(directory, "pyenvboot")


def build_groups(env: Env) -> List[Group]:
    v = env.venv
    py = v + "/bin/python"
    app = [py, "-c", "pass"]
    launcher = v + "/bin/pyenvboot"
    console = env.console_venv + "/bin/pyenvboot"
    known = env.image_env({"HOME": "/root", "USER": "root", "LOGNAME": "root"})
    nameless = env.image_env({"HOME": "/"})
    fresh = FreshTmp(os.path.join(env.work, "tmp-fresh"))
    cached = {"TMPDIR": _cached_tmp(os.path.join(env.work, "tmp-cached"))}

    def first_start(name: str, argv: List[str], base: Dict[str, str]) -> Case:
        return Case(name, argv, base, prepare=fresh.prepare, cleanup=fresh.cleanup)

    g1 = Group("exec, root (USER, LOGNAME, HOME set)", Case("`V/bin/python -c pass` (floor)", app, known))
    g1.add(Case("`V/bin/pyenvboot exec -- APP` (venv launcher, the ENTRYPOINT)", [launcher, "exec", "--", *app], known))
    g1.add(
        Case(
            "`V/bin/pyenvboot exec --venv V -- APP` (launcher, Python path)",
            [launcher, "exec", "--venv", v, "--", *app],
            known,
        )
    )
    g1.add(Case("`pyenvboot.pyz exec --venv V -- APP` (zipapp)", [env.zipapp, "exec", "--venv", v, "--", *app], known))
    g1.add(
        Case(
            "`pyenvboot exec --venv V -- APP` (console script, pip install .)",
            [console, "exec", "--venv", v, "--", *app],
            known,
        )
    )
    g1.add(
        Case(
            "`V/bin/pyenvboot exec -- APP` (python launcher, `init --launcher python`: no /bin/sh needed)",
            [python_launcher(env), "exec", "--", *app],
            known,
        )
    )
    g1.add(
        Case(
            "`sh -c '. V/bin/activate && exec python -c pass'`",
            ["/bin/sh", "-c", ". %s/bin/activate && exec python -c pass" % v],
            known,
        )
    )
    g1.add(Case("`tini -- APP`", ["/usr/bin/tini", "--", *app], known))
    g1.add(Case("`V/bin/python -I -S -c pass` (reference)", [py, "-I", "-S", "-c", "pass"], known))
    g1.add(Case("`/bin/true` (reference: one exec)", ["/bin/true"], known))
    g1.add(Case("`sh -c 'exec /bin/true'` (reference: dash + exec)", ["/bin/sh", "-c", "exec /bin/true"], known))

    sp = SETPRIV
    g2 = Group(
        "exec, UID without passwd entry (HOME=/, no USER)",
        Case("`setpriv … V/bin/python -c pass` (floor)", [*sp, *app], nameless, prepare=lambda: dict(cached)),
    )
    g2.add(
        Case(
            "launcher `exec -- APP`, identity cached by an earlier start",
            [*sp, launcher, "exec", "--", *app],
            nameless,
            prepare=lambda: dict(cached),
        )
    )
    g2.add(first_start("launcher `exec -- APP`, first start (no cache)", [*sp, launcher, "exec", "--", *app], nameless))
    g2.add(
        first_start(
            "zipapp `exec --venv V -- APP`, first start", [*sp, env.zipapp, "exec", "--venv", v, "--", *app], nameless
        )
    )
    g2.add(
        first_start(
            "console script `exec --venv V -- APP`, first start",
            [*sp, console, "exec", "--venv", v, "--", *app],
            nameless,
        )
    )
    g2.add(
        first_start(
            FIRST_START_FLOOR,
            [*sp, "/bin/sh", "-c", 'set -C; { :; } >"$TMPDIR/a" && { :; } >"$TMPDIR/b" && exec "$@"', "sh", *app],
            nameless,
        )
    )

    g3 = Group("`pyenvboot env`, root", Case("`V/bin/python -c pass` (floor)", app, known), target=False)
    g3.add(Case("`V/bin/pyenvboot env`", [launcher, "env"], known))
    g3.add(Case("`pyenvboot.pyz env --venv V`", [env.zipapp, "env", "--venv", v], known))

    no_hook = {k: val for k, val in known.items() if k != "BASH_ENV"}
    g4 = Group(
        "shell hook per `bash -c true`, root",
        Case("`bash -c true` without BASH_ENV (floor)", ["/bin/bash", "-c", "true"], no_hook),
    )
    g4.add(Case("with BASH_ENV=hook, USER, LOGNAME, HOME set", ["/bin/bash", "-c", "true"], known))
    home_only = {k: val for k, val in known.items() if k not in ("USER", "LOGNAME")}
    g4.add(Case("with BASH_ENV=hook, only HOME set (as `docker exec` sets it)", ["/bin/bash", "-c", "true"], home_only))

    nameless_no_hook = {k: val for k, val in nameless.items() if k != "BASH_ENV"}
    g5 = Group(
        "shell hook per `bash -c true`, UID without passwd entry",
        Case("`setpriv … bash -c true` without BASH_ENV (floor)", [*sp, "/bin/bash", "-c", "true"], nameless_no_hook),
    )
    g5.add(
        Case(
            "with BASH_ENV=hook, identity cached",
            [*sp, "/bin/bash", "-c", "true"],
            nameless,
            prepare=lambda: dict(cached),
        )
    )
    g5.add(
        first_start(
            "with BASH_ENV=hook, no cached identity (runs pyenvboot)", [*sp, "/bin/bash", "-c", "true"], nameless
        )
    )
    # As PID 1 (a new PID namespace, as in a container), `exec` stays as the init of a shell given
    # a command string (Docker's shell-form CMD): one Python start more than exec'ing it.
    ns = ["/usr/bin/unshare", "--pid", "--fork", "--"]
    shell_app = " ".join(app)
    g6 = Group(
        "shell-form command as PID 1 (`unshare --pid --fork`)",
        Case("`unshare … /bin/sh -c APP` (floor: the shell as PID 1)", [*ns, "/bin/sh", "-c", shell_app], known),
        target=False,
    )
    g6.add(
        Case(
            "`unshare … V/bin/pyenvboot exec -- /bin/sh -c APP` (pyenvboot stays as init)",
            [*ns, launcher, "exec", "--", "/bin/sh", "-c", shell_app],
            known,
        )
    )
    g6.add(
        Case(
            "`unshare … V/bin/pyenvboot exec -- /bin/sh -c 'exec APP'` (exec'd: sh fast path)",
            [*ns, launcher, "exec", "--", "/bin/sh", "-c", "exec " + shell_app],
            known,
        )
    )
    g6.add(Case("`unshare … tini -- /bin/sh -c APP`", [*ns, "/usr/bin/tini", "--", "/bin/sh", "-c", shell_app], known))
    return [g1, g2, g3, g4, g5, g6]


def run(env: Env, rounds: int) -> Section:
    start = time.monotonic()
    groups = build_groups(env)
    cases = [c for g in groups for c in g.cases]
    log("entrypoint: %d commands x %d rounds, interleaved" % (len(cases), rounds))
    interleave(cases, rounds, warmup=2)
    section = Section("1. Entrypoint overhead")
    section.intro = (
        "Median wall time of one run (spawn to exit, `posix_spawn` + `waitpid`, %d alternating rounds after 2"
        " warm-up rounds), its interquartile range and minimum, and the ratio of medians to the group's floor."
        " APP is `V/bin/python -c pass`, V a venv made by `python3 -m pyenvboot init` on /usr/bin/python3, with"
        " the environment of the example image (the `ENV` lines `init` prints: V/bin first on PATH, BASH_ENV and"
        " ENV pointing at the hook)." % rounds
    )
    for group in groups:
        floor = group.floor.median_ms
        rows = [
            [c.name, "%.2f" % c.median_ms, c.spread_ms, "%.2f" % c.min_ms, ratio(c.median_ms, floor)]
            for c in group.cases
        ]
        section.tables.append(
            Table(["command", "median ms", "IQR ms", "min ms", "vs floor"], rows, "**%s**" % group.title)
        )
    g1, g2, _, g4, g5, _ = groups
    floor1 = g1.floor.median_ms
    for case in g1.cases[1:5]:
        r = case.median_ms / floor1
        section.targets.append(
            Target("exec overhead: " + case.name, "<= %.1fx floor" % TARGET, "%.2fx" % r, r <= TARGET)
        )
    floor2 = g2.floor.median_ms
    for case in g2.cases[1:3]:
        r = case.median_ms / floor2
        section.targets.append(
            Target("exec, nameless UID: " + case.name, "<= %.1fx floor" % TARGET, "%.2fx" % r, r <= TARGET)
        )
    for group in (g4, g5):
        floor = group.floor.median_ms
        for case in group.cases[1:]:
            extra = case.median_ms - floor
            section.targets.append(
                Target(
                    "hook, %s: %s" % (group.title.split(", ", 1)[1], case.name),
                    "cheap (<= %.1fx `bash -c true`)" % TARGET,
                    "%.2fx (%+.1f ms)" % (case.median_ms / floor, extra),
                    case.median_ms / floor <= TARGET,
                )
            )
    is_ms = next(c for c in g1.cases if "-I -S" in c.name).median_ms
    true_ms = next(c for c in g1.cases if c.name.startswith("`/bin/true`")).median_ms
    section.notes.append(
        "The floor of any entrypoint that runs Python before the app: a second interpreter start."
        " `python -I -S -c pass` takes %.1f ms here, `/bin/true` %.1f ms, so a Python `exec` can at best be"
        " (%.1f + %.1f) / %.1f = %.2fx of the floor."
        % (is_ms, true_ms, floor1, is_ms, floor1, (floor1 + is_ms) / floor1)
    )
    reference = next(c for c in g2.cases if c.name == FIRST_START_FLOOR).median_ms
    section.notes.append(
        "The floor of a nameless UID's first start through the launcher: a shell that makes two files before the"
        " app, %.1f ms here, %.2fx of the floor. The launcher's first start adds one pass over /etc/passwd, and"
        " reading /proc/self/status, the boot id and /proc/1/stat (for the started-container marker), each by"
        " dash's read builtin, which takes a byte per read(2)." % (reference, reference / floor2)
    )
    section.seconds = time.monotonic() - start
    return section
