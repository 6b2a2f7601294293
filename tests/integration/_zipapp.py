"""The zipapp built by scripts/build-zipapp, offline, and what it carries; fixtures for the modules that import them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path
from typing import Dict, Iterator

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from pyenvboot.create.seed import CARRIED_DIR
from tests.container.wheelcache import BUILD_ZIPAPP, build_zipapp_module
from tests.integration._checkhelpers import clean_env
from tests.support.tmp import reachable_tmpdir


def build(script: Path, output: Path, wheel_dir: Path, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    env.pop("SOURCE_DATE_EPOCH", None)
    old = os.umask(umask)
    try:
        return subprocess.run(
            [sys.executable, str(script), "--output", str(output), "--wheel-dir", str(wheel_dir)],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    finally:
        os.umask(old)


@pytest.fixture(name="wheel_cache", scope="session")
def wheel_cache_fixture() -> Path:
    """The build script's own cache, as the suite's set-up (scripts/test) left it; never the index here."""
    return Path(build_zipapp_module().default_cache())


@pytest.fixture(name="zipapp", scope="session")
def zipapp_fixture(wheel_cache: Path) -> Iterator[Path]:
    with reachable_tmpdir("pyenvboot-zipapp-") as tmp:
        output = tmp / "pyenvboot.pyz"
        proc = build(BUILD_ZIPAPP, output, wheel_cache)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield output


def carried(zipapp: Path) -> Dict[Version, SpecifierSet]:
    """The carried pip wheels: version -> Requires-Python, read from each wheel's METADATA."""
    out: Dict[Version, SpecifierSet] = {}
    with zipfile.ZipFile(zipapp) as outer:
        for name in outer.namelist():
            if not name.startswith(CARRIED_DIR + "/"):
                continue
            with zipfile.ZipFile(outer.open(name)) as wheel:
                (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
                headers = HeaderParser().parsestr(wheel.read(meta).decode())
            out[Version(headers["Version"])] = SpecifierSet(headers.get("Requires-Python", ""))
    return out


def expected_pip(zipapp: Path, python_version: str) -> Version:
    """The pip a Python of ``python_version`` (X.Y.Z) should get: the newest carried one that supports it."""
    return max(v for v, spec in carried(zipapp).items() if spec.contains(python_version))


def carried_wheel_file(zipapp: Path, python_version: str, dest: Path) -> Path:
    """The carried pip wheel for ``python_version``, copied out of the zipapp into ``dest``."""
    want = expected_pip(zipapp, python_version)
    with zipfile.ZipFile(zipapp) as zf:
        (name,) = [n for n in zf.namelist() if n.startswith("%s/pip-%s-" % (CARRIED_DIR, want))]
        path = dest / name.split("/")[-1]
        path.write_bytes(zf.read(name))
    return path
