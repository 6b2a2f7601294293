"""Real SIGKILLs at known points: before the Nth change a command makes under a directory.

CPython raises an audit event (PEP 578) before each change to the file system it makes
through ``open`` for writing, ``os.rename``/``os.replace``, ``os.remove``, ``os.mkdir``,
``os.rmdir``, ``os.chmod``, ``os.utime``, ``os.symlink``, ``shutil.rmtree`` and the like.
``killpoint_site/sitecustomize.py``, put on ``PYTHONPATH``, hooks these in every Python
process of the command (pyenvboot and the pip or interpreter probe it starts), numbers the
changes under one directory across the processes, and kills the command's whole process
group before change N, as an OOM kill or a cancelled build does.

A run without N records the changes; a test then kills at each of them, or at a seeded
sample, and every kill lands at a known point whatever the machine's load. What this does
not reach: a file cut short mid-write (``write`` raises no audit event) and changes made by
processes that are not Python.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Sequence

SITE = Path(__file__).resolve().parent / "killpoint_site"


@dataclass
class Killed:
    """A command killed before its ``number``-th change, which was ``change`` (event and path)."""

    number: int
    change: str

    def __str__(self) -> str:
        return "killed before change %d (%s)" % (self.number, self.change)


def _environ(env: Mapping[str, str], state: Path, under: Path, **extra: str) -> Dict[str, str]:
    path = env.get("PYTHONPATH")
    out = dict(env, PYTHONPATH=str(SITE) + (os.pathsep + path if path else ""))
    out.update(TESTS_KILLPOINT_STATE=str(state), TESTS_KILLPOINT_UNDER=str(under))
    out["TESTS_KILLPOINT_SPARE"] = str(os.getpgrp())
    out.update(extra)
    return out


@contextmanager
def _state() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="killpoints-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _changes(state: Path) -> List[str]:
    log = state / "events"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split(" ", 1)[1] for line in lines]


def changes(argv: Sequence[str], env: Mapping[str, str], under: Path) -> List[str]:
    """Run ``argv`` to completion; the changes it made under ``under``, in order ("event path")."""
    with _state() as state:
        proc = subprocess.run(list(argv), env=_environ(env, state, under), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        found = _changes(state)
    assert found, "%s made no change under %s" % (argv, under)
    return found


def kill_before(argv: Sequence[str], env: Mapping[str, str], under: Path, number: int) -> Killed:
    """Run ``argv`` in a session of its own; SIGKILL its process group before its ``number``-th change."""
    with _state() as state:
        proc = subprocess.run(
            list(argv),
            env=_environ(env, state, under, TESTS_KILLPOINT_AT=str(number)),
            capture_output=True,
            text=True,
            timeout=600,
            start_new_session=True,
        )
        made = _changes(state)
    assert proc.returncode == -9 and len(made) == number, (
        "expected a SIGKILL before change %d; exit status %d after %d changes; stderr: %s"
        % (number, proc.returncode, len(made), proc.stderr)
    )
    return Killed(number, made[-1])


def at_stage(env: Mapping[str, str], spec: str) -> Dict[str, str]:
    """``env`` for an ``init`` that SIGKILLs itself at ``spec``, ``before:STAGE`` or ``after:STAGE``.

    ``STAGE`` names a stage of ``pyenvboot.create.builder.VenvBuilder``, which raises the audit
    event ``pyenvboot.init.stage`` around each of them.
    """
    path = env.get("PYTHONPATH")
    return dict(env, PYTHONPATH=str(SITE) + (os.pathsep + path if path else ""), TESTS_KILLPOINT_STAGE=spec)


def spread(count: int, k: int, rng: random.Random) -> List[int]:
    """``k`` change numbers in 1..count, one drawn from each of ``k`` equal slices, plus the first and the last."""
    k = min(k, count)
    bounds = [1 + count * i // k for i in range(k + 1)]
    drawn = {rng.randrange(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo}
    return sorted(drawn | {1, count})


@contextmanager
def paused_before(
    argv: Sequence[str], env: Mapping[str, str], under: Path, number: int, **popen: object
) -> Iterator["tuple[subprocess.Popen[str], int]"]:
    """Start ``argv``; the process about to make change ``number`` waits there until the block ends.

    Yields the command and the PID of the waiting process; leaving the block lets it go on.
    """
    with _state() as state:
        os.mkfifo(state / "paused")
        os.mkfifo(state / "resume")
        environ = _environ(env, state, under, TESTS_KILLPOINT_AT=str(number), TESTS_KILLPOINT_PAUSE="1")
        paused = os.open(state / "paused", os.O_RDONLY | os.O_NONBLOCK)
        proc: subprocess.Popen[str] = subprocess.Popen(list(argv), env=environ, text=True, **popen)  # type: ignore[call-overload]
        exited = os.pidfd_open(proc.pid)
        try:
            said = b""
            while True:  # until the waiting process wrote its PID and closed the FIFO, or the command ended
                ready, _, _ = select.select([paused, exited], [], [], 600)
                assert ready, "no process of %s reached change %d in 600 s" % (argv, number)
                if paused in ready:
                    chunk = os.read(paused, 64)
                    if not chunk:
                        break
                    said += chunk
                elif exited in ready:
                    proc.wait()
                    raise AssertionError("%s ended (status %d) before change %d" % (argv, proc.returncode, number))
            yield proc, int(said)
        finally:
            os.close(paused)
            os.close(exited)
            try:
                os.close(os.open(state / "resume", os.O_WRONLY | os.O_NONBLOCK))  # lets it go on
            except OSError:
                pass  # nobody waits there (ENXIO)


def wait_for_exit(pid: int, timeout: float) -> None:
    """Wait until ``pid``, which need not be our child, has exited (its pidfd becomes readable then)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, "process %d still runs after %s s" % (pid, timeout)
    finally:
        os.close(fd)
