"""The permission policy as a pure function of a mode."""

from __future__ import annotations

import os
import stat

import pytest

from pyenvboot.errors import PermissionPolicyError
from pyenvboot.permissions.policy import needed, resolve_group, wanted_mode

DIR = stat.S_IFDIR
REG = stat.S_IFREG


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (REG | 0o644, 0o664),
        (REG | 0o755, 0o775),
        (REG | 0o600, 0o660),
        (REG | 0o700, 0o770),
        (REG | 0o666, 0o664),  # world-write is removed
        (REG | 0o4755, 0o4775),  # other bits are kept
        (REG | 0o664, 0o664),
        (DIR | 0o755, 0o2775),
        (DIR | 0o700, 0o2770),
        (DIR | 0o777, 0o2775),
        (DIR | 0o2775, 0o2775),
        (DIR | 0o1777, 0o3775),
    ],
)
def test_wanted_mode(mode: int, expected: int) -> None:
    assert wanted_mode(mode) == expected


def test_wanted_mode_only_adds_apart_from_world_write() -> None:
    for perm in range(0o10000):
        for kind in (DIR, REG):
            new = wanted_mode(kind | perm)
            assert (perm & ~stat.S_IWOTH) & ~new == 0
            assert not new & stat.S_IWOTH


def _st(mode: int, gid: int) -> os.stat_result:
    return os.stat_result((mode, 1, 1, 1, 0, gid, 0, 0, 0, 0))


def test_needed_is_none_for_compliant_entries() -> None:
    assert needed(_st(REG | 0o664, 0), 0) == (None, None)
    assert needed(_st(DIR | 0o2775, 0), 0) == (None, None)
    assert needed(_st(stat.S_IFLNK | 0o777, 5), 0) == (None, None)


def test_needed_reports_group_and_mode() -> None:
    assert needed(_st(REG | 0o644, 5), 0) == (0, 0o664)
    assert needed(_st(REG | 0o664, 5), 0) == (0, None)


def test_resolve_group() -> None:
    assert resolve_group(None) == 0
    assert resolve_group("1234") == 1234
    assert resolve_group("root") == 0
    with pytest.raises(PermissionPolicyError, match="unknown group 'no-such-group'"):
        resolve_group("no-such-group")


def test_compliant_agrees_with_needed() -> None:
    """The walk's inlined check is exactly "needed() has nothing to do"."""
    from pyenvboot.permissions.policy import compliant

    for kind in (DIR, REG, stat.S_IFLNK):
        for perm in range(0o10000):
            for gid in (0, 5):
                st = _st(kind | perm, gid)
                assert compliant(st, 0) == (needed(st, 0) == (None, None)), oct(kind | perm)


def test_special_kind_names_device_nodes_fifos_and_sockets_only() -> None:
    from pyenvboot.permissions.policy import special_kind

    assert special_kind(stat.S_IFCHR | 0o600) == "character device"
    assert special_kind(stat.S_IFBLK | 0o600) == "block device"
    assert special_kind(stat.S_IFIFO | 0o600) == "FIFO"
    assert special_kind(stat.S_IFSOCK | 0o600) == "socket"
    for kind in (REG, DIR, stat.S_IFLNK):
        assert special_kind(kind | 0o777) is None


@pytest.mark.parametrize(
    ("args", "known"),
    [
        (["install", "-r", "req.txt"], True),
        (["uninstall", "-y", "demo"], True),
        (["install", "--upgrade", "pip"], True),
        (["list"], False),  # not an install: the whole venv is walked, as before
        (["-q", "install", "demo"], False),  # a global option first: not recognised, so walked
        (["install", "--target", "/opt/x", "demo"], False),
        (["install", "--target=/opt/x", "demo"], False),
        (["install", "-t", "/opt/x", "demo"], False),
        (["install", "-qt", "/opt/x", "demo"], False),
        (["install", "--prefix=/opt/venv/x", "demo"], False),
        (["install", "--root", "/", "demo"], False),
        (["install", "--user", "demo"], False),
        (["install", "--", "--target"], True),  # after "--" it is a requirement, not an option
        ([], False),
    ],
)
def test_pip_changes_known(args: list, known: bool) -> None:  # type: ignore[type-arg]
    from pyenvboot.installers.pip import pip_changes_known

    assert pip_changes_known(args) is known
