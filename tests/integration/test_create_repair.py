"""``init`` brings a venv back after its base Python changed under it.

The changes are made as they happen: the directory the base lives in is swapped
for another Python (a release upgrade behind ``/usr/bin/python3``, or a pyenv
version replaced), or removed (a dangling interpreter symlink).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from tests.integration._checkhelpers import (  # noqa: F401  (fixtures)
    build_tagged_wheel,
    env_fixture,
    problems,
    pyenv_python,
    pyenvboot,
    run,
)
from tests.support.ci import missing

pytestmark = pytest.mark.integration


def quiet(env: Dict[str, str]) -> Dict[str, str]:
    """For running the venv's python directly as root (umask 022): no byte code left behind to spoil the policy."""
    return dict(env, PYTHONDONTWRITEBYTECODE="1")


def python_at(venv: Path, code: str, env: Dict[str, str]) -> str:
    proc = run([str(venv / "bin/python"), "-c", code], quiet(env))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def init(source: Path, venv: Path, env: Dict[str, str], *args: str, python: str = "") -> List[str]:
    command = pyenvboot(source, python) if python else pyenvboot(source)
    proc = run(command + ["init", "--venv", str(venv), "--no-home", *args], env)
    assert proc.returncode == 0, proc.stderr
    return [line[len("pyenvboot: ") :] for line in proc.stdout.splitlines() if line.startswith("pyenvboot: ")]


def pip_install(source: Path, venv: Path, env: Dict[str, str], *args: str) -> None:
    proc = run(pyenvboot(source) + ["pip", "--venv", str(venv), "install", "--no-index", *args], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_minor_upgrade_behind_the_same_path_moves_what_still_fits(
    shared_dir: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    old_python, new_python = pyenv_python("3.11"), pyenv_python("3.12")
    if old_python is None or new_python is None:
        missing("needs pyenv Pythons 3.11 and 3.12 (pyenv install 3.11 3.12)")
    old_root, new_root = Path(old_python).parent.parent, Path(new_python).parent.parent
    base = shared_dir / "python"  # what /usr is to /usr/bin/python3: a release upgrade swaps what is behind it
    base.symlink_to(old_root)
    old_pip = sorted(Path("/usr/share/python-wheels").glob("pip-23.0*.whl"))  # too old for Python 3.12
    venv = shared_dir / "venv"
    init(
        readable_source,
        venv,
        env,
        "--python",
        str(base / "bin/python3"),
        *(["--pip-wheel", str(old_pip[0])] if old_pip else []),
    )
    native = build_tagged_wheel(
        shared_dir / "native-wheels",
        "native",
        "1.0",
        "cp311-cp311-linux_x86_64",
        {"native/__init__.py": b"", "native/_speed.cpython-311-x86_64-linux-gnu.so": b"\x7fELF not really"},
    )
    pip_install(readable_source, venv, env, "-f", str(wheelhouse), "needs-demo", str(native))

    installed = sorted(p.name for p in venv.glob("lib/python3.11/site-packages/*.dist-info"))
    assert len(installed) == 4  # pip, demo, needs-demo, native
    base.unlink()
    base.symlink_to(new_root)
    assert python_at(venv, "import sys; print(sys.version_info[:2])", env) == "(3, 12)"
    assert python_at(venv, "import importlib.util as u; print(u.find_spec('demo'))", env) == "None"  # lost, for now
    (line,) = problems(run(pyenvboot(readable_source) + ["check", "--venv", str(venv)], env).stdout, "interpreter")[:1]
    assert line.startswith("interpreter: pyvenv.cfg says Python 3.11.")

    actions = init(readable_source, venv, env)
    assert actions[0].startswith("repaired: base Python 3.11.") and " -> 3.12." in actions[0]
    assert "moved 4 distribution(s) from python3.11/site-packages to python3.12/site-packages" in actions
    assert (
        "set aside native 1.0 (built for cp311-cp311-linux_x86_64) in lib/python3.11/site-packages; reinstall it:"
        " pyenvboot pip install 'native==1.0'" in actions
    )
    if old_pip:
        assert [a for a in actions if a.startswith("replaced pip 23.0")], actions
    assert python_at(venv, "import demo, needs_demo; print(demo.__version__)", env) == "2.0"
    assert python_at(venv, "import importlib.util as u; print(u.find_spec('native'))", env) == "None"
    proc = run([str(venv / "bin/pip"), "--version"], quiet(env))
    assert proc.returncode == 0 and "(python 3.12)" in proc.stdout, proc.stdout + proc.stderr
    assert (venv / "lib/python3.11/site-packages/native-1.0.dist-info").is_dir()  # set aside, not lost
    assert (venv / "bin/python3.12").is_symlink() and not (venv / "bin/python3.11").exists()
    assert "version = 3.12." in (venv / "pyvenv.cfg").read_text()

    found = problems(run(pyenvboot(readable_source) + ["check", "--venv", str(venv)], env).stdout)
    assert [line for line in found if " is out of reach for other UIDs" not in line] == [
        "interpreter: %s/lib/python3.11/site-packages holds 1 distribution(s) Python 3.12 does not load (native 1.0);"
        " fix: pyenvboot pip --venv %s install native==1.0, then rm -r %s/lib/python3.11" % (venv, venv, venv)
    ]
    assert [a for a in init(readable_source, venv, env) if a.startswith(("repaired", "moved", "set aside"))] == []


@pytest.mark.parametrize("explicit", [True, False], ids=["--python", "default-python"])
def test_dangling_base_is_relinked_and_packages_kept(
    shared_dir: Path,
    readable_source: Path,
    system_python: str,
    env: Dict[str, str],
    wheelhouse: Path,
    explicit: bool,
) -> None:
    gone = shared_dir / "old-python"
    gone.symlink_to("/usr")  # the old base, soon removed (pyenv uninstall 3.X.Y)
    venv = shared_dir / "venv"
    init(readable_source, venv, env, "--python", str(gone / "bin/python3"))
    pip_install(readable_source, venv, env, "-f", str(wheelhouse), "demo==1.0")
    cfg = venv / "pyvenv.cfg"
    actual = next(line.split("= ")[1] for line in cfg.read_text().splitlines() if line.startswith("version ="))
    major, minor, patch = (int(x) for x in actual.split("."))
    older = "%d.%d.%d" % (major, minor, patch - 1 if patch else patch + 1)
    cfg.write_text(cfg.read_text().replace("version = " + actual, "version = " + older))  # made by an older patch
    gone.unlink()
    assert not (venv / "bin/python").exists()

    args = ["--python", system_python] if explicit else []
    actions = init(readable_source, venv, env, *args, python=system_python)
    expected = "repaired: base Python %s (%s/bin/python3, missing) -> %s (%s)" % (older, gone, actual, system_python)
    assert actions[0] == expected
    assert python_at(venv, "import demo; print(demo.__version__)", env) == "1.0"
    assert run(pyenvboot(readable_source) + ["check", "--venv", str(venv)], env).returncode == 0


def test_another_minor_next_to_a_working_base_is_refused(
    shared_dir: Path, readable_source: Path, system_python: str, env: Dict[str, str], wheelhouse: Path
) -> None:
    other = next((p for p in (pyenv_python(m) for m in ("3.12", "3.10", "3.13", "3.9")) if p), None)
    if other is None:
        missing("needs a pyenv Python of another minor version than %s (pyenv install 3.12)" % system_python)
    venv = shared_dir / "venv"
    init(readable_source, venv, env, python=system_python)
    pip_install(readable_source, venv, env, "-f", str(wheelhouse), "demo==1.0")
    before = (venv / "pyvenv.cfg").read_text()
    proc = run(pyenvboot(readable_source) + ["init", "--venv", str(venv), "--no-home", "--python", other], env)
    assert proc.returncode == 3
    assert proc.stderr.startswith("error: %s was made by Python 3." % venv) and proc.stderr.count("\n") == 1
    assert (venv / "pyvenv.cfg").read_text() == before
    assert python_at(venv, "import demo; print(demo.__version__)", env) == "1.0"
