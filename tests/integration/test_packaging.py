"""The package as a user gets it: ``python -m build`` output, ``twine check``, ``pip install`` and ``pip install .``.

Offline: the build uses the test venv's setuptools (``--no-isolation``); ``pip install .``
builds in pip's isolated environment from a local directory of setuptools wheels.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from pyenvboot import __version__
from tests.container.wheelcache import REPO_ROOT, fetch
from tests.integration._checkhelpers import clean_env, run
from tests.integration._zipapp import carried_wheel_file, wheel_cache_fixture, zipapp_fixture  # noqa: F401
from tests.support.tmp import reachable_tmpdir

pytestmark = pytest.mark.integration

# What a checkout has besides the package that must not reach the sdist (the build reads the tree, not git).
NOT_SOURCE = (".git", "dist", "build", "*.egg-info", "__pycache__", "*.pyc", ".*_cache", ".venv")


def source_copy(dest: Path) -> Path:
    """The checkout as a user has it: everything, caches and build output left out."""
    shutil.copytree(REPO_ROOT, dest, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    return dest


@pytest.fixture(scope="module")
def dists() -> Iterator[Tuple[Path, Path]]:
    """``python -m build``: the sdist, and the wheel built from that sdist."""
    with reachable_tmpdir("pyenvboot-build-") as tmp:
        src = source_copy(tmp / "src")
        out = tmp / "dist"
        proc = run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)], clean_env())
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        (sdist,) = out.glob("pyenvboot-*.tar.gz")
        (wheel,) = out.glob("pyenvboot-*-py3-none-any.whl")
        for path in (sdist, wheel):
            path.chmod(0o644)
        yield sdist, wheel


def test_twine_check_accepts_the_sdist_and_the_wheel(dists: Tuple[Path, Path]) -> None:
    proc = run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dists)], clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_sdist_holds_the_package_readme_and_build_files_only(dists: Tuple[Path, Path]) -> None:
    sdist, _ = dists
    root = "pyenvboot-%s/" % __version__
    with tarfile.open(sdist) as tf:
        names = [m.name for m in tf.getmembers() if m.isfile()]
    assert all(n.startswith(root) for n in names), names
    rel = {n[len(root) :] for n in names}
    modules = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "pyenvboot").rglob("*.py")}
    licences = {p.name for p in REPO_ROOT.glob("LICEN[CS]E*")}
    assert modules | licences | {"README.md", "setup.py", "setup.cfg", "pyproject.toml", "PKG-INFO"} <= rel
    extra = {n for n in rel if not n.startswith(("pyenvboot/", "pyenvboot.egg-info/"))}
    assert extra == licences | {"README.md", "setup.py", "setup.cfg", "pyproject.toml", "PKG-INFO"}
    assert not [n for n in rel if n.endswith((".pyc", ".whl", ".pyz"))]
    assert {n for n in rel if n.startswith("pyenvboot/")} == modules


def test_wheel_metadata(dists: Tuple[Path, Path]) -> None:
    _, wheel = dists
    with zipfile.ZipFile(wheel) as zf:
        tops = {n.split("/")[0] for n in zf.namelist()}
        meta = zf.read("pyenvboot-%s.dist-info/METADATA" % __version__).decode()
    assert tops == {"pyenvboot", "pyenvboot-%s.dist-info" % __version__}
    assert "Requires-Python: >=3.8" in meta.splitlines()
    # No runtime dependency: packaging and virtualenv are extras (the runtime path is stdlib only).
    assert [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line] == []


def debian_venv(path: Path) -> Path:
    """A venv as Debian 12 makes it: ``/usr/bin/python3 -m venv``, with Debian's pip (23.0.1)."""
    proc = run(["/usr/bin/python3", "-m", "venv", str(path)], clean_env())
    assert proc.returncode == 0, proc.stderr
    return path


def test_wheel_installs_and_runs(dists: Tuple[Path, Path], shared_dir: Path) -> None:
    _, wheel = dists
    venv = debian_venv(shared_dir / "tool")
    env = clean_env()
    proc = run([str(venv / "bin" / "pip"), "install", "--no-index", str(wheel)], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    version = run([str(venv / "bin" / "pyenvboot"), "--version"], env)
    assert version.stdout.strip() == "pyenvboot %s" % __version__, version.stderr
    target = shared_dir / "app"
    proc = run([str(venv / "bin" / "pyenvboot"), "init", "--venv", str(target), "--no-home"], env)
    assert proc.returncode == 0, proc.stderr
    pip = run([str(target / "bin" / "pip"), "--version"], env)
    assert pip.returncode == 0 and pip.stdout.startswith("pip "), pip.stdout + pip.stderr


@pytest.fixture(scope="module")
def backend_wheels() -> Path:
    """setuptools and wheel as wheels, for pip's isolated build environment (cached; the index only once)."""
    return fetch("build-backend", ["--only-binary=:all:", "setuptools", "wheel"])


def current_pip_venv(path: Path, zipapp: Path) -> Path:
    """A Debian venv with pip upgraded to the one the zipapp carries for this Python (current, offline)."""
    venv = debian_venv(path)
    version = run(["/usr/bin/python3", "-c", "import platform; print(platform.python_version())"], clean_env())
    wheel = carried_wheel_file(zipapp, version.stdout.strip(), path.parent)
    proc = run([str(venv / "bin" / "pip"), "install", "--no-index", str(wheel)], clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv


@pytest.mark.parametrize("pip", ["debian", "current"])
def test_pip_install_dot_prints_no_warning(pip: str, backend_wheels: Path, zipapp: Path, shared_dir: Path) -> None:
    """Neither Debian 12's pip (23.0.1) nor a current one falls back to the deprecated ``setup.py install``."""
    venv = debian_venv(shared_dir / "venv") if pip == "debian" else current_pip_venv(shared_dir / "venv", zipapp)
    src = source_copy(shared_dir / "src")
    proc = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-index", "--find-links", str(backend_wheels), "."],
        cwd=src, env=clean_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output: List[str] = (proc.stdout + proc.stderr).splitlines()
    assert [line for line in output if "DEPRECATION" in line or "WARNING" in line] == []
    assert run([str(venv / "bin" / "pyenvboot"), "--version"], clean_env()).stdout.strip().endswith(__version__)
