"""``pyenvboot run``: real uv, poetry and pipenv at build time as root, then another UID changes what they installed.

The installers come from tests/requirements.txt (scripts/test installs them next to
pytest); they read only the tests' own wheels and project files, never an index.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.support.policy import policy_offenders
from tests.support.proc import ARBITRARY_UID, as_uid, run, with_bind
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.integration

OTHER_UID = ARBITRARY_UID + 1


def tool(name: str) -> str:
    """An installer from the test venv (root's: the build step runs as root)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), "%s is missing; scripts/test installs it from tests/requirements.txt" % path
    return str(path)


def pyenvboot(system_python: str, *args: str) -> List[str]:
    return [system_python, "-m", "pyenvboot", *args]


@pytest.fixture
def venv(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> Iterator[Path]:
    path = shared_dir / "venv"
    proc = run(pyenvboot(system_python, "init", "--venv", str(path), "--no-home"), environ)
    assert proc.returncode == 0, proc.stderr
    yield path


@pytest.fixture
def lock_env(environ: Dict[str, str], shared_dir: Path) -> Dict[str, str]:
    """For making lock files before the build: a HOME of its own, for the lockers' caches."""
    home = shared_dir / "lockhome"
    home.mkdir()
    return {**environ, "HOME": str(home)}


@pytest.fixture
def build_env(environ: Dict[str, str], shared_dir: Path) -> Dict[str, str]:
    """A root build step: HOME is root's own (a fresh dir, to see what is left in it)."""
    home = shared_dir / "roothome"
    home.mkdir()
    return {**environ, "HOME": str(home)}


def user_env(environ: Dict[str, str]) -> Dict[str, str]:
    """What an arbitrary UID gets from ``docker run --user N:0``: HOME=/."""
    return {**environ, "HOME": "/"}


def versions(venv: Path) -> List[str]:
    site = next(venv.glob("lib/python3*/site-packages"))
    return sorted(p.name for p in site.glob("*.dist-info") if not p.name.startswith("pip-"))


def left_in(home: Path) -> List[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())


def app_project(shared_dir: Path, wheelhouse: Path, extra: str = "") -> Path:
    """A project that depends on demo 1.0 from a local wheel: no index is ever asked."""
    project = shared_dir / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.8"\n'
        'dependencies = ["demo @ file://%s"]\n' % (wheelhouse / "demo-1.0-py3-none-any.whl") + extra
    )
    return project


def change_as_other_uids(system_python: str, venv: Path, environ: Dict[str, str], wheelhouse: Path) -> None:
    """One nameless UID upgrades demo, another uninstalls it: what the build step left is the group's."""
    pip = pyenvboot(system_python, "pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse))
    proc = run(as_uid(ARBITRARY_UID) + pip + ["-U", "demo"], user_env(environ))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert versions(venv) == ["demo-2.0.dist-info"]
    uninstall = pyenvboot(system_python, "pip", "--venv", str(venv), "uninstall", "-y", "demo")
    proc = run(as_uid(OTHER_UID) + uninstall, user_env(environ))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert versions(venv) == []
    assert policy_offenders(venv) == []


@pytest.mark.parametrize(
    ("command", "code", "says"),
    [
        (["sh", "-c", "exit 42"], 42, None),
        (["no-such-installer"], 127, "no-such-installer: command not found"),
        (["@plain-file"], 126, "permission denied"),
        (["@script-without-shebang"], 0, None),
    ],
)
def test_run_exit_codes_are_the_commands_or_the_shells(
    venv: Path, system_python: str, environ: Dict[str, str], command: List[str], code: int, says: str
) -> None:
    if command[0].startswith("@"):
        path = venv.parent / command[0][1:]
        path.write_text("exit 0\n")
        path.chmod(0o644 if command[0] == "@plain-file" else 0o755)
        command = [str(path)]
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", *command), environ)
    assert proc.returncode == code, proc.stderr
    if says:
        assert proc.stderr.startswith("error: ") and says in proc.stderr and proc.stderr.count("\n") == 1


def test_run_gives_umask_the_venv_and_no_cache(venv: Path, system_python: str, build_env: Dict[str, str]) -> None:
    script = (
        'umask; echo "$VIRTUAL_ENV $UV_PROJECT_ENVIRONMENT $UV_PYTHON $UV_PYTHON_DOWNLOADS $UV_LINK_MODE'
        ' $POETRY_VIRTUALENVS_CREATE $PIP_NO_CACHE_DIR $UV_NO_CACHE"'
    )
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", "sh", "-c", script), build_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "0002", str(venv), str(venv), str(venv / "bin/python"), "never", "copy", "false", "1", "1"
    ]  # fmt: skip


def test_uv_pip_install_as_root_then_other_uids_upgrade_and_uninstall(
    venv: Path, system_python: str, environ: Dict[str, str], build_env: Dict[str, str], wheelhouse: Path
) -> None:
    uv = [tool("uv"), "pip", "install", "--no-index", "--find-links", str(wheelhouse)]
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", *uv, "demo==1.0"), build_env)
    assert proc.returncode == 0, proc.stderr
    assert versions(venv) == ["demo-1.0.dist-info"]
    assert policy_offenders(venv) == []
    assert left_in(Path(build_env["HOME"])) == [], "uv's cache was left in the layer"
    assert list(Path(environ["TMPDIR"]).iterdir()) == [], "identity files were left in the layer"
    change_as_other_uids(system_python, venv, environ, wheelhouse)


def test_uv_sync_frozen_fills_the_venv_not_a_project_venv(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str], build_env: Dict[str, str],
    lock_env: Dict[str, str], wheelhouse: Path,
) -> None:  # fmt: skip
    project = app_project(shared_dir, wheelhouse)
    lock = run([tool("uv"), "lock", "--offline", "--python", str(venv / "bin/python")], lock_env, cwd=str(project))
    assert lock.returncode == 0, lock.stderr
    sync = [tool("uv"), "sync", "--frozen", "--no-install-project"]
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", *sync), build_env, cwd=str(project))
    assert proc.returncode == 0, proc.stderr
    assert not (project / ".venv").exists()
    assert versions(venv) == ["demo-1.0.dist-info"]
    assert (venv / "bin/pip").exists(), "uv sync took pip out of the venv"
    change_as_other_uids(system_python, venv, environ, wheelhouse)


def test_poetry_install_as_root_then_other_uids_upgrade_and_uninstall(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str], build_env: Dict[str, str],
    lock_env: Dict[str, str], wheelhouse: Path,
) -> None:  # fmt: skip
    project = app_project(shared_dir, wheelhouse, "\n[tool.poetry]\npackage-mode = false\n")
    lock = run([tool("poetry"), "lock", "--no-interaction"], lock_env, cwd=str(project))
    assert lock.returncode == 0, lock.stdout + lock.stderr
    poetry = [tool("poetry"), "install", "--no-interaction"]
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", *poetry), build_env, cwd=str(project))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (project / ".venv").exists()
    assert versions(venv) == ["demo-1.0.dist-info"]
    assert policy_offenders(venv) == []
    assert left_in(Path(build_env["HOME"])) == [], "poetry's cache was left in the layer"
    change_as_other_uids(system_python, venv, environ, wheelhouse)


def test_pipenv_sync_as_root_then_other_uids_upgrade_and_uninstall(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str], build_env: Dict[str, str],
    lock_env: Dict[str, str], wheelhouse: Path,
) -> None:  # fmt: skip
    project = shared_dir / "project"
    project.mkdir()
    (project / "Pipfile").write_text(
        '[[source]]\nurl = "file://%s"\nverify_ssl = false\nname = "local"\n\n'
        '[packages]\ndemo = {file = "%s"}\n' % (wheelhouse, wheelhouse / "demo-1.0-py3-none-any.whl")
    )
    lock = run([tool("pipenv"), "lock"], lock_env, cwd=str(project))
    assert lock.returncode == 0, lock.stdout + lock.stderr
    proc = run(
        pyenvboot(system_python, "run", "--venv", str(venv), "--", tool("pipenv"), "sync"), build_env, cwd=str(project)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert versions(venv) == ["demo-1.0.dist-info"]
    assert policy_offenders(venv) == []
    assert left_in(Path(build_env["HOME"])) == [], "pipenv left a cache or a venv of its own"
    change_as_other_uids(system_python, venv, environ, wheelhouse)


def test_a_cache_mount_is_used_and_no_cache_is_left_without_one(
    venv: Path, shared_dir: Path, system_python: str, build_env: Dict[str, str], wheelhouse: Path
) -> None:
    """``RUN --mount=type=cache,target=/root/.cache/uv``, made here as a bind mount from the same file system:
    ``os.path.ismount`` misses that one, mountinfo does not."""
    home = Path(build_env["HOME"])
    uv = [tool("uv"), "pip", "install", "--no-index", "--find-links", str(wheelhouse), "demo==1.0"]
    argv = pyenvboot(system_python, "run", "--venv", str(venv), "--", *uv)
    proc = run(argv, build_env)
    assert proc.returncode == 0, proc.stderr
    assert left_in(home) == []
    run(pyenvboot(system_python, "pip", "--venv", str(venv), "uninstall", "-y", "demo"), build_env)
    mounted = shared_dir / "cache-mount"
    mounted.mkdir()
    (home / ".cache/uv").mkdir(parents=True)
    target = str(home / ".cache/uv")
    script = '"$1" -c "import os, sys; print(os.path.ismount(sys.argv[1]))" "$2" && shift 2 && exec "$@"'
    proc = run(with_bind(mounted, target, ["sh", "-c", script, "sh", system_python, target, *argv]), build_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "False"  # why mountinfo is read
    assert versions(venv) == ["demo-1.0.dist-info"]
    assert any(mounted.rglob("*.py")), "uv did not use the cache mount"
    assert left_in(home) == []


def test_pip_uses_its_cache_only_where_it_is_a_mount(
    venv: Path, shared_dir: Path, system_python: str, environ: Dict[str, str], build_env: Dict[str, str]
) -> None:
    """As root (HOME=/root) and as a nameless UID (HOME=/, so the shared home): the README's two recipes."""
    cache_dir = pyenvboot(system_python, "pip", "--venv", str(venv), "cache", "dir")
    proc = run(cache_dir, build_env)
    assert proc.returncode != 0 and "cache is disabled" in proc.stderr
    shared_home = shared_dir / "home"
    shared_home.mkdir(mode=0o2775)
    shared_home.chmod(0o2775)
    nameless = {**environ, "HOME": "/", "PYENVBOOT_HOME": str(shared_home)}
    for env, prefix in ((build_env, []), (nameless, as_uid(ARBITRARY_UID))):
        target = Path(env["HOME"] if env is build_env else shared_home) / ".cache/pip"
        target.mkdir(parents=True)
        mounted = shared_dir / ("mount-%d" % len(prefix))
        mounted.mkdir(mode=0o777)
        mounted.chmod(0o777)
        proc = run(with_bind(mounted, str(target), prefix + cache_dir), env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "%s\n" % target


def hostile_umask(venv: Path) -> Path:
    """A ``.pth`` that sets umask 077 in every process of the venv's python after the venv's guard: uv's
    byte-compiling workers then write byte code the policy forbids, which the policy step must find."""
    site = next(venv.glob("lib/python3*/site-packages"))
    pth = site / "zz-umask.pth"
    pth.write_text("import os; os.umask(0o077)\n")
    pth.chmod(0o664)
    return site


def plant_offender(site: Path) -> Path:
    """An offender no installer writes: left alone by a step scoped to what the installer changed."""
    elsewhere = site / "pip" / "__init__.py"
    elsewhere.chmod(0o644)
    assert policy_offenders(elsewhere.parent.parent.parent.parent.parent) == [str(elsewhere)]
    return elsewhere


def test_uv_with_byte_code_is_fixed_where_it_wrote_and_nowhere_else(
    venv: Path, shared_dir: Path, system_python: str, build_env: Dict[str, str]
) -> None:
    """uv writes byte code its RECORD does not list (here into a directory another distribution made) and a
    world-writable ``.lock`` at the venv's root."""
    wheels = shared_dir / "nswheels"
    wheels.mkdir()
    build_wheel(wheels, "ns-a", "1.0", files={"nsp/a/mod.py": "A = 1\n"})
    build_wheel(wheels, "ns-b", "1.0", files={"nsp/a/more.py": "B = 1\n"})
    uv = [tool("uv"), "pip", "install", "--no-index", "--find-links", str(wheels)]
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", *uv, "ns-a"), build_env)
    assert proc.returncode == 0, proc.stderr
    site = hostile_umask(venv)
    elsewhere = plant_offender(site)
    compile_b = [*uv, "--compile-bytecode", "ns-b"]
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", *compile_b), build_env)
    assert proc.returncode == 0, proc.stderr
    assert any((site / "nsp" / "a" / "__pycache__").glob("more.*.pyc")), "uv compiled nothing: no case to test"
    assert "__pycache__" not in (site / "ns_b-1.0.dist-info" / "RECORD").read_text()
    assert (venv / ".lock").exists()
    assert policy_offenders(venv) == [str(elsewhere)]


def test_uv_sync_compiling_all_of_site_packages_is_fixed_everywhere(
    venv: Path, shared_dir: Path, system_python: str, build_env: Dict[str, str], lock_env: Dict[str, str],
    wheelhouse: Path,
) -> None:  # fmt: skip
    """``uv sync --compile-bytecode`` compiles every module of site-packages without byte code, pip's too."""
    project = app_project(shared_dir, wheelhouse)
    lock = run([tool("uv"), "lock", "--offline", "--python", str(venv / "bin/python")], lock_env, cwd=str(project))
    assert lock.returncode == 0, lock.stderr
    site = hostile_umask(venv)
    pip_pycs = site / "pip" / "__pycache__"
    shutil.rmtree(pip_pycs)  # pip without byte code, as a distribution's uncompiled pip is seeded
    sync = [tool("uv"), "sync", "--frozen", "--no-install-project", "--compile-bytecode"]
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", *sync), build_env, cwd=str(project))
    assert proc.returncode == 0, proc.stderr
    assert any(pip_pycs.glob("*.pyc")), "uv did not compile pip's modules: the case this test is about did not happen"
    assert policy_offenders(venv) == []


def test_another_command_has_the_whole_venv_walked(venv: Path, system_python: str, environ: Dict[str, str]) -> None:
    """A build script may write anywhere, deep inside an existing package too."""
    site = next(venv.glob("lib/python3*/site-packages"))
    elsewhere = plant_offender(site)
    deep = site / "pip" / "_internal" / "added.py"
    script = 'umask 077 && echo > "$1" && mkdir "$2"'
    argv = ["sh", "-c", script, "sh", str(deep), str(site / "pip" / "_internal" / "new-dir")]
    proc = run(pyenvboot(system_python, "run", "--venv", str(venv), "--", *argv), environ)
    assert proc.returncode == 0, proc.stderr
    assert deep.exists()
    assert policy_offenders(venv) == []
    assert os.stat(elsewhere).st_mode & 0o060 == 0o060
