"""The venv's launcher: its forms, its hand-over to Python, its failures (test_contract compares it with Python)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.integration._checkhelpers import unshare_works
from tests.support.proc import ARBITRARY_UID, as_uid, run

pytestmark = pytest.mark.integration


@pytest.fixture
def venv(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> Iterator[Path]:
    path = shared_dir / "venv"
    proc = run(
        [system_python, "-m", "pyenvboot", "init", "--venv", str(path), "--home", str(shared_dir / "home")], environ
    )
    assert proc.returncode == 0, proc.stderr
    yield path


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


# A root filesystem without any shell, made in a private mount namespace: /usr/bin (and /bin, a
# symlink to it on Debian) becomes an empty tmpfs holding only the base python, bind-mounted from
# the real /usr/bin, which stays reachable at $1 for the commands the set-up still needs.
NO_SHELL_SETUP = """
mount --bind /usr/bin "$1"
mount -t tmpfs -o mode=755 tmpfs /usr/bin
"$1/touch" /usr/bin/{python}
"$1/mount" --bind "$1/{python}" /usr/bin/{python}
"$1/ln" -s {python} /usr/bin/python3
[ ! -e /bin/sh ] && [ ! -e /bin/dash ] && [ ! -e /bin/bash ] || exit 99
shift
exec "$@"
"""


def without_shell(shared_dir: Path, system_python: str, argv: List[str]) -> List[str]:
    """``argv`` where no sh, dash or bash exists; ``setpriv`` and ``env`` are taken from the real /usr/bin."""
    real = shared_dir / "real-usr-bin"
    real.mkdir(exist_ok=True)
    python = Path(system_python).resolve().name
    tools = {"setpriv", "env"}
    argv = [str(real / a) if a in tools else a for a in argv]
    script = NO_SHELL_SETUP.format(python=python)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(real), *argv]


@pytest.mark.skipif(not unshare_works(), reason="needs root and a private mount namespace (unshare -m)")
@pytest.mark.parametrize("uid", [0, ARBITRARY_UID])
def test_python_launcher_starts_the_app_without_any_shell(
    shared_dir: Path, system_python: str, environ: Dict[str, str], uid: int
) -> None:
    """What a distroless final stage does to the launcher: the sh form cannot start, the python form can."""
    venvs = {}
    for form in ("sh", "python"):
        path = shared_dir / form
        init = [system_python, "-m", "pyenvboot", "init", "--venv", str(path), "--launcher", form, "--no-home"]
        proc = run(init, environ)
        assert proc.returncode == 0, proc.stderr
        venvs[form] = path
    env = {k: v for k, v in environ.items() if k not in ("HOME", "USER", "LOGNAME")}
    env.update(HOME="/", PYENVBOOT_HOME=str(shared_dir / "home"), PATH=str(venvs["python"] / "bin") + ":/usr/bin")
    (shared_dir / "home").mkdir()
    (shared_dir / "home").chmod(0o2775)  # the shared home as init makes it: group 0 may write
    report = "import os, sys; print(sys.prefix, os.environ['USER'], os.environ['HOME'], '%04o' % os.umask(0))"
    prefix = [] if uid == 0 else as_uid(uid)

    def launch(form: str) -> "subprocess.CompletedProcess[str]":
        argv = [*prefix, str(venvs[form] / "bin/pyenvboot"), "exec", "--", "python", "-c", report]
        return run(without_shell(shared_dir, system_python, argv), env)

    ran, failed = launch("python"), launch("sh")
    assert ran.returncode == 0, ran.stderr
    user = "root" if uid == 0 else "default"
    home = "/root" if uid == 0 else str(shared_dir / "home")
    assert ran.stdout.split() == [str(venvs["python"]), user, home, "0002"]
    assert (failed.returncode, failed.stdout) == (127, ""), failed.stderr  # execve: ENOENT, for /bin/sh
