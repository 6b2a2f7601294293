"""Faults: SIGKILL at any change to the venv, and a full disk.

Each trial kills ``init`` or ``pyenvboot pip`` (its whole process group, as a
stopped build or an OOM kill of the container does) right before one of the
changes it makes to the file system: a kill point numbered in a recorded run
(tests/support/killpoints.py), so every kill lands where it was aimed whatever
the machine's load. The points are drawn from every part of the run with the
session's seed (printed on failure; ``PYENVBOOT_TEST_SEED`` replays it).
Afterwards the same command must complete, the venv must be consistent and pass
``check``, and what was installed before the interrupted step must still be there.
"""

from __future__ import annotations

import base64
import fcntl
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

from tests.hardening.support import (
    check_problems,
    dist_infos,
    error_line,
    installed_versions,
    pyenvboot,
    run,
    snapshot,
    venv_problems,
    venv_python,
)
from tests.support.ci import missing
from tests.support.killpoints import changes, kill_before, paused_before, spread, wait_for_exit
from tests.support.seed import replay
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheels(base: Path) -> Path:
    path = base / "wheels"
    for name, version in [("demo", "1.0"), ("demo", "2.0"), ("extra", "1.0"), ("keep", "1.0")]:
        build_wheel(path, name, version)
    # Big enough that it does not fit on a full disk.
    blob = base64.b64encode(random.Random(0).randbytes(3 << 20)).decode()
    build_wheel(path, "demo", "3.0", files={"demo/__init__.py": "__version__ = '3.0'\n", "demo/blob.txt": blob})
    return path


def pip_install(venv: Path, wheels: Path, *requirements: str) -> List[str]:
    options = ["install", "-q", "--no-index", "--find-links", str(wheels)]
    return pyenvboot() + ["pip", "--venv", str(venv), *options, *requirements]


def consistent(venv: Path, env: Dict[str, str], full: bool = False) -> List[str]:
    """Problems of the venv, ``check``'s included; ``full`` adds ``pip check`` (slow)."""
    return venv_problems(venv, env, pip_check=full) + check_problems(venv, env)


@pytest.fixture
def trial_dir(base: Path) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="faults-", dir=base))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_init_killed_at_any_change(trial_dir: Path, henv: Dict[str, str], rng: random.Random) -> None:
    """A new venv appears whole or not at all; init then completes."""
    venv = trial_dir / "v"
    new = pyenvboot() + ["init", "--venv", str(venv), "--no-home"]
    made = changes(new, henv, trial_dir)  # the staging directory is a sibling of the venv
    for number in spread(len(made), 20, rng):
        shutil.rmtree(venv)
        what = "%s, %s" % (replay(), kill_before(new, henv, trial_dir, number))
        # All or nothing: the venv is only renamed into place once complete.
        if venv.exists():
            assert (venv / "bin" / "pip").exists() and (venv / "share/pyenvboot/hook.sh").exists(), what
        proc = run(new, henv)
        assert proc.returncode == 0, (what, proc.stderr)
        assert consistent(venv, henv) == [], what


def remove_pip(venv: Path) -> None:
    """Make ``venv`` a venv without pip (as ``init --without-pip`` leaves it), faster than pip uninstalling itself."""
    site = next(venv.glob("lib/python3*/site-packages"))
    for path in [site / "pip", *site.glob("pip-*.dist-info"), *(venv / "bin").glob("pip*")]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@pytest.mark.parametrize("seeding", [False, True], ids=["update", "seeding-pip"])
def test_init_killed_while_updating_keeps_packages(
    trial_dir: Path, henv: Dict[str, str], wheels: Path, rng: random.Random, seeding: bool
) -> None:
    """Killed during an update in place (or while seeding a missing pip into it), nothing is lost."""
    venv = trial_dir / "v"
    update = pyenvboot() + ["init", "--venv", str(venv), "--no-home"]
    assert run(update, henv).returncode == 0
    assert run(pip_install(venv, wheels, "demo==1.0", "keep"), henv).returncode == 0
    if seeding:
        remove_pip(venv)
    made = changes(update, henv, trial_dir)
    for number in spread(len(made), 8, rng):
        if seeding:
            remove_pip(venv)
        what = "%s, %s" % (replay(), kill_before(update, henv, trial_dir, number))
        assert installed_versions(venv, henv, ["demo", "keep"]) == {"demo": "1.0", "keep": "1.0"}, what
        proc = run(update, henv)
        assert proc.returncode == 0, (what, proc.stderr)
        assert (venv / "bin/pip").is_file() and venv_python(venv, henv, "-c", "import pip").returncode == 0, what
        assert consistent(venv, henv) == [], what
    proc = run([str(venv / "bin/pip"), "--version"], henv, umask=0o002)
    assert proc.returncode == 0, proc.stderr
    assert consistent(venv, henv, full=True) == []


def site_listing(site: Path) -> List[str]:
    """site-packages' entries, with each dist-info's files: what a failure message needs."""
    out = []
    for p in sorted(site.iterdir()):
        files = sorted(f.name for f in p.iterdir()) if p.name.endswith(".dist-info") and p.is_dir() else []
        out.append(p.name + (str(files) if files else ""))
    return out


# Each step starts where the one before left the venv, and the last one leads back to the first:
# a step makes the same changes in the same order every time it runs.
STEPS: List[Tuple[str, ...]] = [("demo==3.0", "extra"), ("demo==1.0",), ("demo==2.0", "extra==1.0")]


def test_pip_killed_at_any_change(trial_dir: Path, henv: Dict[str, str], wheels: Path, rng: random.Random) -> None:
    """Packages the interrupted step did not touch survive it; running the step again completes it."""
    venv = trial_dir / "v"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    assert run(pip_install(venv, wheels, "keep==1.0", *STEPS[-1]), henv).returncode == 0
    site = next(venv.glob("lib/python3*/site-packages"))
    made = [changes(pip_install(venv, wheels, *step), henv, venv) for step in STEPS]
    points = [spread(len(m), 4, rng) for m in made]
    rounds = max(map(len, points))
    # Round after round through the steps: each trial starts where the recorded run of its step started.
    trials = [(step, p[r % len(p)]) for r in range(rounds) for step, p in zip(STEPS, points)]
    for trial, (step, number) in enumerate(trials):
        killed = kill_before(pip_install(venv, wheels, *step), henv, venv, number)
        what = "%s, trial %d, step %s, %s" % (replay(), trial, step, killed)
        left = site_listing(site)
        assert installed_versions(venv, henv, ["keep"]) == {"keep": "1.0"}, what
        proc = run(pip_install(venv, wheels, *step), henv)
        what += "; left by the kill: %s; the second run said: %s" % (left, proc.stderr)
        assert proc.returncode == 0, what
        assert installed_versions(venv, henv, ["demo"]) == {"demo": step[0].split("==")[1]}, what
        assert consistent(venv, henv) == [], what
    assert consistent(venv, henv, full=True) == []


@pytest.mark.parametrize(
    "target",
    [
        r"os\.rename .*/demo-3\.0\.dist-info/RECORD\w{8}\.tmp$",  # pip's RECORD, written last
        r"os\.rename .*/demo/__pycache__/__init__\.\S+\.pyc\.\d+$",  # importlib's _write_atomic
    ],
    ids=["before-pips-record", "while-compiling"],
)
def test_pip_killed_late_in_an_install_can_replace_it(
    trial_dir: Path, henv: Dict[str, str], wheels: Path, target: str
) -> None:
    """Killed after unpacking, with the wheel's own RECORD in place: replacing it later leaves nothing behind."""
    venv = trial_dir / "v"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    assert run(pip_install(venv, wheels, "demo==1.0"), henv).returncode == 0
    step = pip_install(venv, wheels, "demo==3.0")
    made = changes(step, henv, venv)
    number = next(i for i, change in enumerate(made, 1) if re.search(target, change))
    assert run(pip_install(venv, wheels, "demo==1.0"), henv).returncode == 0
    what = str(kill_before(step, henv, venv, number))
    again = run(step, henv)
    assert again.returncode == 0, (what, again.stderr)
    assert installed_versions(venv, henv, ["demo"]) == {"demo": "3.0"}, what
    down = run(pip_install(venv, wheels, "demo==1.0"), henv)
    assert down.returncode == 0 and "invalid metadata" not in down.stderr, (what, down.stderr)
    site = next(venv.glob("lib/python3*/site-packages"))
    assert sorted(p.name for p in site.glob("demo*")) == ["demo", "demo-1.0.dist-info"], (what, site_listing(site))
    assert sorted(p.name for p in (site / "demo/__pycache__").iterdir()) == sorted(
        p.name for p in (site / "demo/__pycache__").glob("__init__.*.pyc")
    ), what
    assert consistent(venv, henv) == [], what


def test_pyenvboot_killed_alone_keeps_the_lock_until_pip_ends(
    trial_dir: Path, henv: Dict[str, str], wheels: Path
) -> None:
    """SIGKILL to pyenvboot only: the pip it started goes on, still holding the venv lock."""
    venv = trial_dir / "v"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    install = pip_install(venv, wheels, "demo==3.0")
    # pip waits before its first change to the venv: it runs, and pyenvboot waits for it.
    with paused_before(install, henv, venv, 1, stderr=subprocess.PIPE) as (proc, pip):
        assert pip != proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        # The lock is flock on the venv directory: free exactly when nobody holds it.
        fd = os.open(venv, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    wait_for_exit(pip, timeout=300)
    second = run(install, henv)
    assert second.returncode == 0, second.stderr
    assert len(dist_infos(venv)["demo"]) == 1


# -- a full disk ------------------------------------------------------------------------


@pytest.fixture
def tmpfs(trial_dir: Path) -> Iterator[Callable[[str], Path]]:
    """Small file systems of their own: ``mount -t tmpfs -o size=...`` (root only)."""
    if os.geteuid() != 0:
        missing("mounting a tmpfs needs root")
    mounts: List[Path] = []

    def mount(size: str) -> Path:
        path = trial_dir / ("fs%d" % len(mounts))
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=755" % size, "tmpfs", str(path)], check=True)
        mounts.append(path)
        return path

    yield mount
    for path in mounts:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path, leave: int = 0) -> None:
    """Take all the space that is left, but ``leave`` bytes."""
    filler = directory / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))


def test_init_on_a_full_disk_says_so_and_leaves_nothing(tmpfs: Callable[[str], Path], henv: Dict[str, str]) -> None:
    fs = tmpfs("2m")
    proc = run(pyenvboot() + ["init", "--venv", str(fs / "v"), "--no-home"], henv)
    assert proc.returncode == 8
    assert "no space left on device" in error_line(proc)
    assert list(fs.iterdir()) == []


def test_init_update_on_a_full_disk_keeps_the_venv(tmpfs: Callable[[str], Path], henv: Dict[str, str]) -> None:
    """Seeding pip into a venv on a full disk fails clearly; the venv still works; with room, init completes."""
    fs = tmpfs("24m")  # room for a venv with pip, once the filler is gone
    venv = fs / "v"
    init = pyenvboot() + ["init", "--venv", str(venv), "--no-home"]
    assert run(init + ["--without-pip"], henv).returncode == 0
    fill(fs)
    kept = snapshot(venv / "pyvenv.cfg", venv / "share/pyenvboot/hook.sh", venv / "bin/python")
    proc = run(init, henv)
    assert proc.returncode == 8
    assert "no space left on device" in error_line(proc)
    assert snapshot(*map(Path, kept)) == kept
    still_a_venv = "import sys; assert sys.prefix != sys.base_prefix"
    assert venv_python(venv, henv, "-c", still_a_venv).returncode == 0
    (fs / "filler").unlink()
    proc = run(init, henv)
    assert proc.returncode == 0, proc.stderr
    proc = run([str(venv / "bin/pip"), "--version"], henv, umask=0o002)
    assert proc.returncode == 0, proc.stderr


def test_pip_on_a_full_disk_keeps_what_was_installed(
    tmpfs: Callable[[str], Path], henv: Dict[str, str], wheels: Path
) -> None:
    fs = tmpfs("40m")
    venv = fs / "v"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    assert run(pip_install(venv, wheels, "demo==1.0", "keep"), henv).returncode == 0
    fill(fs, leave=512 << 10)  # not enough for demo 3.0
    proc = run(pip_install(venv, wheels, "demo==3.0"), henv)
    assert proc.returncode == 1  # pip's own exit code
    assert "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert installed_versions(venv, henv, ["demo", "keep"]) == {"demo": "1.0", "keep": "1.0"}
    (fs / "filler").unlink()
    assert run(pip_install(venv, wheels, "demo==3.0"), henv).returncode == 0
    assert installed_versions(venv, henv, ["demo"]) == {"demo": "3.0"}
    assert consistent(venv, henv, full=True) == []


def test_pip_removes_what_a_killed_pip_left(trial_dir: Path, henv: Dict[str, str], wheels: Path) -> None:
    """pip moves what it replaces to ``~name``, writes dist-info files through ``.tmp`` files, RECORD last.

    A kill leaves any of these; the next run removes them, and says so.
    """
    venv = trial_dir / "v"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    assert run(pip_install(venv, wheels, "demo==1.0"), henv).returncode == 0
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "demo").rename(site / "~emo")  # exactly what a pip killed mid-upgrade leaves
    (site / "demo-1.0.dist-info").rename(site / "~emo-1.0.dist-info")
    (site / "demo-0.5.dist-info").mkdir()  # and what one killed while writing a dist-info leaves
    (site / "demo-0.5.dist-info" / "INSTALLERt0pdv0kp.tmp").write_text("pip")
    (site / "extra-1.0.dist-info").mkdir()  # and one killed while unpacking a wheel, before its RECORD
    (site / "extra-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: extra\nVersion: 1.0\n")
    proc = run(pip_install(venv, wheels, "demo==2.0", "extra==1.0"), henv)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("left by an interrupted pip") == 4
    assert (site / "extra-1.0.dist-info" / "RECORD").is_file()  # installed again, not taken as installed
    assert sorted(p.name for p in site.glob("~*")) == []
    assert not (site / "demo-0.5.dist-info").exists()
    assert dist_infos(venv)["demo"] == ["demo-2.0.dist-info"]
    assert consistent(venv, henv, full=True) == []
