"""The core on real venvs with real pip and real UIDs."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.support.ci import missing
from tests.support.policy import policy_offenders
from tests.support.proc import ARBITRARY_UID, as_uid, run

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent.parent


def pyenvboot(python: str) -> List[str]:
    return [python, "-m", "pyenvboot"]


@pytest.fixture
def venv(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> Iterator[Path]:
    """A fresh venv on Debian's python3, made by ``init`` as root, usable by any UID in gid 0."""
    path = shared_dir / "venv"
    proc = run(pyenvboot(system_python) + ["init", "--venv", str(path), "--home", str(shared_dir / "home")], environ)
    assert proc.returncode == 0, proc.stderr
    yield path


def test_init_makes_an_isolated_group_writable_venv_with_pip(venv: Path, environ: Dict[str, str]) -> None:
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg
    assert policy_offenders(venv) == []
    proc = run([str(venv / "bin" / "pip"), "--version"], environ)
    assert proc.returncode == 0 and str(venv) in proc.stdout
    proc = run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.prefix != sys.base_prefix)"], environ)
    assert proc.stdout.strip() == "True"
    assert (venv / "share/pyenvboot/hook.sh").is_file()
    assert (venv / "bin/activate").read_text().count(str(venv)) >= 1
    assert not list(venv.parent.glob(".venv.pyenvboot-staging-*"))


def example_activation() -> str:
    """The activation ``ENV`` instruction of Dockerfile.example, continuation lines included."""
    lines = (REPO / "Dockerfile.example").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ENV VIRTUAL_ENV="))
    end = next(i for i in range(start, len(lines)) if not lines[i].endswith("\\"))
    return "\n".join(lines[start : end + 1]) + "\n"


def test_init_prints_exactly_the_env_lines_of_dockerfile_example(
    shared_dir: Path, system_python: str, environ: Dict[str, str]
) -> None:
    """``${PATH}``, not the build's PATH (here with pyenv-like shims and a duplicate); no other line."""
    venv = shared_dir / "v"
    env = {**environ, "PATH": "/root/.pyenv/shims:" + environ["PATH"] + ":/usr/bin"}
    proc = run(pyenvboot(system_python) + ["init", "--venv", str(venv), "--no-home"], env)
    assert proc.returncode == 0, proc.stderr
    _, marker, printed = proc.stdout.partition("pyenvboot: add these lines to the Dockerfile:\n")
    assert marker, proc.stdout
    assert printed == example_activation().replace("/opt/venv", str(venv))


def test_init_again_keeps_installed_packages(
    venv: Path, system_python: str, environ: Dict[str, str], wheelhouse: Path
) -> None:
    pip = pyenvboot(system_python) + ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse)]
    assert run(pip + ["demo==1.0"], environ).returncode == 0
    (venv / "pyvenv.cfg").write_text((venv / "pyvenv.cfg").read_text().replace("= false", "= true"))
    proc = run(pyenvboot(system_python) + ["init", "--venv", str(venv), "--no-home"], environ)
    assert proc.returncode == 0, proc.stderr
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    proc = run([str(venv / "bin/python"), "-c", "import demo; print(demo.__version__)"], environ)
    assert proc.stdout.strip() == "1.0"


def test_env_sh_evaluated_twice_has_venv_bin_once(venv: Path, system_python: str, environ: Dict[str, str]) -> None:
    cmd = " ".join(pyenvboot(system_python)) + " env --venv " + str(venv)
    # The output must remove a PYTHONHOME set in the shell (it would break the venv's python).
    script = (
        'a=$(%s) && b=$(%s) && export PYTHONHOME=/junk && eval "$a" && eval "$b"'
        ' && echo "$PATH" && echo "${PYTHONHOME-unset}"' % (cmd, cmd)
    )
    proc = run(["sh", "-c", script], environ)
    assert proc.returncode == 0, proc.stderr
    path, home = proc.stdout.splitlines()
    assert path.split(":").count(str(venv / "bin")) == 1
    assert path.split(":")[0] == str(venv / "bin")
    assert home == "unset"


@pytest.mark.parametrize(
    ("command", "code", "stderr_part"),
    [
        (["python", "-c", "import sys; sys.exit(0)"], 0, None),
        (["sh", "-c", "exit 42"], 42, None),
        (["no-such-command"], 127, "no-such-command: command not found"),
        (["@plain-file"], 126, "permission denied"),
        (["/tmp"], 126, "permission denied"),
    ],
)
def test_exec_exit_codes(
    venv: Path, system_python: str, environ: Dict[str, str], command: List[str], code: int, stderr_part: str
) -> None:
    if command == ["@plain-file"]:
        plain = venv.parent / "plain-file"
        plain.write_text("echo hi\n")
        plain.chmod(0o644)
        command = [str(plain)]
    proc = run(pyenvboot(system_python) + ["exec", "--venv", str(venv), "--"] + command, environ)
    assert proc.returncode == code
    if stderr_part:
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
        assert stderr_part in proc.stderr


def test_exec_replaces_itself(venv: Path, system_python: str, environ: Dict[str, str]) -> None:
    """No wrapper stays: the app has pyenvboot's PID, so as ENTRYPOINT it is PID 1."""
    child = subprocess.Popen(
        pyenvboot(system_python)
        + [
            "exec",
            "--venv",
            str(venv),
            "--",
            "python",
            "-c",
            "import os, sys; print(os.getpid(), sys.prefix, oct(os.umask(0)))",
        ],
        env=environ,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = child.communicate(timeout=60)
    pid, prefix, umask = out.split()
    assert int(pid) == child.pid
    assert prefix == str(venv)
    assert umask == "0o2"


def test_exec_without_command_starts_a_shell(venv: Path, system_python: str, environ: Dict[str, str]) -> None:
    proc = run(
        pyenvboot(system_python) + ["exec", "--venv", str(venv)],
        environ,
        input='echo "venv=$VIRTUAL_ENV"; exit 3\n',
    )
    assert proc.returncode == 3
    assert "venv=%s" % venv in proc.stdout


def test_exec_missing_venv_is_one_line(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> None:
    proc = run(pyenvboot(system_python) + ["exec", "--venv", str(shared_dir / "nope"), "--", "true"], environ)
    assert proc.returncode == 3
    assert proc.stderr.startswith("error: no venv at ") and proc.stderr.count("\n") == 1


def test_arbitrary_uid_upgrades_and_uninstalls_what_root_installed(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str], wheelhouse: Path
) -> None:
    pip = ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse)]
    assert run(pyenvboot(system_python) + pip + ["demo==1.0", "extra==1.0"], environ).returncode == 0
    user_env = {**environ, "HOME": "/", "PYENVBOOT_HOME": str(shared_dir / "home")}
    uid = as_uid(ARBITRARY_UID)
    proc = run(uid + pyenvboot(system_python) + pip + ["-U", "demo"], user_env)
    assert proc.returncode == 0, proc.stderr
    assert "/.cache" not in proc.stderr
    # pip runs in image builds: no identity files may land in the layer.
    assert list(Path(environ["TMPDIR"]).iterdir()) == []
    proc = run(uid + pyenvboot(system_python) + ["pip", "--venv", str(venv), "uninstall", "-y", "extra"], user_env)
    assert proc.returncode == 0, proc.stderr
    script = (
        "import demo, getpass, os, importlib.util as u; "
        "print(demo.__version__, u.find_spec('extra') is None, getpass.getuser(), os.environ['HOME'],"
        " os.access(os.environ['HOME'], os.W_OK))"
    )
    proc = run(uid + pyenvboot(system_python) + ["exec", "--venv", str(venv), "--", "python", "-c", script], user_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2.0", "True", "default", str(shared_dir / "home"), "True"]
    assert len(list(venv.glob("lib/python3*/site-packages/demo-*.dist-info"))) == 1
    assert policy_offenders(venv) == []


def test_arbitrary_uid_gets_a_name_for_whoami(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str]
) -> None:
    if not any(Path(d, "libnss_wrapper.so").exists() for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib")):
        missing("libnss_wrapper.so is not installed (Debian: libnss-wrapper)")
    user_env = {**environ, "HOME": "/", "PYENVBOOT_HOME": str(shared_dir / "home"), "PYENVBOOT_USER": "appuser"}
    proc = run(
        as_uid(ARBITRARY_UID)
        + pyenvboot(system_python)
        + ["exec", "--venv", str(venv), "--", "sh", "-c", "whoami; echo ~"],
        user_env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["appuser", str(shared_dir / "home")]


@pytest.mark.parametrize("launcher", ["module", "venv-launcher"])
def test_no_writable_home_is_one_warning_and_the_app_starts(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str], launcher: str
) -> None:
    """A read-only root without a tmpfs, with real dirs: HOME=/, the shared home and TMPDIR all unwritable."""
    shared_home, tmp = shared_dir / "ro-home", shared_dir / "ro-tmp"
    for path in (shared_home, tmp):
        path.mkdir(mode=0o755)  # root's; the UID is in group 0, which may only read
    user_env = {**environ, "HOME": "/", "PYENVBOOT_HOME": str(shared_home), "TMPDIR": str(tmp)}
    command = pyenvboot(system_python) + ["exec", "--venv", str(venv)]
    if launcher == "venv-launcher":  # its sh fast path must hand this case to Python
        command = [str(venv / "bin/pyenvboot"), "exec"]
    app = ["python", "-c", "import os; print('started', os.environ['HOME'])"]
    proc = run(as_uid(ARBITRARY_UID) + command + ["--"] + app, user_env)
    assert (proc.returncode, proc.stdout) == (0, "started /\n"), proc.stderr
    assert proc.stderr == (
        "pyenvboot: warning: no writable HOME for uid %d: HOME=/, %s and %s are not writable"
        " (a read-only root filesystem?); mount a tmpfs on %s (docker run --tmpfs %s;"
        " Kubernetes: an emptyDir volume at %s)\n" % (ARBITRARY_UID, shared_home, tmp, tmp, tmp, tmp)
    )
    # With a writable TMPDIR (the tmpfs) the UID gets a private HOME there, and nothing is said.
    proc = run(as_uid(ARBITRARY_UID) + command + ["--"] + app, {**user_env, "TMPDIR": environ["TMPDIR"]})
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == "started %s/pyenvboot-%d/home\n" % (environ["TMPDIR"], ARBITRARY_UID)


def test_hostile_user_name_is_refused_and_the_app_starts(
    venv: Path, system_python: str, environ: Dict[str, str]
) -> None:
    user_env = {**environ, "HOME": "/", "PYENVBOOT_USER": "x:0:0::/:/bin/sh\nroot"}
    argv = ["exec", "--venv", str(venv), "--", "sh", "-c", 'echo "$USER"']
    proc = run(as_uid(ARBITRARY_UID) + pyenvboot(system_python) + argv, user_env)
    assert proc.returncode == 0
    assert proc.stdout == "default\n"
    assert proc.stderr.startswith("pyenvboot: refusing user name") and proc.stderr.count("\n") == 1


def test_a_taken_user_name_gives_a_name_of_its_own(venv: Path, system_python: str, environ: Dict[str, str]) -> None:
    user_env = {**environ, "HOME": "/", "PYENVBOOT_USER": "root"}
    argv = ["exec", "--venv", str(venv), "--", "sh", "-c", 'echo "$USER"']
    proc = run(as_uid(ARBITRARY_UID) + pyenvboot(system_python) + argv, user_env)
    assert proc.returncode == 0
    assert proc.stdout == "root-%d\n" % ARBITRARY_UID
    assert "belongs to uid 0" in proc.stderr and proc.stderr.count("\n") == 1


def test_pip_leaves_no_cache_behind(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str], wheelhouse: Path
) -> None:
    home = shared_dir / "roothome"
    home.mkdir()
    proc = run(
        pyenvboot(system_python) + ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse), "demo"],
        {**environ, "HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr
    assert not (home / ".cache").exists()


def test_pip_exit_code_is_pips(venv: Path, system_python: str, environ: Dict[str, str], wheelhouse: Path) -> None:
    proc = run(
        pyenvboot(system_python)
        + ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse), "absent"],
        environ,
    )
    assert proc.returncode == 1
    assert "No matching distribution" in proc.stderr


@pytest.mark.parametrize(
    "command",
    [["pip", "install", "--no-index", "-f", "{wheels}", "extra"], ["run", "--", "pip", "install", "--no-index",
     "-f", "{wheels}", "extra"]],
    ids=["pip", "run"],
)  # fmt: skip
def test_pip_and_run_wait_for_the_venv_lock(
    venv: Path, system_python: str, environ: Dict[str, str], wheelhouse: Path, command: List[str]
) -> None:
    """Two runs never interleave: a second pip (or installer through run) waits while the lock is held."""
    fd = os.open(venv, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    argv = [command[0], "--venv", str(venv)] + [a.format(wheels=wheelhouse) for a in command[1:]]
    child = subprocess.Popen(
        pyenvboot(system_python) + argv,
        env=environ,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stderr is not None
        assert "waiting for another pyenvboot run" in child.stderr.readline()
        assert not list(venv.glob("lib/python3*/site-packages/extra"))
    finally:
        os.close(fd)
    assert child.wait(timeout=120) == 0
    assert list(venv.glob("lib/python3*/site-packages/extra"))


def test_fix_permissions_second_run_changes_nothing(
    shared_dir: Path, environ: Dict[str, str], system_python: str
) -> None:
    tree = shared_dir / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("x")
    (tree / "x").write_text("#!/bin/sh\n")
    (tree / "x").chmod(0o700)
    (tree / "link").symlink_to("/etc/hostname")
    before_target = os.stat("/etc/hostname")
    proc = run(pyenvboot(system_python) + ["fix-permissions", str(tree)], environ)
    assert proc.returncode == 0, proc.stderr
    assert policy_offenders(tree) == []
    assert (tree / "x").stat().st_mode & 0o777 == 0o770
    ctimes = {p: p.lstat().st_ctime_ns for p in [tree, *tree.rglob("*")]}
    proc = run(pyenvboot(system_python) + ["fix-permissions", str(tree)], environ)
    assert proc.returncode == 0 and "0 changed" in proc.stdout
    assert {p: p.lstat().st_ctime_ns for p in ctimes} == ctimes
    after_target = os.stat("/etc/hostname")
    assert (after_target.st_mode, after_target.st_gid, after_target.st_ctime_ns) == (
        before_target.st_mode,
        before_target.st_gid,
        before_target.st_ctime_ns,
    )


def test_fix_permissions_unknown_group(shared_dir: Path, environ: Dict[str, str], system_python: str) -> None:
    proc = run(pyenvboot(system_python) + ["fix-permissions", "--group", "nope-group", str(shared_dir)], environ)
    assert proc.returncode == 5
    assert (
        proc.stderr
        == "error: unknown group 'nope-group': create it first (groupadd) or pass a numeric gid with --group\n"
    )
