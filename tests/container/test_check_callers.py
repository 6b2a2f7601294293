"""``check`` and ``fix-permissions`` as the people who run them in a container see them.

A UID outside the venv's group (``--user 1000680000:1000``, Kubernetes ``runAsGroup: 1000``)
can run the app but pip fails with a bare "Check the permissions": ``check`` must say why and
how to start the container instead. An entry another UID left behind (a plain ``sh`` step
with the default umask) can only be fixed by root: ``check`` must say that, not print a fix
the caller cannot run. Device nodes and FIFOs in the venv are reported and never made
group-writable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, exec_in, run_image, running

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images

pytestmark = pytest.mark.container

VENV = "/opt/venv"


def problem_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("permissions: ")]


def test_a_uid_outside_the_group_is_told_how_to_start_the_container(engine: Engine, images: Images) -> None:
    uid = arbitrary_uid()
    outside = ["--user", f"{uid}:1000", *as_user(uid)[2:]]
    with running(engine, images.example("debian12"), "sleep", "infinity", options=outside) as name:
        # What the user hits first: pip cannot change the venv (its own error, a traceback included).
        pip = engine("exec", "--user", f"{uid}:1000", name, "pip", "uninstall", "-y", "pip", timeout=300)
        assert pip.returncode != 0 and "Permission denied" in pip.stderr, pip.stderr
        check = exec_in(engine, name, f"{uid}:1000", "pyenvboot", "check")
        assert check.returncode == 1, check.stdout + check.stderr
        (line,) = problem_lines(check.stdout)
        assert f"uid {uid} is not in group 0" in line and "can run" in line and "not install" in line, line
        assert "--group-add 0" in line and "runAsGroup: 0" in line and "supplementalGroups: [0]" in line, line
    # What check told the user to do: start it with group 0 as well (podman exec would not keep
    # --group-add's group, so check runs as the container's command).
    group_added = [*outside, "--group-add", "0"]
    check = run_image(engine, images.example("debian12"), "pyenvboot", "check", options=group_added, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_entry_of_another_uid_is_for_root_to_fix(engine: Engine, images: Images) -> None:
    writer, caller = arbitrary_uid(), arbitrary_uid()
    with running(engine, images.example("debian12"), "sleep", "infinity", options=as_user(caller)) as name:
        # A plain exec'd shell step with the default umask, as uv leaves its .lock.
        made = exec_in(engine, name, f"{writer}:0", "sh", "-c", f"umask 022 && : > {VENV}/.lock")
        assert made.returncode == 0, made.stderr
        check = exec_in(engine, name, f"{caller}:0", "pyenvboot", "check")
        assert check.returncode == 1, check.stdout + check.stderr
        (line,) = problem_lines(check.stdout)
        assert f"owned by uid {writer}" in line and f"{VENV}/.lock" in line, line
        assert "only root can change this" in line and "RUN pyenvboot fix-permissions" in line, line
        # The line's root remedy works; afterwards the venv is healthy for the caller.
        fixed = exec_in(engine, name, "0:0", "pyenvboot", "fix-permissions", VENV)
        assert fixed.returncode == 0, fixed.stderr
        check = exec_in(engine, name, f"{caller}:0", "pyenvboot", "check")
        assert check.returncode == 0, check.stdout + check.stderr


def test_fix_permissions_leaves_device_nodes_and_fifos_alone(engine: Engine, images: Images) -> None:
    options = [*as_user(arbitrary_uid()), "--cap-add", "MKNOD"]
    with running(engine, images.example("debian12"), "sleep", "infinity", options=options) as name:
        made = exec_in(engine, name, "0:0", "sh", "-c", f"mknod -m 644 {VENV}/null c 1 3 && mkfifo -m 644 {VENV}/fifo")
        assert made.returncode == 0, made.stderr
        fixed = exec_in(engine, name, "0:0", "pyenvboot", "fix-permissions", VENV)
        assert fixed.returncode == 0, fixed.stderr
        assert f"left alone {VENV}/null" in fixed.stderr and f"left alone {VENV}/fifo" in fixed.stderr, fixed.stderr
        modes = exec_in(engine, name, "0:0", "stat", "-c", "%n %A", f"{VENV}/null", f"{VENV}/fifo").stdout
        assert modes.split() == [f"{VENV}/null", "crw-r--r--", f"{VENV}/fifo", "prw-r--r--"]
        check = exec_in(engine, name, "0:0", "pyenvboot", "check")
        assert check.returncode == 1
        assert any(f"{VENV}/null" in line and f"{VENV}/fifo" in line for line in problem_lines(check.stdout)), (
            check.stdout
        )
