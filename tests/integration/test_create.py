"""Creating the venv on every base: a pip wheel, else virtualenv, else one clear message.

A base without ensurepip wheels (Debian or Ubuntu without python3-venv) is made
for real: the tests run init in a private mount namespace in which Debian's
/usr/share/python-wheels is an empty directory. The interpreter with
``virtualenv`` is the one running the tests (``virtualenv`` is in
tests/requirements.txt); with its ensurepip wheels hidden too, it is exactly
Debian with python3-virtualenv but without python3-venv.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from tests.integration._checkhelpers import (  # noqa: F401  (fixtures)
    env_fixture,
    has_module,
    hiding,
    problems,
    pyenvboot,
    run,
    site_packages,
    unshare_works,
)
from tests.support.ci import missing

pytestmark = pytest.mark.integration

DEBIAN_WHEELS = "/usr/share/python-wheels"


def bundled(python: str) -> str:
    """Where ``python``'s ensurepip keeps its pip wheel (Debian's has none there)."""
    code = "import importlib.util as u, os; s = u.find_spec('ensurepip'); print(os.path.dirname(s.origin) if s else '')"
    found = run([python, "-I", "-c", code], {}).stdout.strip()
    return os.path.join(found, "_bundled") if found else ""


@pytest.fixture
def no_wheels(shared_dir: Path, system_python: str) -> List[str]:
    """A command prefix under which no pip wheel is left: Debian's and ensurepip's are empty directories."""
    if not unshare_works():
        missing("needs root and a private mount namespace (unshare -m)")
    empty = shared_dir / "empty"
    empty.mkdir()
    return hiding([DEBIAN_WHEELS, bundled(sys.executable), bundled(system_python)], empty)


@pytest.fixture(scope="module")
def with_virtualenv() -> str:
    """An interpreter with the virtualenv module: the one running the tests."""
    if not has_module(sys.executable, "virtualenv"):
        missing("virtualenv is not installed for %s (it is in tests/requirements.txt)" % sys.executable)
    return sys.executable


def leftovers(parent: Path) -> List[str]:
    return sorted(p.name for p in parent.iterdir() if "pyenvboot" in p.name)


def pip_works(venv: Path, env: Dict[str, str]) -> str:
    proc = run([str(venv / "bin/pip"), "--version"], env)
    assert proc.returncode == 0, proc.stderr
    assert "from %s/" % site_packages(venv) in proc.stdout
    return proc.stdout


def test_creator_virtualenv_seeds_pip_through_the_bases_virtualenv(
    shared_dir: Path, readable_source: Path, env: Dict[str, str], with_virtualenv: str, wheelhouse: Path
) -> None:
    venv = shared_dir / "venv"
    cmd = pyenvboot(readable_source) + ["init", "--venv", str(venv), "--no-home", "--creator", "virtualenv"]
    proc = run(cmd + ["--python", with_virtualenv], env)
    assert proc.returncode == 0, proc.stderr
    pip_works(venv, env)
    installer = next(site_packages(venv).glob("pip-*.dist-info")) / "INSTALLER"
    assert installer.read_text().strip() == "pip"  # virtualenv's pip put it there, not our unpacker
    assert (venv / "bin/pip").read_text().startswith("#!%s/bin/python\n" % venv)  # not the scratch env's
    assert not list(venv.glob(".pyenvboot-*")) and leftovers(shared_dir) == []
    proc = run(
        pyenvboot(readable_source)
        + ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse), "demo"],
        env,
    )
    assert proc.returncode == 0, proc.stderr
    found = problems(run(pyenvboot(readable_source) + ["check", "--venv", str(venv)], env).stdout)
    # A base in root's 0700 home (a pyenv test interpreter) is reported; nothing else may be.
    assert [line for line in found if " is out of reach for other UIDs" not in line] == []


def test_auto_falls_back_to_virtualenv_when_no_pip_wheel_exists(
    shared_dir: Path, readable_source: Path, env: Dict[str, str], with_virtualenv: str, no_wheels: List[str]
) -> None:
    venv = shared_dir / "venv"
    proc = run(
        no_wheels
        + pyenvboot(readable_source)
        + ["init", "--venv", str(venv), "--no-home", "--python", with_virtualenv],
        env,
    )
    assert proc.returncode == 0, proc.stderr
    pip_works(venv, env)
    assert next(site_packages(venv).glob("pip-*.dist-info/INSTALLER")).read_text().strip() == "pip"


def test_auto_seeds_from_a_wheel_without_running_pip_when_there_is_one(
    shared_dir: Path, readable_source: Path, env: Dict[str, str], with_virtualenv: str
) -> None:
    if not list(Path(DEBIAN_WHEELS).glob("pip-*.whl")) and not list(Path(bundled(with_virtualenv)).glob("pip-*")):
        missing("no pip wheel for %s (Debian: python3-pip-whl)" % with_virtualenv)
    venv = shared_dir / "venv"
    proc = run(
        pyenvboot(readable_source) + ["init", "--venv", str(venv), "--no-home", "--python", with_virtualenv], env
    )
    assert proc.returncode == 0, proc.stderr
    pip_works(venv, env)
    assert next(site_packages(venv).glob("pip-*.dist-info/INSTALLER")).read_text().strip() == "pyenvboot"


def test_no_pip_anywhere_is_one_message_naming_the_remedies_and_nothing_is_left(
    shared_dir: Path, readable_source: Path, system_python: str, env: Dict[str, str], no_wheels: List[str]
) -> None:
    if has_module(system_python, "virtualenv"):
        missing("%s without virtualenv (Debian: apt-get remove python3-virtualenv)" % system_python)
    venv = shared_dir / "new" / "venv"
    proc = run(no_wheels + pyenvboot(readable_source, system_python) + ["init", "--venv", str(venv), "--no-home"], env)
    assert proc.returncode == 8
    assert proc.stderr == (
        "error: no pip for %s: it has no ensurepip wheel and no virtualenv module; install python3-venv or"
        " python3-virtualenv in the image, pass --pip-wheel FILE or --wheelhouse DIR, or use --without-pip\n"
        % system_python
    )
    assert not (shared_dir / "new").exists()  # not even the parent it made
    assert leftovers(shared_dir) == []


@pytest.mark.parametrize(
    ("creator", "message"),
    [
        ("venv", "error: --creator venv: no pip wheel for "),
        ("virtualenv", "error: --creator virtualenv: %s has no virtualenv module; install python3-virtualenv"),
    ],
)
def test_an_explicit_creator_that_cannot_work_says_so(
    shared_dir: Path,
    readable_source: Path,
    system_python: str,
    env: Dict[str, str],
    no_wheels: List[str],
    creator: str,
    message: str,
) -> None:
    if has_module(system_python, "virtualenv"):
        missing("%s without virtualenv (Debian: apt-get remove python3-virtualenv)" % system_python)
    venv = shared_dir / "venv"
    cmd = pyenvboot(readable_source, system_python) + ["init", "--venv", str(venv), "--no-home", "--creator", creator]
    proc = run(no_wheels + cmd, env)
    assert proc.returncode == 8
    assert proc.stderr.startswith(message.replace("%s", system_python)) and proc.stderr.count("\n") == 1
    assert not venv.exists() and leftovers(shared_dir) == []


@pytest.mark.parametrize("option", ["--pip-wheel", "--wheelhouse"])
def test_a_pip_wheel_the_user_points_at(
    shared_dir: Path,
    readable_source: Path,
    system_python: str,
    env: Dict[str, str],
    no_wheels: List[str],
    option: str,
) -> None:
    wheels = sorted(Path(DEBIAN_WHEELS).glob("pip-*.whl"))
    if not wheels:
        missing("no pip wheel in %s to copy (Debian: python3-pip-whl)" % DEBIAN_WHEELS)
    house = shared_dir / "wheelhouse"
    house.mkdir()
    shutil.copy(wheels[-1], house)
    value = str(house / wheels[-1].name) if option == "--pip-wheel" else str(house)
    venv = shared_dir / "venv"
    cmd = pyenvboot(readable_source, system_python) + ["init", "--venv", str(venv), "--no-home", option, value]
    proc = run(no_wheels + cmd, env)
    assert proc.returncode == 0, proc.stderr
    assert "pip %s " % wheels[-1].name.split("-")[1] in pip_works(venv, env)


def test_an_empty_directory_is_replaced_in_one_step(
    shared_dir: Path, readable_source: Path, system_python: str, env: Dict[str, str]
) -> None:
    venv = shared_dir / "venv"
    venv.mkdir()
    before = venv.stat().st_ino
    proc = run(pyenvboot(readable_source, system_python) + ["init", "--venv", str(venv), "--no-home"], env)
    assert proc.returncode == 0, proc.stderr
    assert venv.stat().st_ino != before  # the finished staging directory was renamed over it
    assert "created venv" in proc.stdout
    pip_works(venv, env)
