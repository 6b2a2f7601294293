"""``fix_tree`` with several worker processes does what one process does, on real random trees.

Each tree is built twice from one seeded generator (the seed is printed on failure):
one copy is fixed by one process, the other by several, and every entry's mode and
group, and the report, must come out the same. A worker that dies makes the tree be
walked again here, so nothing is left unfixed.
"""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from pyenvboot.permissions import parallel, policy

pytestmark = pytest.mark.integration

GROUPS = (0, 1, 65534)


def build(root: Path, rng: random.Random, dirs: int) -> None:
    """A tree of ``dirs`` directories, wide and deep, with files, symlinks, FIFOs and random modes."""
    root.mkdir()
    made = [root]
    for i in range(dirs):
        # The first ones under the root, so that the top has more subtrees than the workers take
        # (MAX_WORKERS x JOBS_PER_WORKER): the workers always get jobs. Then mostly deep, sometimes wide.
        top = i < parallel.MAX_WORKERS * parallel.JOBS_PER_WORKER
        parent = root if top else rng.choice(made[-12:] if rng.random() < 0.7 else made)
        d = parent / ("d%d" % i)
        d.mkdir()
        made.append(d)
        for j in range(rng.randrange(0, 6)):
            f = d / ("f%d" % j)
            f.write_text("x")
            os.chmod(f, rng.choice((0o600, 0o644, 0o755, 0o700, 0o666, 0o777, 0o4755, 0o640)))
            os.chown(f, -1, rng.choice(GROUPS))
        if rng.random() < 0.1:
            (d / "link").symlink_to(rng.choice(("/etc/passwd", "../f0", "nowhere")))
        if rng.random() < 0.03:
            os.mkfifo(d / "fifo", 0o600)
    for d in made:  # modes last: a 0500 directory could not have been filled
        os.chmod(d, rng.choice((0o700, 0o755, 0o2775, 0o777, 0o750, 0o1777)))
        os.chown(d, -1, rng.choice(GROUPS))


def state(root: Path) -> Dict[str, Tuple[int, int]]:
    """Relative path -> (mode, gid) of every entry, symlinks not followed."""
    out = {}
    for directory, dirs, files in os.walk(root):
        for name in [""] + dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_gid)
    return out


def report_of(r: policy.Report, root: Path) -> Tuple[int, int, List[str], List[str]]:
    def rel(lines: List[str]) -> List[str]:
        return [line.replace(str(root), "ROOT") for line in lines]

    return r.scanned, r.changed, rel(r.skipped), rel(r.special)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to set other groups")
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_fix_a_tree_as_one_process_does(
    tmp_path: Path, rng: random.Random, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = rng.randrange(2**32)
    one, many = tmp_path / "one", tmp_path / "many"
    for root in (one, many):
        build(root, random.Random(seed), 300)
    assert state(one).keys() == state(many).keys()
    spread: List[int] = []
    real_run = parallel._run_workers

    def run_workers(jobs: List[parallel.Job], *args: object) -> bool:
        spread.append(len(jobs))
        return real_run(jobs, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "_run_workers", run_workers)
    by_one = policy.fix_tree(str(one), 0, workers=1)
    by_many = policy.fix_tree(str(many), 0, workers=workers)
    assert len(spread) == 1 and spread[0] >= workers * parallel.JOBS_PER_WORKER  # the workers had subtrees
    assert state(many) == state(one)
    assert report_of(by_many, many) == report_of(by_one, one)
    assert by_one.changed > 100 and by_one.special  # the tree had work, and entries left alone
    assert policy.fix_tree(str(many), 0, workers=workers).changed == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to set other groups")
def test_a_worker_that_dies_leaves_nothing_unfixed(
    tmp_path: Path, rng: random.Random, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = rng.randrange(2**32)
    one, many = tmp_path / "one", tmp_path / "many"
    for root in (one, many):
        build(root, random.Random(seed), 200)
    parent = os.getpid()
    real_apply, real_work = policy.apply, parallel._work
    results: List[bool] = []
    real_spread = parallel.fix_spread

    def dying_apply(*args: object) -> None:
        if os.getpid() != parent:
            # A worker killed half-way through its subtrees, at its first change: what a killed worker
            # changed is not counted (it never reports), so it dies before changing anything.
            os.kill(os.getpid(), 9)
        real_apply(*args)  # type: ignore[arg-type]

    def dying_work(*args: object) -> None:
        real_work(*args)  # type: ignore[arg-type]
        if os.getpid() != parent:
            os.kill(os.getpid(), 9)  # a worker the parent left no work to (or too little) dies all the same

    def spread(*args: object) -> bool:
        results.append(real_spread(*args))  # type: ignore[arg-type]
        return results[-1]

    monkeypatch.setattr(parallel, "_work", dying_work)
    monkeypatch.setattr(policy, "apply", dying_apply)
    monkeypatch.setattr(parallel, "fix_spread", spread)
    by_many = policy.fix_tree(str(many), 0, workers=2)
    monkeypatch.undo()
    by_one = policy.fix_tree(str(one), 0, workers=1)
    assert results == [False]  # the worker died, so the tree was walked again here
    assert state(many) == state(one)
    assert (by_many.scanned, by_many.changed) == (by_one.scanned, by_one.changed)


def test_big_subtrees_are_handed_out_first(tmp_path: Path) -> None:
    """Jobs come biggest first by link count, so the largest subtree is not left for last."""
    for name, subdirs in (("small", 1), ("big", 9), ("mid", 4)):
        for i in range(subdirs):
            (tmp_path / "t" / name / str(i)).mkdir(parents=True)
    st = os.lstat(tmp_path / "t")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    held: List[int] = []
    try:
        jobs = parallel._top(fd, "t", str(tmp_path / "t"), st, policy.Report(), st.st_gid, False, 2, held)
    finally:
        for h in held + [fd]:
            os.close(h)
    assert [os.path.basename(job[2]) for job in jobs] == ["big", "mid", "small"]
    assert stat.S_ISDIR(jobs[0][3].st_mode)
