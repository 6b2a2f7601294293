"""Fixtures for the hardening tests: module-wide venvs (building one per test would not fit the time budget)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Iterator

import pytest

from tests.hardening.support import SYSTEM_PYTHON, pyenvboot, run
from tests.support.ci import missing
from tests.support.pipenv import isolated_environ
from tests.support.tmp import reachable_tmpdir, sticky_dir


@pytest.fixture(scope="module")
def henv(readable_source: Path) -> Iterator[Dict[str, str]]:
    """The environment every command gets: pip isolated, pyenvboot importable by any UID.

    TMPDIR is the module's own, sticky and world-writable like /tmp, beside its
    other temp dirs (the tests compare those before and after): what the commands
    leave there (identities, started markers, the scratch of a killed build step)
    is removed with it.
    """
    with reachable_tmpdir("pyenvboot-hardening-tmp-") as tmp:
        yield isolated_environ(
            PYTHONPATH=str(readable_source),
            PATH="/usr/local/bin:/usr/bin:/bin",
            HOME="/root",
            TMPDIR=str(sticky_dir(tmp)),
        )


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    """A module-wide temp dir that any UID can traverse."""
    with reachable_tmpdir("pyenvboot-hardening-") as path:
        yield path


@pytest.fixture(scope="module")
def module_venv(base: Path, henv: Dict[str, str]) -> Path:
    """One venv on Debian's python3, made by ``init`` as root, shared by a module's tests."""
    path = base / "venv"
    proc = run(pyenvboot() + ["init", "--venv", str(path), "--no-home"], henv)
    assert proc.returncode == 0, proc.stderr
    return path


@pytest.fixture(scope="session", autouse=True)
def _system_python() -> None:
    if not Path(SYSTEM_PYTHON).exists():
        missing("no %s on this machine (Debian: python3)" % SYSTEM_PYTHON)


@pytest.fixture(scope="session")
def root_and_unshare() -> None:
    """For tests that switch UIDs and make namespaces: root, and util-linux's unshare."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        missing("needs root and unshare (Debian: util-linux)")
