"""Shared fixtures: tier markers by directory, shared temp dirs other UIDs can reach, wheels."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.support.ci import missing
from tests.support.pipenv import isolated_environ
from tests.support.seed import SEED, generator, replay
from tests.support.tmp import reachable_tmpdir, sticky_dir
from tests.support.wheels import build_wheel

REPO = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Each test gets the marker of its tier directory, so ``-m unit`` etc. select tiers."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        tier = {"unit": "unit", "integration": "integration", "hardening": "integration", "container": "container"}
        if parts and parts[0] in tier:
            item.add_marker(getattr(pytest.mark, tier[parts[0]]))


def pytest_report_header() -> str:
    return "random seed: %d (%s replays it)" % (SEED, replay())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: "pytest.CallInfo[None]") -> Iterator[None]:
    """Every failure says the seed its random choices came from."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        report.sections.append(("random seed", "%s replays this test's random choices" % replay()))


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """The test's own generator, seeded from the session seed and the test's name."""
    return generator(request.node.nodeid)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A temp dir that any UID can traverse (pytest's tmp_path is 0700, root's alone)."""
    with reachable_tmpdir("pyenvboot-test-") as path:
        yield path


@pytest.fixture(scope="session")
def readable_source() -> Iterator[Path]:
    """A copy of the package that other UIDs can import (a CI clone may live in a 0700 dir)."""
    with reachable_tmpdir("pyenvboot-src-") as path:
        shutil.copytree(REPO / "pyenvboot", path / "pyenvboot", ignore=shutil.ignore_patterns("__pycache__"))
        for p in path.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        yield path


@pytest.fixture
def environ(readable_source: Path, shared_dir: Path) -> Dict[str, str]:
    """A clean environment: pip isolated from the machine's config, pyenvboot importable by any UID.

    TMPDIR is the test's own (sticky, world-writable like /tmp), so identities that
    pyenvboot leaves for a UID there do not leak from one test into the next.
    """
    tmp = sticky_dir(shared_dir / "tmp")
    return isolated_environ(PYTHONPATH=str(readable_source), PATH="/usr/local/bin:/usr/bin:/bin", TMPDIR=str(tmp))


@pytest.fixture(scope="session")
def system_python() -> str:
    """Debian's python3: readable by every UID, unlike the pyenv ones in root's home."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        missing("no %s on this machine (Debian: python3)" % SYSTEM_PYTHON)
    return SYSTEM_PYTHON


@pytest.fixture(scope="session")
def wheelhouse() -> Iterator[Path]:
    """Tiny real wheels: demo 1.0 and 2.0, extra 1.0, and needs-demo (requires demo>=2)."""
    with reachable_tmpdir("pyenvboot-wheels-") as path:
        build_wheel(path, "demo", "1.0")
        build_wheel(path, "demo", "2.0")
        build_wheel(path, "extra", "1.0")
        build_wheel(path, "needs-demo", "1.0", requires=["demo>=2"])
        for wheel in path.iterdir():
            wheel.chmod(0o644)
        yield path


@pytest.fixture(autouse=True)
def host_passwd_untouched() -> Iterator[None]:
    """No test may change the machine's /etc/passwd: restore it and fail the test that did."""
    path = Path("/etc/passwd")
    before = (path.read_bytes(), path.stat().st_mode, path.stat().st_gid)
    yield
    after = (path.read_bytes(), path.stat().st_mode, path.stat().st_gid)
    if after != before:
        path.write_bytes(before[0])
        os.chmod(path, before[1] & 0o7777)
        os.chown(path, -1, before[2])
        pytest.fail("the test changed the host's /etc/passwd (restored); use a chroot or a container")
