"""A final stage without any shell: the README's multi-stage recipe, examples/shell-less/Dockerfile.

The build stage is Debian 12 with pyenvboot; the final stage is the Debian 12 base
with sh, dash and bash removed (what distroless leaves out), holding only what the
README says it needs. The documented ENTRYPOINT must start the app there as an
arbitrary UID with a name, a writable HOME and umask 002, and ``stop`` must end it
through SIGTERM. The same image built with the default sh launcher and stripped
afterwards shows what a user hits without the recipe, and what ``check`` says.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, run_image, running, value, wait_for_output
from tests.container.images import SHELL_LESS_EXAMPLE, SHELLS
from tests.container.wheelcache import REPO_ROOT

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images

pytestmark = pytest.mark.container

README = REPO_ROOT / "README.md"

STOP_TIMEOUT = 30  # seconds stop waits before SIGKILL
# A Python PID 1 gets no default action for SIGTERM from the kernel, so the app installs its own
# handler, exiting as the default action would report it (128 + 15).
APP = """\
import getpass, os, signal, sys, tempfile

import demo


def on_term(signum, frame):
    print("got SIGTERM", flush=True)
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, on_term)
umask = os.umask(0o002)
os.umask(umask)
home = os.environ["HOME"]
with tempfile.TemporaryFile(dir=home):  # HOME is writable
    pass
print("pid=%d" % os.getpid())
print("user=%s" % getpass.getuser())
print("home=%s" % home)
print("umask=%04o" % umask)
print("prefix=%s" % sys.prefix)
print("demo=%s" % demo.__version__)
print("ready", flush=True)
while True:
    signal.pause()
"""
RECIPE_FILES = {"requirements.txt": "demo==2.0\n", "app.py": APP}
FIND_SHELLS = "import os; print('shells=' + ','.join(p for p in %r if os.path.lexists(p)))" % (SHELLS + ["/bin/ash"],)


def test_readme_shows_the_built_recipe_whole() -> None:
    recipe = SHELL_LESS_EXAMPLE.read_text(encoding="utf-8")
    assert "```dockerfile\n" + recipe + "```\n" in README.read_text(encoding="utf-8")


def test_recipe_runs_the_app_as_an_arbitrary_uid_and_stops(engine: Engine, images: Images) -> None:
    image = images.shell_less_recipe(RECIPE_FILES)
    with running(engine, image, options=as_user(arbitrary_uid())) as name:
        log = wait_for_output(engine, name, "ready")
        assert value("pid", log) == "1", "the app is not PID 1: a wrapper process stayed"
        assert value("user", log) == "default"
        assert value("home", log) == "/home/pyenvboot"
        assert value("umask", log) == "0002"
        assert value("prefix", log) == "/opt/venv"
        assert value("demo", log) == "2.0"

        start = time.monotonic()
        engine("stop", "--time", str(STOP_TIMEOUT), name, check=True, timeout=STOP_TIMEOUT + 60)
        elapsed = time.monotonic() - start
        exit_code = engine("wait", name, check=True).stdout.strip()
        logs = engine("logs", name, check=True).stdout
    assert "got SIGTERM" in logs
    assert exit_code == "143"
    assert elapsed < STOP_TIMEOUT / 3, f"stop took {elapsed:.1f}s of its {STOP_TIMEOUT}s timeout"


def test_recipe_final_stage_has_no_shell_and_a_healthy_venv(engine: Engine, images: Images) -> None:
    image = images.shell_less_recipe(RECIPE_FILES)
    uid = as_user(arbitrary_uid())
    assert value("shells", run_image(engine, image, "python", "-c", FIND_SHELLS, options=uid).stdout) == ""
    result = run_image(engine, image, "pyenvboot", "check", options=uid, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is healthy" in result.stdout


def test_sh_launcher_without_a_shell_fails_and_check_says_why(engine: Engine, images: Images) -> None:
    """Dockerfile.example's image with its shells removed: what the recipe's --launcher python avoids."""
    image = images.without_shells("debian12", example=True)
    result = run_image(engine, image, "python", "-c", "print('started')", check=False)
    assert result.returncode != 0 and "started" not in result.stdout
    assert "no such file or directory" in result.stderr.lower(), result.stderr

    check = run_image(engine, image, "check", options=["--entrypoint", "/usr/local/bin/pyenvboot"], check=False)
    assert check.returncode == 1, check.stdout + check.stderr
    lines = [line for line in check.stdout.splitlines() if "/opt/venv/bin/pyenvboot" in line]
    assert lines == [
        "interpreter: /opt/venv/bin/pyenvboot runs with /bin/sh, which this image lacks: an ENTRYPOINT through it"
        " fails with 'no such file or directory'; fix: pyenvboot init --venv /opt/venv --launcher python where the"
        " venv is built (it runs on the venv's python)"
    ], check.stdout
