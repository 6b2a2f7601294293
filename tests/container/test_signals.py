"""The app is PID 1, gets SIGTERM itself, and its exit code is the container's.

``docker stop`` (and ``podman stop``) sends SIGTERM and waits up to its timeout before SIGKILL: an
entrypoint that swallowed SIGTERM would make it take the whole timeout and end
with 137. A missing command must give 127 (126 when not executable), like a shell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, run_image, running, value, wait_for_output

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images

pytestmark = pytest.mark.container

STOP_TIMEOUT = 30  # seconds stop waits before SIGKILL
EXIT_ON_TERM = 42  # the app's own choice, so the container's code is provably the app's
APP = f"""
import os, signal, sys
def on_term(signum, frame):
    print("got SIGTERM", flush=True)
    sys.exit({EXIT_ON_TERM})
signal.signal(signal.SIGTERM, on_term)
print("pid=%d" % os.getpid(), flush=True)
print("ready", flush=True)
while True:
    signal.pause()
"""


def test_stop_ends_the_app_through_sigterm(engine: Engine, images: Images) -> None:
    image = images.example("debian12")
    with running(engine, image, "python", "-c", APP, options=as_user(arbitrary_uid())) as name:
        log = wait_for_output(engine, name, "ready")
        assert value("pid", log) == "1", "the app is not PID 1: a wrapper process stayed"

        engine("stop", "--time", str(STOP_TIMEOUT), name, check=True, timeout=STOP_TIMEOUT + 60)

        exit_code = engine("wait", name, check=True).stdout.strip()
        state = engine("inspect", "--format", "{{.State.ExitCode}}", name, check=True).stdout.strip()
        logs = engine("logs", name, check=True).stdout
    assert "got SIGTERM" in logs
    # The app's own exit code, not 137: podman did not have to SIGKILL it, however long the stop took.
    assert exit_code == state == str(EXIT_ON_TERM)


def test_exit_code_is_the_apps(engine: Engine, images: Images) -> None:
    result = run_image(engine, images.example("debian12"), "python", "-c", "raise SystemExit(7)", check=False)
    assert result.returncode == 7


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        ("no-such-command", 127, "error: no-such-command: command not found in PATH=/opt/venv/bin:"),
        ("/etc/hostname", 126, "error: /etc/hostname: permission denied"),
    ],
    ids=["missing", "not-executable"],
)
def test_command_that_cannot_run(engine: Engine, images: Images, command: str, code: int, message: str) -> None:
    result = run_image(engine, images.example("debian12"), command, options=as_user(arbitrary_uid()), check=False)
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
