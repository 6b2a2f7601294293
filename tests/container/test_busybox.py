"""busybox as the only shell (``/bin/sh`` and ``ash``, as on Alpine): the shell scenarios still hold.

The example image on Debian 12 with dash and bash removed and Debian's static
busybox as ``/bin/sh``: the launcher's sh fast path runs under busybox, ``sh -c``
gets the venv from the image's ``ENV`` lines, and an interactive ``sh -i`` or
``ash -i`` on a terminal reads the hook through ``ENV``: venv on PATH once, one
prompt marker, umask 0002 and a name for a UID without a passwd entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, run_image, running, value, wait_for_output
from tests.container.images import SHELLS
from tests.container.test_exec_shells import REPORT, VENV_BIN, assert_venv_once, engine_exec, interactive_session

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images

pytestmark = pytest.mark.container

# Variables a shell sets for itself; they say nothing about pyenvboot.
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}
PYTHON_COPY = "/opt/venv/share/pyenvboot/lib"
# What /bin/sh and /bin/ash resolve to, and which other shells exist. busybox runs its own applets
# before PATH (a standalone shell), so ``command -v`` cannot tell.
FIND_SHELLS = (
    "import os; print('sh=' + os.path.realpath('/bin/sh')); print('ash=' + os.path.realpath('/bin/ash'));"
    " print('others=' + ','.join(p for p in %r if os.path.lexists(p)))" % (SHELLS,)
)


@pytest.fixture
def no_python_copy(tmp_path: Path) -> list[str]:
    """Options that hide pyenvboot's Python copy under an empty bind mount (a tmpfs may be filled from the image)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    return ["--user", "0", "--volume", f"{empty}:{PYTHON_COPY}:ro"]


@pytest.fixture(scope="module")
def container(engine: Engine, images: Images) -> Iterator[tuple[str, int]]:
    """The busybox image running as an arbitrary UID: (name, uid)."""
    uid = arbitrary_uid()
    app = "echo ready; exec sleep infinity"
    with running(engine, images.busybox_sh(), "sh", "-c", app, options=as_user(uid)) as name:
        wait_for_output(engine, name, "ready")
        yield name, uid


@pytest.fixture(params=["same-uid", "other-uid"])
def exec_user(request: pytest.FixtureRequest, container: tuple[str, int]) -> list[str]:
    """``exec`` options: the container's UID, or another arbitrary one in group 0."""
    return [] if request.param == "same-uid" else ["--user", f"{arbitrary_uid()}:0"]


def test_the_only_shell_is_busybox(engine: Engine, images: Images) -> None:
    out = run_image(engine, images.busybox_sh(), "python", "-c", FIND_SHELLS).stdout
    assert (value("sh", out), value("ash", out)) == ("/usr/bin/busybox", "/usr/bin/busybox")
    assert value("others", out) == "/bin/sh,/usr/bin/sh"  # busybox's links


def test_launcher_fast_path_runs_under_busybox(engine: Engine, images: Images, no_python_copy: list[str]) -> None:
    """As root (a passwd entry) the launcher execs the command in sh: Python is not needed, and not there."""
    image = images.busybox_sh()
    # A command string that starts with exec: as PID 1 a bare ``sh -c`` keeps pyenvboot as its init,
    # which is Python; this one the fast path hands straight to sh.
    out = run_image(engine, image, "sh", "-c", 'exec sh -c "$0"', REPORT, options=no_python_copy).stdout
    assert_venv_once(value("path", out))
    assert value("umask", out) == "0002"
    assert value("whoami", out) == value("user", out) == "root"
    # The same command through the Python path fails without the copy: the run above took the fast path.
    launcher = ["--entrypoint", "/opt/venv/bin/pyenvboot", *no_python_copy]
    python_path = run_image(engine, image, "exec", "--venv", "/opt/venv", "--", "true", options=launcher, check=False)
    assert python_path.returncode == 1 and "No module named 'pyenvboot'" in python_path.stderr, python_path.stderr


def environment(engine: Engine, container: tuple[str, int], *exec_args: str) -> dict[str, str]:
    out = engine_exec(engine, container, [], "pyenvboot", "exec", *exec_args, "--", "env", "-0")
    pairs = (item.partition("=") for item in out.split("\0") if item)
    return {k: v for k, _, v in pairs if k not in SHELL_OWN}


def test_fast_path_and_python_path_give_the_same_environment(engine: Engine, container: tuple[str, int]) -> None:
    """The container's nameless UID, its identity cached by the entrypoint: busybox's fast path is Python's twin."""
    fast = environment(engine, container)
    python = environment(engine, container, "--venv", "/opt/venv")
    assert fast == python
    assert fast["USER"] == "default"


def test_sh_c_through_the_entrypoint(engine: Engine, images: Images) -> None:
    out = run_image(engine, images.busybox_sh(), "sh", "-c", REPORT, options=as_user(arbitrary_uid())).stdout
    assert_venv_once(value("path", out))
    assert value("python", out) == f"{VENV_BIN}/python"
    assert value("umask", out) == "0002"
    assert value("user", out) == "default"  # busybox's own whoami reads /etc/passwd alone: no nss_wrapper
    assert value("home", out) == "/home/pyenvboot"


def test_exec_sh_c_sees_the_venv(engine: Engine, container: tuple[str, int], exec_user: list[str]) -> None:
    """``exec CTR sh -c``: a non-interactive sh reads no hook; ENV lines alone give the venv."""
    script = REPORT + "; python -c 'import sys; print(\"prefix=\" + sys.prefix)'"
    out = engine_exec(engine, container, exec_user, "sh", "-c", script)
    assert_venv_once(value("path", out))
    assert value("python", out) == f"{VENV_BIN}/python"
    assert value("prefix", out) == "/opt/venv"


@pytest.mark.parametrize("shell", ["sh", "ash"])
def test_interactive_busybox_shell_activates_once(
    engine: Engine, container: tuple[str, int], exec_user: list[str], shell: str
) -> None:
    """``exec -it CTR sh`` (or ash) on a real terminal, with a nested ``-i`` shell.

    The name is ``$USER``: busybox's own ``whoami`` applet is static and reads /etc/passwd alone.
    """
    interactive_session(engine, container, exec_user, shell, "$USER")
