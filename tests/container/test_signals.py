"""The app is PID 1, gets SIGTERM itself, and its exit code is the container's.

``docker stop`` (and ``podman stop``) sends SIGTERM and waits up to its timeout before SIGKILL: an
entrypoint that swallowed SIGTERM would make it take the whole timeout and end
with 137. A missing command must give 127 (126 when not executable), like a shell.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, run_image, running, value, wait_for_output
from tests.container.images import GUNICORN_REQUIREMENT

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


# The stop scenarios below: ``stop --time 10`` ends in 137 after ~10 s when SIGTERM
# is lost, so the exit code tells; the elapsed time is checked with a wide margin only.
PROMPT_TIMEOUT = 10
# Waits for SIGTERM without handling it, as most scripts do.
WAITER = 'import time\nprint("ready", flush=True)\nwhile True:\n    time.sleep(3600)\n'
WSGI = """\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\\n"]
"""
GUNICORN = ["gunicorn", "--bind", "127.0.0.1:8000", "--workers", "2", "wsgi:application"]


def stop(engine: Engine, name: str) -> tuple[str, float]:
    """``stop --time 10``: the container's exit code and how long the stop took."""
    start = time.monotonic()
    engine("stop", "--time", str(PROMPT_TIMEOUT), name, check=True, timeout=PROMPT_TIMEOUT + 60)
    elapsed = time.monotonic() - start
    return engine("wait", name, check=True).stdout.strip(), elapsed


def assert_prompt(code: str, elapsed: float, conventional: set[str]) -> None:
    print(f"stop: exit {code} after {elapsed:.2f}s")  # shown with -rP, and on failure
    assert code in conventional, f"exit {code} after {elapsed:.1f}s (137: SIGTERM was lost, SIGKILL after the timeout)"
    assert elapsed < PROMPT_TIMEOUT / 2, f"stop took {elapsed:.1f}s of its {PROMPT_TIMEOUT}s timeout"


@pytest.fixture(scope="module")
def shell_form_image(images: Images) -> str:
    """A derived image whose ``CMD`` is in shell form: the engine runs ``/bin/sh -c 'python ...'``."""
    dockerfile = "ARG BASE\nFROM ${BASE}\nCOPY app.py /home/pyenvboot/app.py\nCMD python /home/pyenvboot/app.py\n"
    return images.derived("stop-shell-form", dockerfile, {"app.py": WAITER})


@pytest.fixture(scope="module")
def gunicorn_image(images: Images) -> str:
    """gunicorn installed by ``pyenvboot pip`` from the local index's real wheels, in ``CMD`` exec form."""
    dockerfile = (
        "ARG BASE\nFROM ${BASE}\nARG PIP_INDEX_URL\nCOPY requirements.txt /tmp/requirements.txt\n"
        "RUN pyenvboot pip install -r /tmp/requirements.txt\nCOPY wsgi.py /home/pyenvboot/wsgi.py\n"
        f"CMD {json.dumps(GUNICORN)}\n"
    )
    files = {"requirements.txt": GUNICORN_REQUIREMENT + "\n", "wsgi.py": WSGI}
    return images.derived("stop-gunicorn", dockerfile, files)


def test_shell_form_cmd_stops_promptly(engine: Engine, shell_form_image: str) -> None:
    """Docker's shell form leaves ``/bin/sh -c`` (dash) waiting on the app; pyenvboot stays as its init."""
    cmd = engine("image", "inspect", "--format", "{{json .Config.Cmd}}", shell_form_image, check=True).stdout
    assert json.loads(cmd) == ["/bin/sh", "-c", "python /home/pyenvboot/app.py"]
    with running(engine, shell_form_image, options=as_user(arbitrary_uid())) as name:
        wait_for_output(engine, name, "ready")
        code, elapsed = stop(engine, name)
        stderr = engine("logs", name, check=True).stderr
    assert_prompt(code, elapsed, {"143"})
    assert stderr == "", "nothing to warn about: the shell form is handled"


def test_sh_c_command_stops_promptly(engine: Engine, images: Images) -> None:
    """``run IMAGE sh -c '...'``: the same through the run-time command."""
    with running(engine, images.example("debian12"), "sh", "-c", f"python -c '{WAITER}'") as name:
        wait_for_output(engine, name, "ready")
        code, elapsed = stop(engine, name)
    assert_prompt(code, elapsed, {"143"})


@pytest.mark.parametrize("form", ["exec", "shell"])
def test_gunicorn_stops_promptly(engine: Engine, gunicorn_image: str, form: str) -> None:
    """As PID 1 gunicorn shuts down gracefully (exit 0); in shell form its shell ends on SIGTERM (143)."""
    command = [] if form == "exec" else ["/bin/sh", "-c", " ".join(GUNICORN)]
    with running(engine, gunicorn_image, *command, options=as_user(arbitrary_uid())) as name:
        wait_for_output(engine, name, "Booting worker")
        code, elapsed = stop(engine, name)
        logs = engine("logs", name, check=True)
    assert_prompt(code, elapsed, {"0"} if form == "exec" else {"143"})
    if form == "exec":
        assert "Handling signal: term" in logs.stderr and "Shutting down: Master" in logs.stderr, logs.stderr


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
