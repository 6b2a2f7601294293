"""The test harness's choice of kill points: every part of a run, reproducible from the seed."""

from __future__ import annotations

import random

from tests.support.killpoints import spread


def test_spread_draws_one_point_from_each_slice_plus_both_ends() -> None:
    points = spread(100, 5, random.Random(1))
    assert points[0] == 1 and points[-1] == 100
    for lo in range(1, 100, 20):
        assert [p for p in points if lo <= p < lo + 20], (lo, points)
    assert len(points) <= 7


def test_spread_is_reproducible_from_the_seed_and_varies_with_it() -> None:
    assert spread(700, 20, random.Random(7)) == spread(700, 20, random.Random(7))
    assert len({tuple(spread(700, 20, random.Random(seed))) for seed in range(5)}) == 5


def test_spread_of_fewer_changes_than_points_takes_them_all() -> None:
    assert spread(3, 8, random.Random(0)) == [1, 2, 3]
