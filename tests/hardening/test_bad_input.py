"""Bad input across the commands.

Each case must print exactly one ``error:`` line on stderr, exit with its documented
code (pyenvboot/errors.py), print no traceback, and change nothing: the whole test
tree is snapshotted before and after, and so are the owner and mode of the OS's
own key paths (a permission walk pointed at ``/`` must never get anywhere).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import pytest

from pyenvboot import errors
from tests.hardening.support import diff, error_line, pyenvboot, run, snapshot, system_snapshot
from tests.support.ci import missing
from tests.support.proc import ARBITRARY_UID, as_uid
from tests.support.tmp import sticky_dir

pytestmark = pytest.mark.integration


def other_python(minor: str) -> Optional[str]:
    found = sorted(glob.glob("/root/.pyenv/versions/%s.*/bin/python" % minor))
    return found[-1] if found else None


class Case(NamedTuple):
    argv: List[str]  # after "pyenvboot"; {base} and {venv} are filled in
    code: int
    says: str  # part of the error line
    env: Tuple[Tuple[str, str], ...] = ()
    uid: bool = False  # run as an arbitrary UID in group 0; also for OS paths, so a regression cannot harm the host
    needs: Optional[str] = None  # an interpreter the case needs


LONG = "n" * 300  # longer than NAME_MAX (255)
NOT_WRITABLE = "not writable by uid %d" % ARBITRARY_UID

CASES: Dict[str, Case] = {
    # init
    "init-relative-venv": Case(["init", "--venv", "relative/v", "--no-home"], errors.EXIT_VENV, "is relative"),
    "init-venv-is-a-file": Case(["init", "--venv", "{base}/afile", "--no-home"], errors.EXIT_VENV, "not a directory"),
    "init-parent-is-a-file": Case(
        ["init", "--venv", "{base}/afile/v", "--no-home"], errors.EXIT_PERMISSION, "cannot create"
    ),
    "init-not-a-venv": Case(["init", "--venv", "{base}/notvenv", "--no-home"], errors.EXIT_VENV, "is not a venv"),
    "init-name-too-long": Case(
        ["init", "--venv", "{base}/%s/v" % LONG, "--no-home"], errors.EXIT_PERMISSION, "File name too long"
    ),
    "init-missing-python": Case(
        ["init", "--venv", "{base}/new/deep/v", "--python", "/nonexistent/python3", "--no-home"],
        errors.EXIT_INTERPRETER,
        "cannot run --python /nonexistent/python3",
    ),
    "init-python-not-python": Case(
        ["init", "--venv", "{base}/new/v", "--python", "/bin/true", "--no-home"],
        errors.EXIT_INTERPRETER,
        "is not a usable Python interpreter",
    ),
    "init-python-prints-junk": Case(
        ["init", "--venv", "{base}/new/v", "--python", "{base}/fakepython", "--no-home"],
        errors.EXIT_INTERPRETER,
        "is not a usable Python interpreter",
    ),
    "init-python-not-executable": Case(
        ["init", "--venv", "{base}/new/v", "--python", "{base}/afile", "--no-home"],
        errors.EXIT_INTERPRETER,
        "Permission denied",
    ),
    "init-python-too-old": Case(
        ["init", "--venv", "{base}/new/v", "--python", "@3.6", "--no-home"],
        errors.EXIT_INTERPRETER,
        "needs CPython >= 3.8",
        needs="3.6",
    ),
    "init-venv-of-other-python": Case(
        ["init", "--venv", "{venv}", "--python", "@3.12", "--no-home"],
        errors.EXIT_VENV,
        "was made by Python 3.11",
        needs="3.12",
    ),
    "init-unknown-group": Case(
        ["init", "--venv", "{base}/new/v", "--group", "nosuchgroup"], errors.EXIT_PERMISSION, "unknown group"
    ),
    "init-gid-out-of-range": Case(
        ["init", "--venv", "{base}/new/v", "--group", "4294967296"], errors.EXIT_PERMISSION, "out of range"
    ),
    "init-relative-home": Case(
        ["init", "--venv", "{base}/new/v", "--home", "rel/home"], errors.EXIT_PERMISSION, "absolute path"
    ),
    "init-home-is-a-file": Case(
        ["init", "--venv", "{base}/new/v", "--home", "{base}/afile"], errors.EXIT_PERMISSION, "not a directory"
    ),
    "init-home-is-etc": Case(
        ["init", "--venv", "{base}/new/v", "--home", "/etc"], errors.EXIT_PERMISSION, "operating system", uid=True
    ),
    "init-home-from-env-is-root": Case(
        ["init", "--venv", "{base}/new/v"], errors.EXIT_PERMISSION, "other than /", env=(("PYENVBOOT_HOME", "/"),)
    ),
    "init-venv-in-etc": Case(
        ["init", "--venv", "/etc/pyenvboot-venv", "--no-home"], errors.EXIT_PERMISSION, "operating system", uid=True
    ),
    "init-missing-pip-wheel": Case(
        ["init", "--venv", "{base}/new/v", "--pip-wheel", "/nonexistent.whl", "--no-home"],
        errors.EXIT_CREATE,
        "no such file",
    ),
    "init-missing-wheelhouse": Case(
        ["init", "--venv", "{base}/new/v", "--wheelhouse", "/nonexistent-wheels", "--no-home"],
        errors.EXIT_CREATE,
        "--wheelhouse /nonexistent-wheels: no such directory",
    ),
    "init-pip-wheel-not-a-zip": Case(
        ["init", "--venv", "{base}/new/v", "--pip-wheel", "{base}/afile", "--no-home"],
        errors.EXIT_CREATE,
        "cannot read wheel",
    ),
    "init-unwritable-prefix": Case(
        ["init", "--venv", "{base}/v2", "--no-home"], errors.EXIT_PERMISSION, NOT_WRITABLE, uid=True
    ),
    "init-uncreatable-prefix": Case(
        ["init", "--venv", "{base}/new/v", "--no-home"], errors.EXIT_PERMISSION, "Permission denied", uid=True
    ),
    "init-unknown-option": Case(["init", "--venvv", "{base}/new/v"], errors.EXIT_USAGE, "unrecognized arguments"),
    # env
    "env-relative-venv": Case(["env", "--venv", "relative"], errors.EXIT_VENV, "is relative"),
    "env-missing-venv": Case(["env", "--venv", "{base}/none"], errors.EXIT_VENV, "no venv at"),
    "env-identity-missing-venv": Case(["env", "--venv", "{base}/none", "--identity"], errors.EXIT_VENV, "no venv at"),
    "env-unknown-format": Case(["env", "--venv", "{venv}", "--format", "xml"], errors.EXIT_USAGE, "invalid choice"),
    # exec
    "exec-relative-venv": Case(["exec", "--venv", "relative", "--", "true"], errors.EXIT_VENV, "is relative"),
    "exec-missing-venv": Case(["exec", "--venv", "{base}/none", "--", "true"], errors.EXIT_VENV, "no venv at"),
    "exec-venv-is-a-file": Case(["exec", "--venv", "{base}/afile", "--", "true"], errors.EXIT_VENV, "no venv at"),
    "exec-relative-venv-from-env": Case(
        ["exec", "--", "true"], errors.EXIT_VENV, "is relative", env=(("PYENVBOOT_VENV", "rel"),)
    ),
    "exec-unknown-option": Case(["exec", "--bogus", "--", "true"], errors.EXIT_USAGE, "unknown option --bogus"),
    "exec-venv-without-value": Case(["exec", "--venv"], errors.EXIT_USAGE, "--venv needs a directory"),
    "exec-command-not-found": Case(
        ["exec", "--venv", "{venv}", "--", "no-such-command"], errors.EXIT_NOT_FOUND, "command not found"
    ),
    "exec-empty-command": Case(["exec", "--venv", "{venv}", "--", ""], errors.EXIT_NOT_FOUND, "command not found"),
    "exec-not-executable": Case(
        ["exec", "--venv", "{venv}", "--", "{base}/afile"], errors.EXIT_NOT_EXECUTABLE, "permission denied"
    ),
    "exec-directory": Case(
        ["exec", "--venv", "{venv}", "--", "{base}"], errors.EXIT_NOT_EXECUTABLE, "permission denied"
    ),
    "exec-exec-format-error": Case(
        ["exec", "--venv", "{venv}", "--", "{base}/garbage"], errors.EXIT_NOT_EXECUTABLE, "exec format error"
    ),
    "exec-init-not-found": Case(
        ["exec", "--init", "--venv", "{venv}", "--", "no-such-command"], errors.EXIT_NOT_FOUND, "command not found"
    ),
    "exec-init-not-executable": Case(
        ["exec", "--init", "--venv", "{venv}", "--", "{base}/afile"], errors.EXIT_NOT_EXECUTABLE, "permission denied"
    ),
    "exec-init-format-error": Case(
        ["exec", "--init", "--venv", "{venv}", "--", "{base}/garbage"], errors.EXIT_NOT_EXECUTABLE, "exec format error"
    ),
    "exec-init-bad-kill-group": Case(
        ["exec", "--init", "--venv", "{venv}", "--", "true"],
        errors.EXIT_USAGE,
        "PYENVBOOT_INIT_KILL_GROUP",
        env=(("PYENVBOOT_INIT_KILL_GROUP", "maybe"),),
    ),
    # shell
    "shell-missing-venv": Case(["shell", "--venv", "{base}/none"], errors.EXIT_VENV, "no venv at"),
    # pip
    "pip-no-arguments": Case(["pip", "--venv", "{venv}"], errors.EXIT_USAGE, "give pip's arguments"),
    "pip-venv-without-value": Case(["pip", "--venv"], errors.EXIT_USAGE, "--venv needs a directory"),
    "pip-missing-venv": Case(["pip", "--venv", "{base}/none", "install", "demo"], errors.EXIT_VENV, "no venv at"),
    "pip-relative-venv": Case(["pip", "--venv", "rel", "install", "demo"], errors.EXIT_VENV, "is relative"),
    "pip-dangling-python": Case(
        ["pip", "--venv", "{base}/broken", "install", "demo"], errors.EXIT_VENV, "does not run"
    ),
    # fix-permissions
    "fix-missing-path": Case(["fix-permissions", "{base}/none"], errors.EXIT_PERMISSION, "No such file"),
    "fix-symlink-root": Case(["fix-permissions", "{base}/venvlink"], errors.EXIT_PERMISSION, "is a symlink"),
    "fix-filesystem-root": Case(["fix-permissions", "/"], errors.EXIT_PERMISSION, "operating system", uid=True),
    "fix-etc": Case(["fix-permissions", "/etc"], errors.EXIT_PERMISSION, "operating system", uid=True),
    "fix-usr-local-bin": Case(
        ["fix-permissions", "/usr/local/bin"], errors.EXIT_PERMISSION, "operating system", uid=True
    ),
    "fix-symlink-into-etc": Case(
        ["fix-permissions", "{base}/etclink/ssl"], errors.EXIT_PERMISSION, "operating system", uid=True
    ),
    "fix-unknown-group": Case(
        ["fix-permissions", "--group", "nosuchgroup", "{base}/afile"], errors.EXIT_PERMISSION, "unknown group"
    ),
    "fix-gid-minus-one": Case(
        ["fix-permissions", "--group", "4294967295", "{base}/afile"], errors.EXIT_PERMISSION, "out of range"
    ),
    "fix-no-path": Case(["fix-permissions"], errors.EXIT_USAGE, "required"),
    # the command line itself
    "unknown-command": Case(["bogus"], errors.EXIT_USAGE, "invalid choice"),
    "no-command": Case([], errors.EXIT_USAGE, "required"),
}


@pytest.fixture(scope="module")
def world(base: Path, module_venv: Path) -> Path:
    """What the cases point at, made once; every case must leave all of it as it was."""
    (base / "afile").write_text("echo not a program\n")
    (base / "afile").chmod(0o644)
    (base / "notvenv").mkdir()
    (base / "notvenv" / "data.txt").write_text("keep me\n")
    (base / "venvlink").symlink_to(module_venv)
    (base / "etclink").symlink_to("/etc")
    (base / "broken").mkdir()
    (base / "broken" / "pyvenv.cfg").write_text((module_venv / "pyvenv.cfg").read_text())
    (base / "garbage").write_bytes(b"\x00\x01\x02 not a program")
    (base / "garbage").chmod(0o755)
    (base / "fakepython").write_text("#!/bin/sh\necho 'Python 9.9 (not really)'\n")
    (base / "fakepython").chmod(0o755)
    return base


def test_matrix_has_at_least_30_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name: str, world: Path, module_venv: Path, henv: Dict[str, str]) -> None:
    case = CASES[name]
    argv = [a.format(base=world, venv=module_venv) for a in case.argv]
    if case.needs:
        python = other_python(case.needs)
        if python is None:
            missing("no Python %s on this machine" % case.needs)
        argv = [python if a == "@" + case.needs else a for a in argv]
    env = dict(henv)
    env.update(case.env)
    if case.uid:
        env["HOME"] = "/"
    prefix = as_uid(ARBITRARY_UID) if case.uid else []
    before, system_before = snapshot(world), system_snapshot()
    proc = run(prefix + pyenvboot() + argv, env, cwd="/")
    line = error_line(proc)
    assert proc.returncode == case.code, (proc.returncode, line)
    assert case.says in line
    assert diff(before, snapshot(world)) == []
    assert system_snapshot() == system_before
    assert not os.path.lexists("/etc/pyenvboot-venv")


def test_closed_stdout_ends_quietly(module_venv: Path, henv: Dict[str, str]) -> None:
    """``pyenvboot env | head -0``: the reader is gone; no traceback, exit 141 (128 + SIGPIPE) as a shell reports it."""
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            pyenvboot() + ["env", "--venv", str(module_venv), "--format", "dockerfile"],
            env=henv,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (errors.EXIT_BROKEN_PIPE, "")


# -- input that must simply work ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["with space", "ünïcødé-ø", "x" * 120],  # the last makes every shebang longer than the kernel's 127 bytes
)
def test_odd_venv_paths_work(
    name: str, base: Path, henv: Dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Spaces, non-ASCII and over-long paths: init, pip and the console scripts pip writes all work."""
    from tests.support.wheels import build_wheel

    wheels = tmp_path_factory.mktemp("odd-wheels")
    files = {"hello.py": "def main():\n    print('hello from', __import__('sys').prefix)\n"}
    build_wheel(wheels, "hello", "1.0", files=files, console_scripts={"hello-tool": "hello:main"})
    venv = base / name / "venv"
    if name.startswith("x"):
        assert len(str(venv / "bin" / "python")) > 127
    proc = run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv)
    assert proc.returncode == 0, proc.stderr
    pip = ["pip", "--venv", str(venv), "install", "-q", "--no-index", "--find-links", str(wheels), "hello"]
    proc = run(pyenvboot() + pip, henv)
    assert proc.returncode == 0, proc.stderr
    proc = run(pyenvboot() + ["exec", "--venv", str(venv), "--", "hello-tool"], henv)
    assert (proc.returncode, proc.stdout) == (0, "hello from %s\n" % venv), proc.stderr
    proc = run([str(venv / "bin" / "pip"), "--version"], henv, umask=0o002)
    assert proc.returncode == 0, proc.stderr


def test_junk_python_variables_do_not_reach_the_app(module_venv: Path, henv: Dict[str, str]) -> None:
    """PYTHONHOME (which breaks any venv) is removed; the venv's launcher ignores PYTHON* itself (-I)."""
    env = {**henv, "PYTHONHOME": "/junk", "PYTHONPATH": "/nonexistent:/junk", "PYTHONSTARTUP": "/junk"}
    code = "import os, sys; print(sys.prefix, os.environ.get('PYTHONHOME'))"
    launcher = str(module_venv / "bin/pyenvboot")
    for options in ([], ["--venv", str(module_venv)]):  # the launcher's shell fast path, then its Python path
        proc = run([launcher, "exec", *options, "--", "python", "-c", code], env)
        assert (proc.returncode, proc.stdout) == (0, "%s None\n" % module_venv), proc.stderr


# Identity input that was once an error: now it degrades, and the app starts (one warning at most).
IDENTITY_INPUT: Dict[str, Tuple[Tuple[str, str], str, str]] = {
    "user-with-colon": (("PYENVBOOT_USER", "x:0:0::/:/bin/sh"), "refusing user name", "default"),
    "user-with-newline": (("PYENVBOOT_USER", "ok\nroot::0:0::/:/bin/sh"), "refusing user name", "default"),
    "user-existing-name": (("PYENVBOOT_USER", "root"), "belongs to uid 0", "root-%d" % ARBITRARY_UID),
    "user-too-long": (("PYENVBOOT_USER", "u" * 33), "refusing user name", "default"),
    "nss-wrapper-not-a-library": (("PYENVBOOT_NSS_WRAPPER", "/etc/hostname"), "not a shared library", "default"),
    "nss-wrapper-missing": (
        ("PYENVBOOT_NSS_WRAPPER", "/nonexistent/libnss_wrapper.so"),
        "PYENVBOOT_NSS_WRAPPER",
        "default",
    ),
}


@pytest.mark.parametrize("name", sorted(IDENTITY_INPUT))
def test_bad_identity_input_never_stops_the_app(
    name: str, world: Path, module_venv: Path, henv: Dict[str, str], shared_dir: Path
) -> None:
    var, says, user = IDENTITY_INPUT[name]
    tmp = sticky_dir(shared_dir / "tmp")
    env = {**henv, "HOME": "/", "TMPDIR": str(tmp), var[0]: var[1]}
    before, system_before = snapshot(world), system_snapshot()
    argv = ["exec", "--venv", str(module_venv), "--", "sh", "-c", 'echo "$USER"; exit 7']
    proc = run(as_uid(ARBITRARY_UID) + pyenvboot() + argv, env, cwd="/")
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == user + "\n"
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("pyenvboot: ") and says in proc.stderr
    assert "Traceback" not in proc.stderr
    assert diff(before, snapshot(world)) == []
    assert system_snapshot() == system_before
