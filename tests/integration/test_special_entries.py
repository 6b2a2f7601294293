"""Entries that are not plain files or directories: device nodes, FIFOs and sockets under ``fix-permissions``
and ``check``, and a ``--venv`` that is a symlink."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.hardening.support import error_line
from tests.support.policy import policy_offenders
from tests.support.proc import pyenvboot_cmd, run

pytestmark = pytest.mark.integration


def make_specials(root: Path) -> Dict[str, int]:
    """A FIFO, a socket, a character and a block device under ``root``, each 0600; their modes."""
    os.mkfifo(root / "fifo", 0o600)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    sock.close()
    os.chmod(root / "sock", 0o600)
    os.mknod(root / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(root / "loop", 0o600 | stat.S_IFBLK, os.makedev(7, 200))
    return {name: os.lstat(root / name).st_mode for name in ("fifo", "sock", "null", "loop")}


@pytest.fixture
def tree(shared_dir: Path) -> Iterator[Path]:
    root = shared_dir / "tree"
    root.mkdir()
    (root / "file").write_text("x")
    os.chmod(root / "file", 0o600)
    yield root


def test_fix_permissions_leaves_device_nodes_fifos_and_sockets_alone(
    tree: Path, system_python: str, environ: Dict[str, str]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    before = make_specials(tree)
    proc = run(pyenvboot_cmd(system_python) + ["fix-permissions", str(tree)], environ)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    left: List[str] = sorted(line for line in proc.stderr.splitlines() if line.startswith("pyenvboot: left alone "))
    assert len(left) == 4, proc.stderr
    for name, kind in (("fifo", "FIFO"), ("sock", "socket"), ("null", "character device"), ("loop", "block device")):
        assert any("%s: %s" % (tree / name, kind) in line for line in left), (name, left)
        assert os.lstat(tree / name).st_mode == before[name]
    assert os.lstat(tree / "file").st_mode & 0o060 == 0o060  # the rest of the tree got the policy
    again = run(pyenvboot_cmd(system_python) + ["fix-permissions", str(tree)], environ)
    assert again.stdout.strip().endswith("0 changed"), again.stdout


def test_check_names_a_fifo_in_the_venv_and_does_not_offer_fix_permissions_for_it(
    shared_dir: Path, system_python: str, environ: Dict[str, str]
) -> None:
    venv = shared_dir / "venv"
    assert run(pyenvboot_cmd(system_python) + ["init", "--venv", str(venv), "--no-home"], environ).returncode == 0
    os.mkfifo(venv / "fifo", 0o600)
    env = {k: v for k, v in environ.items() if k != "PYTHONPATH"}
    proc = run([str(venv / "bin/pyenvboot"), "check", "--venv", str(venv)], env)
    assert proc.returncode == 1
    lines = [line for line in proc.stdout.splitlines() if str(venv / "fifo") in line]
    assert len(lines) == 1 and lines[0].startswith("permissions: 1 device node(s), FIFO(s) or socket(s)"), proc.stdout
    assert "fix-permissions" not in lines[0]


def test_init_on_a_symlink_to_a_directory_works_in_the_target_and_keeps_the_link(
    shared_dir: Path, system_python: str, environ: Dict[str, str]
) -> None:
    target = shared_dir / "data"
    target.mkdir()
    link = shared_dir / "venv"
    link.symlink_to(target)
    for _ in range(2):  # create, then update
        proc = run(pyenvboot_cmd(system_python) + ["init", "--venv", str(link), "--no-home"], environ)
        assert proc.returncode == 0, proc.stderr
        assert "%s is a symlink: the venv's files are in %s" % (link, target) in proc.stdout
    assert link.is_symlink() and (target / "pyvenv.cfg").is_file()
    assert policy_offenders(target) == []
    assert str(link) in run([str(link / "bin/pip"), "--version"], environ).stdout
    assert sorted(p.name for p in shared_dir.iterdir()) == ["data", "tmp", "venv"]


@pytest.mark.parametrize("what", ["dangling", "file"])
def test_init_on_a_symlink_to_no_directory_says_why_in_one_line(
    shared_dir: Path, system_python: str, environ: Dict[str, str], what: str
) -> None:
    target = shared_dir / "target"
    if what == "file":
        target.write_text("")
    link = shared_dir / "venv"
    link.symlink_to(target)
    proc = run(pyenvboot_cmd(system_python) + ["init", "--venv", str(link), "--no-home"], environ)
    assert proc.returncode == 3
    line = error_line(proc)
    assert (
        "%s is a symlink to %s, which %s"
        % (
            link,
            target,
            "does not exist" if what == "dangling" else "is not a directory",
        )
        in line
    )
    assert link.is_symlink() and (what == "file") == target.exists()


def test_a_venv_without_its_base_python_says_so_in_one_line(
    shared_dir: Path, system_python: str, environ: Dict[str, str]
) -> None:
    """As after ``COPY --from=builder /opt/venv /opt/venv`` into a stage without the builder's Python."""
    venv = shared_dir / "venv"
    assert run(pyenvboot_cmd(system_python) + ["init", "--venv", str(venv), "--no-home"], environ).returncode == 0
    (venv / "bin/python").unlink()
    (venv / "bin/python").symlink_to("/nonexistent/bin/python3")
    proc = run([str(venv / "bin/pyenvboot"), "check"], {**environ, "PYENVBOOT_VENV": str(venv)})
    assert proc.returncode == 3
    assert error_line(proc).startswith("error: /nonexistent/bin/python3 does not exist: %s was made for" % venv)
