"""Faults: SIGKILL at random moments, and a full disk (issue 6, point 2).

Each trial kills ``init`` or ``pyenvboot pip`` (its whole process group, as a
stopped build or an OOM kill of the container does) after a random delay within
the time an uninterrupted run takes. Afterwards the same command must complete, the
venv must be consistent (``check`` too, where it exists), and what was installed
before the interrupted step must still be there. The seed is printed on failure;
``PYENVBOOT_FAULT_SEED`` replays a run.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

from tests.hardening.support import (
    check_available,
    dist_infos,
    error_line,
    installed_versions,
    pyenvboot,
    run,
    snapshot,
    venv_problems,
    venv_python,
)
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("PYENVBOOT_FAULT_SEED") or time.time_ns() % 1_000_000)


@pytest.fixture(scope="module")
def wheels(base: Path) -> Path:
    path = base / "wheels"
    for name, version in [("demo", "1.0"), ("demo", "2.0"), ("extra", "1.0"), ("keep", "1.0")]:
        build_wheel(path, name, version)
    # Big enough that pip spends a while writing it, and that it does not fit on a full disk.
    blob = base64.b64encode(random.Random(0).randbytes(3 << 20)).decode()
    build_wheel(path, "demo", "3.0", files={"demo/__init__.py": "__version__ = '3.0'\n", "demo/blob.txt": blob})
    return path


def pip_install(venv: Path, wheels: Path, *requirements: str) -> List[str]:
    options = ["install", "-q", "--no-index", "--find-links", str(wheels)]
    return pyenvboot() + ["pip", "--venv", str(venv), *options, *requirements]


def killed_at_random(argv: List[str], env: Dict[str, str], delay: float) -> bool:
    """Run ``argv``, SIGKILL its process group after ``delay`` seconds; whether it was still running."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        return True


def duration(argv: List[str], env: Dict[str, str]) -> float:
    start = time.monotonic()
    proc = run(argv, env)
    assert proc.returncode == 0, proc.stderr
    return time.monotonic() - start


def consistent(venv: Path, env: Dict[str, str], full: bool = False) -> List[str]:
    """Problems of the venv; ``full`` adds ``pip check`` (slow) and ``check`` (once it exists)."""
    problems = venv_problems(venv, env, pip_check=full)
    if check_available():
        # The venv's own launcher: PYTHONPATH (how the tests reach the source) would be an isolation problem.
        clean = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        proc = run([str(venv / "bin/pyenvboot"), "check", "--venv", str(venv)], clean)
        if proc.returncode != 0:
            problems.append("check: %s" % (proc.stdout + proc.stderr).strip())
    return problems


@pytest.fixture
def trial_dir(base: Path) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="faults-", dir=base))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_init_killed_at_random_moments(trial_dir: Path, henv: Dict[str, str]) -> None:
    """A new venv appears whole or not at all; an existing one keeps its packages; init then completes."""
    rnd = random.Random(SEED)
    venv = trial_dir / "v"
    new = pyenvboot() + ["init", "--venv", str(venv), "--no-home"]
    t_new = duration(new, henv)
    landed = 0
    for trial in range(20):
        shutil.rmtree(venv, ignore_errors=True)
        landed += killed_at_random(new, henv, rnd.uniform(0, t_new * 1.1))
        what = "seed %d, trial %d" % (SEED, trial)
        # All or nothing: the venv is only renamed into place once complete.
        if venv.exists():
            assert (venv / "bin" / "pip").exists() and (venv / "share/pyenvboot/hook.sh").exists(), what
        proc = run(new, henv)
        assert proc.returncode == 0, (what, proc.stderr)
        assert consistent(venv, henv) == [], what
    assert landed >= 10, "only %d of 20 kills hit a running init" % landed


def remove_pip(venv: Path) -> None:
    """Make ``venv`` a venv without pip (as ``init --without-pip`` leaves it), faster than pip uninstalling itself."""
    site = next(venv.glob("lib/python3*/site-packages"))
    for path in [site / "pip", *site.glob("pip-*.dist-info"), *(venv / "bin").glob("pip*")]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def test_init_killed_while_updating_keeps_packages(trial_dir: Path, henv: Dict[str, str], wheels: Path) -> None:
    """Killed during an update in place (every other time while seeding a missing pip), nothing is lost."""
    rnd = random.Random(SEED + 1)
    venv = trial_dir / "v"
    update = pyenvboot() + ["init", "--venv", str(venv), "--no-home"]
    assert run(update, henv).returncode == 0
    assert run(pip_install(venv, wheels, "demo==1.0", "keep"), henv).returncode == 0
    t_update = duration(update, henv)
    remove_pip(venv)
    t_seed = duration(update, henv)
    landed = 0
    for trial in range(16):
        what = "seed %d, trial %d" % (SEED, trial)
        seeding = trial % 2 == 1
        if seeding:
            remove_pip(venv)
        landed += killed_at_random(update, henv, rnd.uniform(0, (t_seed if seeding else t_update) * 1.1))
        assert installed_versions(venv, henv, ["demo", "keep"]) == {"demo": "1.0", "keep": "1.0"}, what
        proc = run(update, henv)
        assert proc.returncode == 0, (what, proc.stderr)
        assert (venv / "bin/pip").is_file() and venv_python(venv, henv, "-c", "import pip").returncode == 0, what
        assert consistent(venv, henv) == [], what
    proc = run([str(venv / "bin/pip"), "--version"], henv, umask=0o002)
    assert proc.returncode == 0, proc.stderr
    assert consistent(venv, henv, full=True) == []
    assert landed >= 8, "only %d of 16 kills hit a running init" % landed


def site_listing(site: Path) -> List[str]:
    """site-packages' entries, with each dist-info's files: what a failure message needs."""
    out = []
    for p in sorted(site.iterdir()):
        files = sorted(f.name for f in p.iterdir()) if p.name.endswith(".dist-info") and p.is_dir() else []
        out.append(p.name + (str(files) if files else ""))
    return out


def test_pip_killed_at_random_moments(trial_dir: Path, henv: Dict[str, str], wheels: Path) -> None:
    """Packages the interrupted step did not touch survive it; running the step again completes it."""
    rnd = random.Random(SEED + 2)
    venv = trial_dir / "v"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    assert run(pip_install(venv, wheels, "keep==1.0"), henv).returncode == 0
    landed = 0
    site = next(venv.glob("lib/python3*/site-packages"))
    steps: List[Tuple[str, ...]] = [("demo==3.0", "extra"), ("demo==1.0",), ("demo==2.0", "extra==1.0")]
    t_step = max(duration(pip_install(venv, wheels, *step), henv) for step in steps)
    for trial in range(15):
        step = steps[trial % len(steps)]
        what = "seed %d, trial %d, step %s" % (SEED, trial, step)
        landed += killed_at_random(pip_install(venv, wheels, *step), henv, rnd.uniform(0, t_step * 1.1))
        left = site_listing(site)
        assert installed_versions(venv, henv, ["keep"]) == {"keep": "1.0"}, what
        proc = run(pip_install(venv, wheels, *step), henv)
        what += "; left by the kill: %s; the second run said: %s" % (left, proc.stderr)
        assert proc.returncode == 0, what
        assert installed_versions(venv, henv, ["demo"]) == {"demo": step[0].split("==")[1]}, what
        assert consistent(venv, henv) == [], what
    assert consistent(venv, henv, full=True) == []
    assert landed >= 8, "only %d of 15 kills hit a running pip" % landed


def test_pyenvboot_killed_alone_keeps_the_lock_until_pip_ends(
    trial_dir: Path, henv: Dict[str, str], wheels: Path
) -> None:
    """SIGKILL to pyenvboot only: the pip it started goes on, still holding the venv lock."""
    venv = trial_dir / "v"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    proc = subprocess.Popen(pip_install(venv, wheels, "demo==3.0"), env=henv, stderr=subprocess.PIPE, text=True)
    pip = None
    deadline = time.monotonic() + 60
    while pip is None and time.monotonic() < deadline:  # wait until pyenvboot has started pip
        children = Path("/proc/%d/task/%d/children" % (proc.pid, proc.pid)).read_text().split()
        pip = int(children[0]) if children else None
        time.sleep(0.005)
    assert pip is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    # The lock is flock on the venv directory: free exactly when nobody holds it.
    import fcntl

    fd = os.open(venv, os.O_RDONLY | os.O_DIRECTORY)
    try:
        held = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = True
        pip_alive = Path("/proc/%d" % pip).exists() and "zombie" not in Path("/proc/%d/status" % pip).read_text()
        if pip_alive:
            assert held, "pip runs on without the venv lock"
    finally:
        os.close(fd)
    second = run(pip_install(venv, wheels, "demo==3.0"), henv)
    assert second.returncode == 0, second.stderr
    assert len(dist_infos(venv)["demo"]) == 1


# -- a full disk ------------------------------------------------------------------------


@pytest.fixture
def tmpfs(trial_dir: Path) -> Iterator[Callable[[str], Path]]:
    """Small file systems of their own: ``mount -t tmpfs -o size=...`` (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
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
    """pip moves what it replaces to ``~name`` and writes dist-info files through ``.tmp`` files.

    A kill leaves both; the next run removes them, and says so.
    """
    venv = trial_dir / "v"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    assert run(pip_install(venv, wheels, "demo==1.0"), henv).returncode == 0
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "demo").rename(site / "~emo")  # exactly what a pip killed mid-upgrade leaves
    (site / "demo-1.0.dist-info").rename(site / "~emo-1.0.dist-info")
    (site / "demo-0.5.dist-info").mkdir()  # and what one killed while writing a dist-info leaves
    (site / "demo-0.5.dist-info" / "INSTALLERt0pdv0kp.tmp").write_text("pip")
    proc = run(pip_install(venv, wheels, "demo==2.0"), henv)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("left by an interrupted pip") == 3
    assert sorted(p.name for p in site.glob("~*")) == []
    assert not (site / "demo-0.5.dist-info").exists()
    assert dist_infos(venv)["demo"] == ["demo-2.0.dist-info"]
    assert consistent(venv, henv, full=True) == []
