"""``fix_tree`` on several CPUs: the top of the tree here, its subtrees in forked workers.

A no-op pass over a big venv is one ``fstatat`` per entry, mostly kernel time that
one process cannot overlap. Threads do not help: every ``fstatat`` drops and takes
back the GIL, and two threads walked a 17,800-entry venv twice as slowly as one.
Processes do: the parent walks the tree breadth first until it has a few
subdirectories per worker (fixing what it meets on the way), then forks; each
process takes subtrees from a pipe of job numbers (all written before the fork,
4 bytes each; Linux copies a read under the pipe's mutex, so each 4-byte read
takes one whole number) and walks them depth first as :func:`policy.walk` does,
from the descriptor of their parent, which the fork shares, so every directory
is still opened ``O_NOFOLLOW`` relative to one already inside the tree. A worker
sends its report back through its own pipe as ``marshal`` data.

When a worker fails (it is killed, or raises), the tree is walked again in this
process: the policy is idempotent, so what the workers did stays done and the
second walk finds the rest. When fork fails, this process takes the jobs alone.
"""

from __future__ import annotations

import marshal
import os
import sys

from pyenvboot.permissions.policy import Report, fix_entries, open_dir, walk_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

    Job = Tuple[int, str, str, os.stat_result]  # parent's descriptor, name, path, lstat

MAX_WORKERS = 4
JOBS_PER_WORKER = 8  # enough subtrees that one big one (numpy's) still leaves work for the others
_JOB = 4  # bytes per job number in the job pipe


def default_workers() -> int:
    """The CPUs this process may run on (its affinity mask, as ``nproc`` counts them), at most MAX_WORKERS.

    One in a process that runs threads: a fork copies only the calling thread, and a lock
    another thread holds stays held in the child (CPython warns from 3.12, gh-100228).
    """
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return 1
    try:
        return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):
        return 1


def fix_spread(
    parent_fd: int, name: str, path: str, st: os.stat_result, report: Report, gid: int, only_owned: bool, workers: int
) -> bool:
    """Fix the directory ``path`` (``name`` in ``parent_fd``) with ``workers`` processes; False when one failed."""
    held: List[int] = []
    try:
        jobs = _top(parent_fd, name, path, st, report, gid, only_owned, workers * JOBS_PER_WORKER, held)
        return not jobs or _run_workers(jobs, report, gid, only_owned, workers)
    finally:
        for fd in held:
            os.close(fd)


def _top(
    parent_fd: int, name: str, path: str, st: os.stat_result, report: Report, gid: int, only_owned: bool,
    want: int, held: List[int],
) -> List[Job]:  # fmt: skip
    """Walk breadth first until a level has ``want`` subdirectories; those are the jobs (their parents in ``held``)."""
    level: List[Job] = [(parent_fd, name, path, st)]
    while level and len(level) < want:
        below: List[Job] = []
        for dir_fd, child, where, cst in level:
            opened = open_dir(dir_fd, child, where, cst, report, gid)
            if opened is None:
                continue
            fd, offenders, subdirs = opened
            held.append(fd)
            fix_entries(offenders, report, gid, only_owned)
            below.extend((fd, sub, where + "/" + sub, sst) for sub, sst in subdirs)
        level = below
    # Biggest first, so that no big subtree is left for last: a directory's link count is 2 plus its
    # subdirectories on ext4, xfs and overlayfs, a size we get for free (others say 1: order kept).
    level.sort(key=lambda job: -job[3].st_nlink)
    return level


def _run_workers(jobs: List[Job], report: Report, gid: int, only_owned: bool, workers: int) -> bool:
    # All job numbers are in the pipe, and its write end closed, before any fork: a worker that
    # inherited the write end would never read EOF. Jobs are grouped so that they fit the pipe's
    # buffer (64 KiB on Linux, pipe(7)) whatever the number of subdirectories.
    groups = min(len(jobs), 4096)
    job_r, job_w = os.pipe()
    try:
        os.write(job_w, b"".join(i.to_bytes(_JOB, "little") for i in range(groups)))
    finally:
        os.close(job_w)
    children: List[Tuple[int, int]] = []
    try:
        for _ in range(workers - 1):
            child = _fork_worker(job_r, jobs, groups, gid, only_owned)
            if child is None:
                break
            children.append(child)
        _work(job_r, jobs, groups, report, gid, only_owned)
    finally:
        os.close(job_r)
        results = [(_read_all(result_r), os.waitpid(pid, 0)[1]) for pid, result_r in children]
    ok = True
    for data, status in results:
        if status != 0 or not data:
            ok = False
            continue
        part = Report()
        part.scanned, part.changed, part.skipped, part.special = marshal.loads(data)
        report.add(part)
    return ok


def _fork_worker(job_r: int, jobs: List[Job], groups: int, gid: int, only_owned: bool) -> Optional[Tuple[int, int]]:
    """(pid, its result pipe) of a worker running :func:`_work`; None when fork fails (this process works on)."""
    result_r, result_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(result_r)
        os.close(result_w)
        return None
    if pid == 0:  # the worker: nothing of the parent's Python (buffers, atexit, finally blocks) may run here
        code = 1
        try:
            os.close(result_r)
            part = Report()
            _work(job_r, jobs, groups, part, gid, only_owned)
            data = marshal.dumps((part.scanned, part.changed, part.skipped, part.special))
            view = memoryview(data)
            while view:
                view = view[os.write(result_w, view) :]
            code = 0
        finally:
            os._exit(code)
    os.close(result_w)
    return pid, result_r


def _work(job_r: int, jobs: List[Job], groups: int, report: Report, gid: int, only_owned: bool) -> None:
    """Take job numbers from the pipe until it is empty; walk and fix each group of subtrees."""
    while True:
        number = os.read(job_r, _JOB)
        if not number:
            return
        for dir_fd, name, path, st in jobs[int.from_bytes(number, "little") :: groups]:
            fix_entries(walk_dir(dir_fd, name, path, st, report, gid), report, gid, only_owned)


def _read_all(fd: int) -> bytes:
    chunks: List[bytes] = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)
