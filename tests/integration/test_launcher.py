"""The venv's launcher: its sh fast path for ``exec`` behaves exactly like the Python one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.support.proc import ARBITRARY_UID, as_uid, run

pytestmark = pytest.mark.integration

NOBODY = 65534
# Variables a shell sets for itself; they say nothing about pyenvboot.
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}


@pytest.fixture
def venv(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> Iterator[Path]:
    path = shared_dir / "venv"
    proc = run(
        [system_python, "-m", "pyenvboot", "init", "--venv", str(path), "--home", str(shared_dir / "home")], environ
    )
    assert proc.returncode == 0, proc.stderr
    yield path


def child_env(argv: List[str], env: Dict[str, str]) -> Dict[str, str]:
    proc = run(argv + ["env", "-0"], env)
    assert proc.returncode == 0, proc.stderr
    pairs = (item.partition("=") for item in proc.stdout.split("\0") if item)
    return {k: v for k, _, v in pairs if k not in SHELL_OWN}


def both(venv: Path, system_python: str, env: Dict[str, str], prefix: List[str]) -> List[Dict[str, str]]:
    launcher = prefix + [str(venv / "bin/pyenvboot"), "exec", "--"]
    python = prefix + [system_python, "-m", "pyenvboot", "exec", "--venv", str(venv), "--"]
    return [child_env(launcher, env), child_env(python, env)]


@pytest.mark.parametrize(
    ("uid", "home", "user"),
    [
        (0, "own", "root"),
        (0, "/", None),
        (NOBODY, "/", None),
        (ARBITRARY_UID, "/", None),
        (ARBITRARY_UID, None, None),
    ],
)
def test_fast_path_and_python_give_the_same_environment(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str], uid: int, home: str, user: str
) -> None:
    env = {k: v for k, v in environ.items() if k not in ("HOME", "USER", "LOGNAME")}
    env["PYENVBOOT_HOME"] = str(shared_dir / "home")
    if home == "own":
        env["HOME"] = str(shared_dir)
    elif home is not None:
        env["HOME"] = home
    if user:
        env["USER"] = user
    prefix = [] if uid == 0 else as_uid(uid)
    launcher_env, python_env = both(venv, system_python, env, prefix)
    assert launcher_env == python_env
    # A nameless UID: the second start finds the identity left by the first (the hook's cache).
    assert both(venv, system_python, env, prefix)[0] == launcher_env


def test_launcher_removes_pythonhome(venv: Path, environ: Dict[str, str]) -> None:
    """A junk PYTHONHOME would stop every Python; the launcher's own Python ignores it (-I) too."""
    env = {**environ, "PYTHONHOME": "/junk"}
    for command in (["python", "-c", "import sys; print(sys.prefix)"], ["no-such-command"]):
        proc = run([str(venv / "bin/pyenvboot"), "exec", "--"] + command, env)
        assert proc.stdout.strip() == (str(venv) if command[0] == "python" else "")
        assert "Fatal Python error" not in proc.stderr


def test_fast_path_needs_no_python_for_a_known_user(venv: Path, environ: Dict[str, str]) -> None:
    """Observable: with pyenvboot's byte-compiled copy gone, the common exec still works."""
    shutil.rmtree(venv / "share/pyenvboot/lib")
    proc = run([str(venv / "bin/pyenvboot"), "exec", "--", "python", "-c", "import sys; print(sys.prefix)"], environ)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(venv)
    # Anything the fast path does not cover goes to Python, which is gone here.
    proc = run([str(venv / "bin/pyenvboot"), "exec", "--", "no-such-command"], environ)
    assert proc.returncode != 0 and "no-such-command" not in proc.stdout


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        (["no-such-command"], 127, "error: no-such-command: command not found"),
        (["/nonexistent/app"], 127, "error: /nonexistent/app: command not found"),
        (["@dir"], 126, "permission denied"),
        (["sh", "-c", "exit 7"], 7, None),
    ],
)
def test_launcher_failures_are_pythons(
    venv: Path, environ: Dict[str, str], command: List[str], code: int, message: str
) -> None:
    if command == ["@dir"]:
        command = [str(venv)]
    proc = run([str(venv / "bin/pyenvboot"), "exec", "--"] + command, environ)
    assert proc.returncode == code
    if message:
        assert proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1


def test_launcher_runs_other_commands_for_its_venv(venv: Path, environ: Dict[str, str]) -> None:
    proc = run([str(venv / "bin/pyenvboot"), "env", "--format", "json"], environ)
    assert proc.returncode == 0, proc.stderr
    assert '"VIRTUAL_ENV": "%s"' % venv in proc.stdout


def test_a_script_without_shebang_runs_with_sh_on_both_paths(
    venv: Path, system_python: str, environ: Dict[str, str]
) -> None:
    """Like execvp(3) and every shell: the sh fast path and the Python path agree."""
    script = venv.parent / "noshebang"
    script.write_text('echo "ran $0 $1"\nexit 3\n')
    script.chmod(0o755)
    launcher = run([str(venv / "bin/pyenvboot"), "exec", "--", str(script), "arg"], environ)
    python = run([system_python, "-m", "pyenvboot", "exec", "--venv", str(venv), "--", str(script), "arg"], environ)
    assert (launcher.returncode, launcher.stdout) == (python.returncode, python.stdout) == (3, "ran %s arg\n" % script)
