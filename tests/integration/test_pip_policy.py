"""``pyenvboot pip``: the permission policy after pip covers what pip wrote, and only that.

A ``.pth`` in the venv sets umask 077 in pip's own process (after the venv's guard),
so every file and directory pip creates, and every script it chmods, breaks the
policy unless ``pyenvboot pip`` fixes it afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.support.policy import policy_offenders
from tests.support.proc import run
from tests.support.tmp import reachable_tmpdir
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheels() -> Iterator[Path]:
    """Two distributions sharing a namespace package; the second goes three directories deep into it."""
    with reachable_tmpdir("pyenvboot-nswheels-") as path:
        build_wheel(path, "ns-a", "1.0", files={"nsp/a/mod.py": "A = 1\n"}, console_scripts={"ns-a": "nsp.a.mod:A"})
        build_wheel(path, "ns-b", "1.0", files={"nsp/a/more.py": "B = 1\n", "nsp/b/deep/er/mod.py": "B = 2\n"})
        yield path


@pytest.fixture
def venv(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> Path:
    path = shared_dir / "venv"
    proc = run([system_python, "-m", "pyenvboot", "init", "--venv", str(path), "--no-home"], environ)
    assert proc.returncode == 0, proc.stderr
    site = next(path.glob("lib/python3*/site-packages"))
    hostile = site / "zz-umask.pth"
    hostile.write_text("import os; os.umask(0o077)\n")
    hostile.chmod(0o664)
    assert policy_offenders(path) == []
    return path


def pip(system_python: str, environ: Dict[str, str], venv: Path, wheels: Path, *args: str) -> None:
    argv = [system_python, "-m", "pyenvboot", "pip", "--venv", str(venv), *args]
    if args[0] == "install":
        argv += ["--no-index", "--find-links", str(wheels)]
    proc = run(argv, environ)
    assert proc.returncode == 0, proc.stderr


def test_everything_pip_writes_ends_compliant(
    venv: Path, wheels: Path, system_python: str, environ: Dict[str, str]
) -> None:
    site = next(venv.glob("lib/python3*/site-packages"))
    pip(system_python, environ, venv, wheels, "install", "ns-a")
    assert (venv / "bin" / "ns-a").exists()  # a script pip wrote and chmod-ed into an existing directory
    assert policy_offenders(venv) == []
    pip(system_python, environ, venv, wheels, "install", "ns-b")
    assert (site / "nsp" / "b" / "deep" / "er" / "mod.py").exists()  # new directories inside an existing tree
    assert policy_offenders(venv) == []
    pip(system_python, environ, venv, wheels, "uninstall", "-y", "ns-a")
    assert not (venv / "bin" / "ns-a").exists()
    assert policy_offenders(venv) == []


def test_only_what_pip_installed_is_visited(
    venv: Path, wheels: Path, system_python: str, environ: Dict[str, str]
) -> None:
    """An offender pip did not write is left for fix-permissions: the step costs what pip changed."""
    elsewhere = next(venv.glob("lib/python3*/site-packages/pip/__init__.py"))
    elsewhere.chmod(0o644)
    pip(system_python, environ, venv, wheels, "install", "ns-b")
    offenders: List[str] = policy_offenders(venv)
    assert offenders == [str(elsewhere)]


def test_a_failed_pip_has_the_whole_venv_fixed(
    venv: Path, wheels: Path, system_python: str, environ: Dict[str, str]
) -> None:
    elsewhere = next(venv.glob("lib/python3*/site-packages/pip/__init__.py"))
    elsewhere.chmod(0o644)
    argv = [system_python, "-m", "pyenvboot", "pip", "--venv", str(venv), "install", "--no-index"]
    proc = run(argv + ["--find-links", str(wheels), "no-such-dist"], environ)
    assert proc.returncode == 1, proc.stderr
    assert policy_offenders(venv) == []
    assert os.stat(elsewhere).st_mode & 0o060 == 0o060


def test_the_walk_judges_every_mode_as_the_policy_does(tmp_path: Path) -> None:
    """The walk's inlined test against :func:`compliant`, over every permission bit pattern of a file."""
    from pyenvboot.permissions.policy import Report, compliant, walk

    for perm in range(0o10000):
        path = tmp_path / ("%04o" % perm)
        path.touch()
        path.chmod(perm)
    gid = os.stat(tmp_path).st_gid
    for wanted_gid in (gid, gid + 1):
        expected = sorted(str(p) for p in tmp_path.iterdir() if not compliant(p.lstat(), wanted_gid))
        found = sorted(e.path for e in walk(str(tmp_path), Report(), wanted_gid) if e.path != str(tmp_path))
        assert found == expected


def test_fix_dirs_covers_the_directories_named_and_their_ancestors(tmp_path: Path) -> None:
    from pyenvboot.permissions.policy import fix_dirs

    root = tmp_path / "venv"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "x").mkdir()
    for path in (root, root / "a", root / "a" / "b", root / "a" / "b" / "c", root / "x"):
        path.chmod(0o2775)
    named, deep, other = root / "a" / "b" / "f.py", root / "a" / "b" / "c" / "g.py", root / "x" / "h.py"
    for path in (named, deep, other):
        path.write_text("")
        path.chmod(0o644)
    (root / "a" / "b").chmod(0o755)  # an ancestor of what is named, made by a umask 022 installer
    report = fix_dirs(str(root), ["a/b"], 0)
    assert sorted(policy_offenders(root)) == sorted([str(deep), str(other)])  # c and x were not named
    assert report.changed == 2
