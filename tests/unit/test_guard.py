"""The start-up guard's line, as ``site`` runs it: only the group-write bit of the umask changes."""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

from pyenvboot.runtime.guard import PID1_MODULE, PTH_LINE, PTH_TEXT


@pytest.fixture
def saved_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_pth_runs_one_import_line() -> None:
    code = [line for line in PTH_TEXT.splitlines() if line and not line.startswith("#")]
    assert code == [PTH_LINE] and PTH_LINE.startswith("import ")  # site.addpackage exec()s only such lines


def test_the_line_clears_only_the_group_write_bit(saved_umask: None) -> None:
    for mask in range(0o1000):
        os.umask(mask)
        exec(PTH_LINE, {})
        assert os.umask(0o022) == mask & ~0o020
    assert PID1_MODULE not in sys.modules  # not PID 1: the handler module is never imported
