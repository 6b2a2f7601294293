"""Shells that bypass the entrypoint still get the venv."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Dict, Iterator

import pytest

from pyenvboot.runtime.environment import activation_changes, apply_changes
from tests.support.proc import ARBITRARY_UID, as_uid, run
from tests.support.pty import interact

pytestmark = pytest.mark.integration


@pytest.fixture
def venv(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> Iterator[Path]:
    path = shared_dir / "venv"
    proc = run([system_python, "-m", "pyenvboot", "init", "--venv", str(path), "--prompt", "app", "--no-home"], environ)
    assert proc.returncode == 0, proc.stderr
    yield path


@pytest.fixture
def image_env(venv: Path, shared_dir: Path, environ: Dict[str, str]) -> Dict[str, str]:
    """What ``docker exec`` gives a process: the image's ENV lines, HOME=/, no USER."""
    home = shared_dir / "home"
    home.mkdir(mode=0o2775)
    home.chmod(0o2775)
    base = {k: v for k, v in environ.items() if k not in ("USER", "LOGNAME", "PS1")}
    base.update(HOME="/", PYENVBOOT_HOME=str(home))
    return apply_changes(base, activation_changes(base, str(venv)))


def test_bash_c_as_arbitrary_uid_gets_venv_umask_and_name(venv: Path, image_env: Dict[str, str]) -> None:
    proc = run(
        as_uid(ARBITRARY_UID) + ["bash", "-c", 'umask; echo "$USER"; echo "$HOME"; echo "$PATH"; command -v python'],
        image_env,
    )
    assert proc.returncode == 0, proc.stderr
    umask, user, home, path, python = proc.stdout.splitlines()
    assert umask == "0002"
    assert user == "default"
    assert home == image_env["PYENVBOOT_HOME"]
    assert path.split(":").count(str(venv / "bin")) == 1
    assert python == str(venv / "bin/python")


def test_bash_c_for_a_known_user_runs_no_command(venv: Path, image_env: Dict[str, str], shared_dir: Path) -> None:
    """The hook stays cheap: with USER and a writable HOME set, it forks nothing (strace-free check: no pyenvboot)."""
    env = {**image_env, "USER": "root", "HOME": str(shared_dir), "PYTHONPATH": "/nonexistent"}
    proc = run(["bash", "-c", "umask; echo ok"], env)
    assert proc.returncode == 0 and proc.stdout.split() == ["0002", "ok"], proc.stderr
    assert proc.stderr == ""


@pytest.mark.parametrize("shell", [["bash", "-i"], ["sh", "-i"]])
def test_interactive_shells_activate_once(venv: Path, image_env: Dict[str, str], shell: list) -> None:  # type: ignore[type-arg]
    # A docker exec shell: the container was started by its ENTRYPOINT, so the identity may be written.
    assert run([str(venv / "bin/pyenvboot"), "exec", "--", "true"], image_env).returncode == 0
    typed = 'echo "P=$PATH"\necho "U=$(umask)"\n%s\necho "Q=$PATH"\nexit\nexit\n' % " ".join(shell)
    out = interact(as_uid(ARBITRARY_UID) + shell, image_env, typed)
    paths = re.findall(r"[PQ]=(/\S*)$", out, flags=re.M)
    assert len(paths) == 2, out
    for path in paths:
        assert path.split(":").count(str(venv / "bin")) == 1, out
    assert "U=0002" in out
    assert "(app) " in out
    assert "(app) (app)" not in out, "the marker was added twice"
    assert "I have no name!" not in out
    assert "bad substitution" not in out


def test_interactive_bash_with_a_cached_identity_has_a_name(
    venv: Path, image_env: Dict[str, str], system_python: str
) -> None:
    """After ``exec`` (PID 1) worked out the identity, ``docker exec bash`` takes it from the cache."""
    uid = as_uid(ARBITRARY_UID)
    first = run(uid + [str(venv / "bin/pyenvboot"), "exec", "--", "true"], image_env)
    assert first.returncode == 0, first.stderr
    out = interact(uid + ["bash", "-i"], image_env, 'echo "U=$USER"\nwhoami\nexit\n')
    assert "U=default" in out
    assert "I have no name!" not in out and "bad substitution" not in out, out
    assert re.search(r"default@", out), out


def test_pyenvboot_shell_has_marker_and_venv(venv: Path, system_python: str, environ: Dict[str, str]) -> None:
    env = {**environ, "SHELL": "/bin/bash", "HOME": str(venv.parent)}
    out = interact(
        [system_python, "-m", "pyenvboot", "shell", "--venv", str(venv)], env, 'echo "V=$VIRTUAL_ENV"\nexit 5\n'
    )
    assert "V=%s" % venv in out
    assert "(app) " in out


def test_sh_c_sees_the_venv_through_env_lines(venv: Path, image_env: Dict[str, str]) -> None:
    proc = subprocess.run(
        as_uid(ARBITRARY_UID) + ["sh", "-c", "python -c 'import sys; print(sys.prefix)'"],
        env=image_env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == str(venv)
