"""Whoever writes into the venv keeps it group-writable: nothing seeded is compiled later, and the
venv's python clears the umask's group-write bit in every process (the start-up guard)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.hardening.support import diff, snapshot
from tests.support.policy import policy_offenders
from tests.support.proc import ARBITRARY_UID, as_uid, pyenvboot_cmd, run

pytestmark = pytest.mark.integration

OTHER_UID = ARBITRARY_UID + 1


def at_umask(mask: str, argv: List[str]) -> List[str]:
    """``argv`` started at umask ``mask`` without any pyenvboot in between (as ``docker exec`` starts it)."""
    return ["/bin/sh", "-c", 'umask %s && exec "$@"' % mask, "sh", *argv]


@pytest.fixture
def venv(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> Iterator[Path]:
    path = shared_dir / "venv"
    proc = run(pyenvboot_cmd(system_python) + ["init", "--venv", str(path), "--no-home"], environ)
    assert proc.returncode == 0, proc.stderr
    yield path


def site(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3*/site-packages")
    return found


def uncompiled(root: Path, venv: Path) -> List[str]:
    """Modules under ``root`` (a file or a tree) without byte code for the venv's interpreter."""
    tag = "cpython-%s" % site(venv).parent.name[len("python") :].replace(".", "")
    out = []
    for py in [root] if root.is_file() else root.rglob("*.py"):
        if not (py.parent / "__pycache__" / ("%s.%s.pyc" % (py.stem, tag))).is_file():
            out.append(str(py))
    return out


def test_init_compiles_everything_it_seeds(venv: Path) -> None:
    seeded = [site(venv) / "pip", site(venv) / "_pyenvboot_pid1.py", venv / "share/pyenvboot/lib"]
    assert all(p.exists() for p in seeded)
    assert [m for p in seeded for m in uncompiled(p, venv)] == []
    assert policy_offenders(venv) == []


def test_root_commands_at_umask_022_change_nothing_in_a_fresh_venv(
    venv: Path, system_python: str, environ: Dict[str, str]
) -> None:
    before = snapshot(venv)
    env = {k: v for k, v in environ.items() if k != "PYTHONPATH"}  # check would rightly report it
    for argv in (
        [str(venv / "bin/pyenvboot"), "check"],
        [str(venv / "bin/pip"), "list"],
        [str(venv / "bin/python"), "-m", "pip", "check"],
        [str(venv / "bin/pip"), "freeze"],
        [str(venv / "bin/pyenvboot"), "check"],
    ):
        proc = run(at_umask("022", argv), {**env, "PYENVBOOT_VENV": str(venv)})
        assert proc.returncode == 0, (argv, proc.stdout, proc.stderr)
    assert diff(before, snapshot(venv)) == []


@pytest.mark.parametrize(
    "mask, flags, expected",
    [
        ("022", [], "0o2"),
        ("027", [], "0o7"),
        ("077", [], "0o57"),
        ("002", [], "0o2"),
        ("022", ["-I"], "0o2"),
        ("022", ["-E", "-s"], "0o2"),
        ("022", ["-S"], "0o22"),  # no site, no .pth: documented
    ],
)
def test_the_venvs_python_clears_only_the_group_write_bit_of_the_umask(
    venv: Path, environ: Dict[str, str], mask: str, flags: List[str], expected: str
) -> None:
    code = "import os; print(oct(os.umask(0)))"
    proc = run(at_umask(mask, [str(venv / "bin/python"), *flags, "-c", code]), environ)
    assert proc.stdout.strip() == expected, proc.stderr


def test_a_foreign_interpreter_is_not_guarded(venv: Path, system_python: str, environ: Dict[str, str]) -> None:
    code = "import os; print(oct(os.umask(0)))"
    proc = run(at_umask("022", [system_python, "-c", code]), environ)
    assert proc.stdout.strip() == "0o22"


def test_a_plain_pip_install_by_one_nameless_uid_is_upgraded_and_uninstalled_by_another(
    venv: Path, environ: Dict[str, str], wheelhouse: Path
) -> None:
    """As a plain ``docker exec CTR pip install`` starts pip: umask 022, HOME=/, no hook, no pyenvboot."""
    env = {**environ, "HOME": "/", "PATH": "%s/bin:%s" % (venv, environ["PATH"])}
    index = ["--no-index", "-f", str(wheelhouse)]
    first = run(as_uid(ARBITRARY_UID) + at_umask("022", ["pip", "install", *index, "demo==1.0"]), env)
    assert first.returncode == 0, first.stderr
    upgrade = run(as_uid(OTHER_UID) + at_umask("022", ["pip", "install", *index, "-U", "demo"]), env)
    assert upgrade.returncode == 0 and "Traceback" not in upgrade.stderr, upgrade.stderr
    proc = run(as_uid(OTHER_UID) + at_umask("022", ["python", "-c", "import demo; print(demo.__version__)"]), env)
    assert proc.stdout.strip() == "2.0"
    gone = run(as_uid(ARBITRARY_UID) + at_umask("022", ["pip", "uninstall", "-y", "demo"]), env)
    assert gone.returncode == 0 and "Traceback" not in gone.stderr, gone.stderr
    assert sorted(p.name for p in site(venv).iterdir() if p.name.startswith("~") or "demo" in p.name) == []
    assert policy_offenders(venv) == []


def test_the_guard_survives_a_pip_reinstall_and_init_puts_it_back(
    venv: Path, system_python: str, environ: Dict[str, str]
) -> None:
    wheels = sorted(Path("/usr/share/python-wheels").glob("pip-*.whl"))
    if not wheels:
        pytest.skip("no pip wheel in /usr/share/python-wheels")
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--force-reinstall", "--no-deps", str(wheels[-1])]
    proc = run(at_umask("022", pip), environ)
    assert proc.returncode == 0, proc.stderr
    assert policy_offenders(venv) == []  # pip wrote its new files and byte code at umask 002
    guard = [site(venv) / "00-pyenvboot-guard.pth", site(venv) / "_pyenvboot_pid1.py"]
    assert all(p.is_file() for p in guard)
    for path in guard:
        path.unlink()
    proc = run(pyenvboot_cmd(system_python) + ["init", "--venv", str(venv), "--no-home"], environ)
    assert proc.returncode == 0, proc.stderr
    assert all(p.is_file() for p in guard)
    assert uncompiled(site(venv) / "pip", venv) == [] and policy_offenders(venv) == []
    code = "import os; print(oct(os.umask(0)))"
    assert run(at_umask("022", [str(venv / "bin/python"), "-c", code]), environ).stdout.strip() == "0o2"


def test_init_update_leaves_an_up_to_date_guard_and_byte_code_alone(
    venv: Path, system_python: str, environ: Dict[str, str]
) -> None:
    watched = [site(venv) / "00-pyenvboot-guard.pth", site(venv) / "_pyenvboot_pid1.py", site(venv) / "pip"]
    before = snapshot(*watched)
    proc = run(pyenvboot_cmd(system_python) + ["init", "--venv", str(venv), "--no-home"], environ)
    assert proc.returncode == 0, proc.stderr
    assert diff(before, snapshot(*watched)) == []
