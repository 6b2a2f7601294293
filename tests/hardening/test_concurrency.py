"""Concurrency: several ``pyenvboot pip install`` at once into one venv.

The runs overlap (the same project) and conflict (different pins of it); whatever
order the lock gives them, the venv must end consistent: one ``.dist-info`` per
project, every RECORD complete, ``pip check`` and ``check`` clean, and the pinned
version one of the pins. A second test shows the lock itself: a run waits, and
touches nothing, while someone else holds it.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from tests.hardening.support import (
    check_problems,
    dist_infos,
    installed_versions,
    pyenvboot,
    snapshot,
    venv_problems,
)
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.integration

RUNS: List[List[str]] = [
    ["demo==1.0", "extra"],
    ["demo==2.0"],
    ["demo", "extra==1.0", "other"],
    ["demo==1.0", "other==1.0"],
    ["extra", "demo==2.0"],
]


@pytest.fixture(scope="module")
def wheels(base: Path) -> Path:
    path = base / "cwheels"
    # Many files per wheel: a longer install, so unlocked runs would interleave.
    files = {"pkg%d/mod%d.py" % (i % 4, i): "x = %d\n" % i for i in range(150)}
    for name, version in [("demo", "1.0"), ("demo", "2.0"), ("extra", "1.0"), ("other", "1.0")]:
        module = {name + "/__init__.py": "__version__ = %r\n" % version}
        build_wheel(path, name, version, files={**module, **{name + "/" + k: v for k, v in files.items()}})
    return path


def install(venv: Path, wheels: Path, requirements: List[str]) -> List[str]:
    options = ["install", "-q", "--no-index", "--find-links", str(wheels)]
    return pyenvboot() + ["pip", "--venv", str(venv), *options, *requirements]


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_installs_leave_one_dist_info_per_project(
    round_: int, module_venv: Path, wheels: Path, henv: Dict[str, str]
) -> None:
    procs = [
        subprocess.Popen(install(module_venv, wheels, r), env=henv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for r in RUNS
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(RUNS), results
    counts = {k: len(v) for k, v in dist_infos(module_venv).items() if k in ("demo", "extra", "other")}
    assert counts == {"demo": 1, "extra": 1, "other": 1}
    assert installed_versions(module_venv, henv, ["demo"])["demo"] in ("1.0", "2.0")
    assert venv_problems(module_venv, henv) == []
    assert check_problems(module_venv, henv) == []


def test_a_run_waits_for_the_lock_and_touches_nothing_meanwhile(
    module_venv: Path, wheels: Path, henv: Dict[str, str]
) -> None:
    site = next(module_venv.glob("lib/python3*/site-packages"))
    fd = os.open(module_venv, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another pyenvboot run would
        before = snapshot(site)
        proc = subprocess.Popen(
            install(module_venv, wheels, ["demo==2.0", "other==1.0"]),
            env=henv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("pyenvboot: waiting for another pyenvboot run to finish with %s" % module_venv)
        assert proc.poll() is None
        assert snapshot(site) == before
    finally:
        os.close(fd)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert installed_versions(module_venv, henv, ["demo"]) == {"demo": "2.0"}
