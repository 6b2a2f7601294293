"""busybox as the only shell (``/bin/sh`` and ``ash``, as on Alpine): the shell scenarios still hold.

The example image on Debian 12 with dash and bash removed and Debian's static
busybox as ``/bin/sh``: the launcher's sh fast path runs under busybox, ``sh -c``
gets the venv from the image's ``ENV`` lines, and an interactive ``sh -i`` or
``ash -i`` on a terminal reads the hook through ``ENV``: venv on PATH once, one
prompt marker, umask 0002 and a name for a UID without a passwd entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, run_image, running, value, wait_for_output
from tests.container.test_exec_shells import REPORT, VENV_BIN, assert_venv_once, podman_exec
from tests.support.pty import interact

if TYPE_CHECKING:
    from tests.container.conftest import Podman
    from tests.container.images import Images

pytestmark = pytest.mark.container

# Variables a shell sets for itself; they say nothing about pyenvboot.
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}
# Hides pyenvboot's Python copy: only the launcher's sh fast path can still run a command.
NO_PYTHON_COPY = ["--tmpfs", "/opt/venv/share/pyenvboot/lib"]


@pytest.fixture(scope="module")
def container(podman: Podman, images: Images) -> Iterator[tuple[str, int]]:
    """The busybox image running as an arbitrary UID: (name, uid)."""
    uid = arbitrary_uid()
    app = "echo ready; exec sleep infinity"
    with running(podman, images.busybox_sh(), "sh", "-c", app, options=as_user(uid)) as name:
        wait_for_output(podman, name, "ready")
        yield name, uid


@pytest.fixture(params=["same-uid", "other-uid"])
def exec_user(request: pytest.FixtureRequest, container: tuple[str, int]) -> list[str]:
    """``exec`` options: the container's UID, or another arbitrary one in group 0."""
    return [] if request.param == "same-uid" else ["--user", f"{arbitrary_uid()}:0"]


def test_the_only_shell_is_busybox(podman: Podman, images: Images) -> None:
    script = 'for s in sh ash dash bash; do echo "$s=$(readlink -f "$(command -v $s)")"; done'
    out = run_image(podman, images.busybox_sh(), "sh", "-c", script).stdout
    assert (value("sh", out), value("ash", out)) == ("/usr/bin/busybox", "/usr/bin/busybox")
    assert (value("dash", out), value("bash", out)) == ("", "")


def test_launcher_fast_path_runs_under_busybox(podman: Podman, images: Images) -> None:
    """As root (a passwd entry) the launcher execs the command in sh: Python is not needed, and not there."""
    image = images.busybox_sh()
    out = run_image(podman, image, "sh", "-c", REPORT, options=["--user", "0", *NO_PYTHON_COPY]).stdout
    assert_venv_once(value("path", out))
    assert value("umask", out) == "0002"
    assert value("whoami", out) == value("user", out) == "root"
    # The same command through the Python path fails without the copy: the run above took the fast path.
    launcher = ["--entrypoint", "/opt/venv/bin/pyenvboot", "--user", "0", *NO_PYTHON_COPY]
    python_path = run_image(podman, image, "exec", "--venv", "/opt/venv", "--", "true", options=launcher, check=False)
    assert python_path.returncode == 1 and "No module named 'pyenvboot'" in python_path.stderr, python_path.stderr


def environment(podman: Podman, container: tuple[str, int], *exec_args: str) -> dict[str, str]:
    out = podman_exec(podman, container, [], "pyenvboot", "exec", *exec_args, "--", "env", "-0")
    pairs = (item.partition("=") for item in out.split("\0") if item)
    return {k: v for k, _, v in pairs if k not in SHELL_OWN}


def test_fast_path_and_python_path_give_the_same_environment(podman: Podman, container: tuple[str, int]) -> None:
    """The container's nameless UID, its identity cached by the entrypoint: busybox's fast path is Python's twin."""
    fast = environment(podman, container)
    python = environment(podman, container, "--venv", "/opt/venv")
    assert fast == python
    assert fast["USER"] == "default"


def test_sh_c_through_the_entrypoint(podman: Podman, images: Images) -> None:
    out = run_image(podman, images.busybox_sh(), "sh", "-c", REPORT, options=as_user(arbitrary_uid())).stdout
    assert_venv_once(value("path", out))
    assert value("python", out) == f"{VENV_BIN}/python"
    assert value("umask", out) == "0002"
    assert value("whoami", out) == value("user", out) == "default"
    assert value("home", out) == "/home/pyenvboot"


def test_exec_sh_c_sees_the_venv(podman: Podman, container: tuple[str, int], exec_user: list[str]) -> None:
    """``exec CTR sh -c``: a non-interactive sh reads no hook; ENV lines alone give the venv."""
    script = REPORT + "; python -c 'import sys; print(\"prefix=\" + sys.prefix)'"
    out = podman_exec(podman, container, exec_user, "sh", "-c", script)
    assert_venv_once(value("path", out))
    assert value("python", out) == f"{VENV_BIN}/python"
    assert value("prefix", out) == "/opt/venv"


@pytest.mark.parametrize("shell", ["sh", "ash"])
def test_interactive_busybox_shell_activates_once(
    podman: Podman, container: tuple[str, int], exec_user: list[str], shell: str
) -> None:
    """``exec -it CTR sh`` (or ash) on a real terminal, with a nested ``-i`` shell."""
    typed = 'echo "P=$PATH"\necho "U=$(umask)"\necho "W=$(whoami)"\n%s -i\necho "Q=$PATH"\nexit\nexit\n' % shell
    out = interact(["podman", "exec", "-it", *exec_user, container[0], shell], dict(podman.env), typed, timeout=120)
    paths = re.findall(r"\b[PQ]=(/[^\s\x1b]*)", out)
    assert len(paths) == 2, out
    for path in paths:
        assert_venv_once(path)
    assert re.search(r"\bU=0002\b", out), out
    assert re.search(r"\bW=default\b", out), out
    assert "(venv) " in out, out
    assert "(venv) (venv)" not in out, "the prompt marker was added twice:\n" + out
