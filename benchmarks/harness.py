"""Timing and bookkeeping shared by every benchmark section.

A run is timed from just before ``posix_spawn`` to just after ``wait4`` returns,
with ``perf_counter_ns``: one spawn, no shell, no pipes to drain. Alternatives
are measured round-robin (A, B, C, A, B, C, ...) so drift in the machine's speed
(other jobs share it) hits them all alike; figures are medians.

Peak memory is not taken from this ``wait4``: a spawned child starts on its
parent's address space (vfork), and Linux carries the high-water mark across
exec, so every child would report this Python's own RSS. :func:`max_rss` asks
GNU time instead, whose fork starts from a process of about 2 MB.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence

DEVNULL = os.devnull


def log(message: str) -> None:
    """Progress on stderr; the report is the only output that matters."""
    sys.stderr.write("bench: %s\n" % message)
    sys.stderr.flush()


@dataclass
class Sample:
    """One run: wall time and exit status."""

    ns: int
    status: int


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    stdout: str = DEVNULL,
    stderr: str = DEVNULL,
    cwd: Optional[str] = None,
) -> Sample:
    """Run ``argv`` (an absolute path first) once; time it with ``perf_counter_ns``."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, DEVNULL, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
    ]
    if cwd is not None:
        # posix_spawn has no chdir action before Python 3.13's; go through env(1)'s -C.
        argv = ["/usr/bin/env", "-C", cwd, *argv]
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], list(argv), dict(env), file_actions=actions)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter_ns() - start
    return Sample(elapsed, os.waitstatus_to_exitcode(status))


@dataclass
class Case:
    """One alternative: a command, its environment and an optional untimed preparation.

    ``prepare`` runs before every timed run and returns extra environment
    variables (e.g. a fresh TMPDIR); ``cleanup`` runs after it, untimed too.
    """

    name: str
    argv: List[str]
    env: Dict[str, str]
    prepare: Optional[Callable[[], Dict[str, str]]] = None
    cleanup: Optional[Callable[[], None]] = None
    cwd: Optional[str] = None
    samples: List[Sample] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(s.ns for s in self.samples) / 1e6

    @property
    def min_ms(self) -> float:
        return min(s.ns for s in self.samples) / 1e6

    @property
    def spread_ms(self) -> str:
        """Interquartile range, so a reader sees how noisy a median is."""
        values = sorted(s.ns / 1e6 for s in self.samples)
        if len(values) < 4:
            return "-"
        q = statistics.quantiles(values, n=4)
        digits = 1 if q[2] < 100 else 0
        return "%.*f-%.*f" % (digits, q[0], digits, q[2])

    def command_text(self) -> str:
        return " ".join(shlex.quote(a) for a in self.argv)


class CommandFailed(RuntimeError):
    """A benchmarked command did not exit 0: the figure would be meaningless."""


def run_once(case: Case) -> Sample:
    extra = case.prepare() if case.prepare else {}
    env = dict(case.env)
    env.update(extra)
    sample = spawn(case.argv, env, cwd=case.cwd)
    if case.cleanup:
        case.cleanup()
    if sample.status != 0:
        err = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pyenvboot-bench-failure.log")
        spawn(case.argv, env, stdout=err, stderr=err, cwd=case.cwd)
        with open(err, encoding="utf-8", errors="replace") as f:
            tail = f.read()[-2000:]
        os.unlink(err)
        raise CommandFailed("%s: exit %d: %s\n%s" % (case.name, sample.status, case.command_text(), tail))
    return sample


def interleave(cases: Sequence[Case], rounds: int, warmup: int = 1) -> None:
    """Run every case once per round, in order, ``warmup`` untimed rounds first."""
    for _ in range(warmup):
        for case in cases:
            run_once(case)
    for _ in range(rounds):
        for case in cases:
            case.samples.append(run_once(case))


def checked(
    argv: Sequence[str],
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    capture: bool = False,
    timeout: float = 900,
) -> str:
    """Run a set-up command; fail with its output's tail when it fails."""
    proc = subprocess.run(
        list(argv),
        env=None if env is None else dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if not capture else subprocess.PIPE,
        timeout=timeout,
        check=False,
    )
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if capture else ""
        raise CommandFailed(
            "exit %d: %s\n%s" % (proc.returncode, " ".join(shlex.quote(a) for a in argv), (out + err)[-3000:])
        )
    return out


GNU_TIME = "/usr/bin/time"


def max_rss(argv: Sequence[str], env: Mapping[str, str], scratch: str) -> int:
    """Peak RSS in KiB of ``argv`` and the children it waited for, as GNU time's fork sees it."""
    out = os.path.join(scratch, "maxrss.%d" % os.getpid())
    sample = spawn([GNU_TIME, "-f", "%M", "-o", out, *argv], env)
    with open(out, encoding="ascii") as f:
        lines = f.read().split()
    os.unlink(out)
    if sample.status != 0:
        raise CommandFailed("exit %d: %s" % (sample.status, " ".join(shlex.quote(a) for a in argv)))
    return int(lines[-1])


def ratio(value: float, floor: float) -> str:
    return "%.2fx" % (value / floor) if floor > 0 else "-"
