"""An ``init`` killed at any moment leaves nothing or the previous working venv; the next run completes.

Here the kills fall between init's stages: an audit hook the test installs
(tests/support/killpoints.py, ``at_stage``) makes init SIGKILL itself right after that
stage (every stage of a new venv and of an update is covered). Kills at single
file-system changes inside the stages, for init and for pip, are in
tests/hardening/test_faults.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, List

import pytest

from tests.integration._checkhelpers import env_fixture, pyenvboot, run, site_packages  # noqa: F401  (fixtures)
from tests.support.killpoints import at_stage

pytestmark = pytest.mark.integration

NEW_STAGES = [
    "after:probe",
    "after:ensure_directories",
    "after:write_config",
    "after:link_interpreter",
    "after:install_pip",
    "after:write_guard",
    "after:write_launcher",
    "after:compile_bytecode",
    "after:write_scripts",
    "after:apply_permissions",
    "before:publish",
    "after:publish",
]
UPDATE_STAGES = [
    "after:prepare_update",
    "after:probe",
    "after:check_version",
    "after:ensure_directories",
    "after:repair",
    "after:write_config",
    "after:link_interpreter",
    "after:install_pip",
    "after:write_guard",
    "after:write_launcher",
    "after:compile_bytecode",
    "after:write_scripts",
    "after:apply_permissions",
]


def quiet(env: Dict[str, str]) -> Dict[str, str]:
    return dict(env, PYTHONDONTWRITEBYTECODE="1")


def assert_working(venv: Path, env: Dict[str, str], with_demo: bool = False, with_pip: bool = True) -> None:
    """A complete venv: isolated; its python, pip and launcher start; the hook and activate script are whole."""
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg or with_demo  # an update may be killed before the cfg
    code = "import sys; assert sys.prefix != sys.base_prefix" + ("; import demo" if with_demo else "")
    code += "; import pip" if with_pip else ""
    proc = run([str(venv / "bin/python"), "-c", code], quiet(env))
    assert proc.returncode == 0, proc.stderr
    assert (venv / "share/pyenvboot/hook.sh").read_text().strip()
    launcher = run([str(venv / "bin/pyenvboot"), "env", "--venv", str(venv)], quiet(env))
    assert launcher.returncode == 0, launcher.stderr
    activate = (venv / "bin/activate").read_text()
    assert "deactivate () {" in activate and activate.rstrip().endswith("fi")  # whole, not cut short


def staging_dirs(parent: Path) -> List[str]:
    return [p.name for p in parent.iterdir() if ".pyenvboot-staging-" in p.name]


def init_argv(source: Path, system_python: str, venv: Path) -> List[str]:
    return pyenvboot(source, system_python) + ["init", "--venv", str(venv), "--no-home"]


def complete_again(source: Path, system_python: str, venv: Path, env: Dict[str, str]) -> None:
    proc = run(init_argv(source, system_python, venv), env)
    assert proc.returncode == 0, proc.stderr
    assert_working(venv, env)
    assert staging_dirs(venv.parent) == []
    assert not list(venv.glob(".pyenvboot-*")) and not list(venv.glob("lib/python*/.pyenvboot-*"))
    assert run(pyenvboot(source) + ["check", "--venv", str(venv)], env).returncode == 0


@pytest.mark.parametrize("stage", NEW_STAGES)
def test_new_venv_killed_after_each_stage(
    shared_dir: Path, readable_source: Path, system_python: str, env: Dict[str, str], stage: str
) -> None:
    venv = shared_dir / "venv"
    proc = run(init_argv(readable_source, system_python, venv), at_stage(env, stage))
    assert proc.returncode == -9, (proc.returncode, proc.stderr)  # it really died there
    if stage == "after:publish":
        assert_working(venv, env)
    else:
        assert not os.path.lexists(venv)  # nothing at the venv's path, only a hidden staging dir
    complete_again(readable_source, system_python, venv, env)


@pytest.fixture
def damaged(shared_dir: Path, readable_source: Path, system_python: str, env: Dict[str, str], wheelhouse: Path) -> Path:
    """A working venv with demo installed, which init has work to do on: pip removed, isolation off."""
    venv = shared_dir / "venv"
    assert run(init_argv(readable_source, system_python, venv), env).returncode == 0
    pip = pyenvboot(readable_source) + ["pip", "--venv", str(venv)]
    assert run(pip + ["install", "--no-index", "-f", str(wheelhouse), "demo==1.0"], env).returncode == 0
    damage(venv)
    return venv


def damage(venv: Path) -> None:
    site = site_packages(venv)
    shutil.rmtree(site / "pip", ignore_errors=True)  # a killed run may not have put it back
    for info in site.glob("pip-*.dist-info"):
        shutil.rmtree(info)
    cfg = venv / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace("= false", "= true"))


@pytest.mark.parametrize("stage", UPDATE_STAGES)
def test_update_killed_after_each_stage_keeps_the_venv_working(
    damaged: Path, readable_source: Path, system_python: str, env: Dict[str, str], stage: str
) -> None:
    proc = run(init_argv(readable_source, system_python, damaged), at_stage(env, stage))
    assert proc.returncode == -9, (proc.returncode, proc.stderr)
    assert_working(damaged, env, with_demo=True, with_pip=False)
    complete_again(readable_source, system_python, damaged, env)
    assert run([str(damaged / "bin/python"), "-c", "import demo"], quiet(env)).returncode == 0
