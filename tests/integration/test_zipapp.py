"""The zipapp as scripts/build-zipapp makes it: reproducible, and carrying a current pip that ``init`` seeds.

The build runs offline from the script's wheel cache (``--wheel-dir``), which
``scripts/test`` filled when it built dist/pyenvboot.pyz. ``init`` runs in a network
namespace of its own: seeding pip needs no index.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path
from typing import List

import pytest
from packaging.version import Version

from tests.container.wheelcache import BUILD_ZIPAPP, REPO_ROOT
from tests.integration._checkhelpers import MINORS, clean_env, hiding, pyenv_python, run, unshare_works
from tests.integration._zipapp import build, carried, expected_pip, wheel_cache_fixture, zipapp_fixture  # noqa: F401
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.integration

DEBIAN_WHEELS = "/usr/share/python-wheels"


def test_build_is_reproducible(zipapp: Path, wheel_cache: Path, tmp_path: Path) -> None:
    """Another checkout (other mtimes, modes, umask, stray byte code) gives the same bytes."""
    copy = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / "pyenvboot", copy / "pyenvboot", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "scripts").mkdir()
    shutil.copy2(BUILD_ZIPAPP, copy / "scripts" / "build-zipapp")
    (copy / "pyenvboot" / "__pycache__").mkdir()
    (copy / "pyenvboot" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"byte code of this machine")
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        path.chmod(0o700 if path.is_dir() else 0o600)

    second = tmp_path / "second.pyz"
    proc = build(copy / "scripts" / "build-zipapp", second, wheel_cache, umask=0o077)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (zipapp, second)]
    assert digests[0] == digests[1]
    with zipfile.ZipFile(zipapp) as zf:
        names = zf.namelist()
    assert names == sorted(names)
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]


def test_carries_a_pip_for_every_supported_python_and_no_other(zipapp: Path) -> None:
    wheels = carried(zipapp)
    chosen = {expected_pip(zipapp, minor + ".0") for minor in MINORS}
    # Each carried wheel is the newest fitting one for some supported Python: no dead weight.
    assert set(wheels) == chosen, wheels
    # pip 25.1 dropped Python 3.8: one pip for every base is impossible, the 3.8 one is older.
    assert expected_pip(zipapp, "3.8.0") < Version("25.1") <= expected_pip(zipapp, "3.13.0")


def offline() -> List[str]:
    """A command prefix: a network namespace with only loopback, when this machine allows it."""
    if not unshare_works():
        return []
    return ["unshare", "-n"]


def base_python(base: str) -> str:
    if base == "debian":
        return "/usr/bin/python3"
    python = pyenv_python(base)
    if python is None:
        pytest.skip("no pyenv Python %s on this machine (pyenv install %s)" % (base, base))
    return python


def python_version(python: str) -> str:
    proc = run([python, "-c", "import platform; print(platform.python_version())"], clean_env())
    return proc.stdout.strip()


@pytest.mark.parametrize("base", ["debian", *MINORS])
def test_init_seeds_the_carried_pip(zipapp: Path, base: str, shared_dir: Path) -> None:
    """``init`` from the zipapp, offline: the pip a user then runs is the newest carried one that fits."""
    python = base_python(base)
    if base == "debian" and not os.access(python, os.X_OK):
        pytest.skip("no Debian python3 on this machine")
    venv = shared_dir / "venv"
    env = clean_env()
    # The zipapp runs on the base itself, as in an image: ``RUN pyenvboot init``.
    proc = run(offline() + [python, str(zipapp), "init", "--venv", str(venv), "--no-home"], env)
    assert proc.returncode == 0, proc.stderr

    want = expected_pip(zipapp, python_version(python))
    shown = run([str(venv / "bin" / "pip"), "--version"], env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[:2] == ["pip", str(want)], shown.stdout
    if base == "debian":
        debian = sorted(Path(DEBIAN_WHEELS).glob("pip-*.whl"))
        assert not debian or Version(debian[-1].name.split("-")[1]) < want  # newer than the distribution's


def test_init_on_a_base_without_any_pip_wheel(zipapp: Path, shared_dir: Path) -> None:
    """Debian's python3 without python3-venv (no wheels in /usr/share/python-wheels) still gets pip offline."""
    if not unshare_works():
        pytest.skip("needs root and mount namespaces to hide %s" % DEBIAN_WHEELS)
    empty = shared_dir / "empty"
    empty.mkdir()
    venv = shared_dir / "venv"
    env = clean_env()
    argv = ["/usr/bin/python3", str(zipapp), "init", "--venv", str(venv), "--creator", "venv", "--no-home"]
    proc = run(["unshare", "-n"] + hiding([DEBIAN_WHEELS], empty) + argv, env)
    assert proc.returncode == 0, proc.stderr
    shown = run([str(venv / "bin" / "pip"), "--version"], env)
    assert shown.stdout.split()[:2] == ["pip", str(expected_pip(zipapp, python_version("/usr/bin/python3")))]


@pytest.mark.parametrize(("offered", "requires_python", "seeded"), [
    ("99.0", None, "99.0"),  # newer and fits: it wins over the carried pip
    ("99.0", ">=3.99", "carried"),  # newer but not for this Python: ignored
    ("1.0", None, "carried"),  # older: the carried pip wins
])  # fmt: skip
def test_init_prefers_a_newer_fitting_wheel(
    zipapp: Path, shared_dir: Path, offered: str, requires_python: str, seeded: str
) -> None:
    wheelhouse = shared_dir / "wheelhouse"
    build_wheel(
        wheelhouse, "pip", offered, files={"pip/__init__.py": "__version__ = %r\n" % offered},
        requires_python=requires_python, console_scripts={"pip": "pip:main"},
    )  # fmt: skip
    venv = shared_dir / "venv"
    env = clean_env()
    argv = ["/usr/bin/python3", str(zipapp), "init", "--venv", str(venv), "--wheelhouse", str(wheelhouse), "--no-home"]
    proc = run(argv, env)
    assert proc.returncode == 0, proc.stderr
    got = run([str(venv / "bin" / "python"), "-c", "import pip; print(pip.__version__)"], env)
    want = str(expected_pip(zipapp, python_version("/usr/bin/python3"))) if seeded == "carried" else seeded
    assert got.stdout.strip() == want, got.stderr
