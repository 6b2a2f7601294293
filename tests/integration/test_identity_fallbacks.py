"""Identity never stops the app, and build steps never bake one into the image.

Each "container" here is a private mount namespace whose /etc/passwd is a copy
(group-writable, as ``init --writable-passwd`` leaves it, or not), entered by real
UIDs; TMPDIR is the test's own, as a container's /tmp.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from pyenvboot.runtime.environment import activation_changes, apply_changes
from pyenvboot.runtime.state import started_marker
from tests.support.proc import ARBITRARY_UID, as_uid, run, with_bind

pytestmark = pytest.mark.integration

UIDS = (ARBITRARY_UID, ARBITRARY_UID + 1, ARBITRARY_UID + 2)


@pytest.fixture
def venv(shared_dir: Path, system_python: str, environ: Dict[str, str]) -> Iterator[Path]:
    path = shared_dir / "venv"
    proc = run([system_python, "-m", "pyenvboot", "init", "--venv", str(path), "--no-home"], environ)
    assert proc.returncode == 0, proc.stderr
    yield path


@pytest.fixture
def image_env(venv: Path, shared_dir: Path, environ: Dict[str, str]) -> Dict[str, str]:
    """The image's ENV lines (BASH_ENV is the hook), HOME=/, no USER: what a RUN step and docker exec get."""
    home = shared_dir / "home"
    home.mkdir()
    home.chmod(0o2775)
    base = {k: v for k, v in environ.items() if k not in ("USER", "LOGNAME")}
    base.update(HOME="/", PYENVBOOT_HOME=str(home), PYENVBOOT_NSS_WRAPPER="")
    return apply_changes(base, activation_changes(base, str(venv)))


@pytest.fixture
def passwd(shared_dir: Path) -> Path:
    """The container's /etc/passwd, group-writable by gid 0 (``init --writable-passwd``)."""
    path = shared_dir / "passwd"
    shutil.copy("/etc/passwd", path)
    path.chmod(0o664)
    return path


def in_container(passwd: Path, uid: int, argv: List[str]) -> List[str]:
    return with_bind(passwd, "/etc/passwd", as_uid(uid) + argv)


def added(passwd: Path) -> List[str]:
    original = Path("/etc/passwd").read_text()
    text = passwd.read_text()
    assert text.startswith(original)
    return text[len(original) :].splitlines()


def test_a_bash_run_step_bakes_no_identity(passwd: Path, image_env: Dict[str, str], venv: Path) -> None:
    """``USER 1001`` then ``RUN bash -c ...``: the hook (BASH_ENV) names the UID but writes nothing."""
    tmp = Path(image_env["TMPDIR"])
    step = ["bash", "-c", 'echo "$USER"; whoami 2>/dev/null || echo nameless']
    proc = run(in_container(passwd, 1001, step), image_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["default", "nameless"]
    assert added(passwd) == []
    assert list(tmp.iterdir()) == []
    for step in (["pyenvboot", "pip", "--version"], ["pyenvboot", "run", "--", "true"]):
        proc = run(in_container(passwd, 1001, step), image_env)
        assert proc.returncode == 0, proc.stderr
    assert added(passwd) == [] and list(tmp.iterdir()) == []
    # The started container: its ENTRYPOINT ran, so the same bash step now gets a real entry.
    proc = run(in_container(passwd, 1001, ["pyenvboot", "exec", "--", "bash", "-c", "whoami"]), image_env)
    assert proc.returncode == 0 and proc.stdout == "default\n", proc.stderr
    assert [line.split(":")[:3] for line in added(passwd)] == [["default", "x", "1001"]]


def test_three_nameless_uids_in_one_writable_passwd_container_each_get_a_name(
    passwd: Path, image_env: Dict[str, str]
) -> None:
    names = []
    for uid in UIDS:
        proc = run(in_container(passwd, uid, ["pyenvboot", "exec", "--", "sh", "-c", "whoami; echo $USER"]), image_env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        whoami, user = proc.stdout.split()
        assert whoami == user
        names.append(whoami)
    assert names == ["default", "default-%d" % UIDS[1], "default-%d" % UIDS[2]]
    assert [line.split(":")[:3] for line in added(passwd)] == [[n, "x", str(u)] for n, u in zip(names, UIDS)]
    # A docker exec shell of the second UID later: its name, from the passwd entry, nothing new written.
    proc = run(in_container(passwd, UIDS[1], ["bash", "-c", "whoami"]), image_env)
    assert proc.stdout == names[1] + "\n"
    assert len(added(passwd)) == 3


def test_a_name_baked_by_an_old_image_does_not_stop_the_app(passwd: Path, image_env: Dict[str, str]) -> None:
    """An image built before build steps stopped writing: ``default`` already belongs to 1001."""
    with passwd.open("a") as f:
        f.write("default:x:1001:0:pyenvboot user:/:/bin/sh\n")
    proc = run(in_container(passwd, UIDS[0], ["pyenvboot", "exec", "--", "whoami"]), image_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "default-%d\n" % UIDS[0]


def test_an_unwritable_passwd_without_nss_wrapper_still_starts_the_app(
    shared_dir: Path, image_env: Dict[str, str]
) -> None:
    passwd = shared_dir / "ro-passwd"
    shutil.copy("/etc/passwd", passwd)
    passwd.chmod(0o644)
    for uid in UIDS[:2]:
        argv = ["pyenvboot", "exec", "--", "sh", "-c", 'echo "$USER $HOME"; exit 3']
        proc = run(in_container(passwd, uid, argv), image_env)
        assert proc.returncode == 3
        assert proc.stdout.split() == ["default", image_env["PYENVBOOT_HOME"]]
        assert proc.stderr == ""
    assert passwd.read_text() == Path("/etc/passwd").read_text()


def test_nss_wrapper_names_several_uids(passwd: Path, image_env: Dict[str, str]) -> None:
    if not list(Path("/usr/lib").glob("*/libnss_wrapper.so")):
        pytest.skip("libnss_wrapper.so is not installed (Debian: libnss-wrapper)")
    passwd.chmod(0o644)
    env = {k: v for k, v in image_env.items() if k != "PYENVBOOT_NSS_WRAPPER"}
    for uid in UIDS:
        proc = run(in_container(passwd, uid, ["pyenvboot", "exec", "--", "whoami"]), env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "default\n"


@pytest.mark.parametrize("uid", [0, ARBITRARY_UID], ids=["launcher-sh-fast-path", "python"])
def test_both_exec_paths_leave_the_same_started_marker(venv: Path, image_env: Dict[str, str], uid: int) -> None:
    """The launcher's sh (a UID with a passwd entry) mirrors :func:`started_marker`; so does Python's exec."""
    marker = started_marker(image_env)
    assert marker is not None and not Path(marker).exists()
    argv = [str(venv / "bin/pyenvboot"), "exec", "--", "true"]
    proc = run((as_uid(uid) if uid else []) + argv, image_env)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in Path(image_env["TMPDIR"]).glob("pyenvboot-started-*")] == [Path(marker).name]
