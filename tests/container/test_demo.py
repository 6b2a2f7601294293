"""Scenario 8 (issue 3): ``scripts/demo``, the README's demo command, runs and shows what it promises.

It runs on each engine: Docker where a daemon answers, podman where none does.

It builds the example image and runs an app as an arbitrary UID that installs a
package at run time from a local index. Here it gets its own image tag (removed
afterwards) and a UID chosen by the test, so the output can be checked exactly.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, unique_name
from tests.container.wheelcache import REPO_ROOT, zipapp_wheels

if TYPE_CHECKING:
    from tests.container.conftest import Engine

pytestmark = pytest.mark.container

DEMO = REPO_ROOT / "scripts" / "demo"


def test_demo_installs_a_package_at_run_time_as_an_arbitrary_uid(engine: Engine) -> None:
    """The demo picks Docker when a daemon answers, else podman, and says which."""
    zipapp_wheels()  # cached by the session's zipapp already; the demo then needs no network
    uid = arbitrary_uid()
    image = f"localhost/{unique_name('demo')}"
    env = dict(engine.env)
    if engine.name == "podman":
        env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # as on a machine without Docker
    try:
        result = subprocess.run(
            [str(DEMO), "--image", image, "--uid", str(uid)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        engine("rmi", "--force", image, timeout=120)
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    why = "a Docker daemon answers" if engine.name == "docker" else "no Docker daemon answers"
    assert f"==> engine: {engine.name} ({why})" in out
    assert f"whoami   default (uid {uid}, gid 0, no entry in the image's /etc/passwd)" in out
    assert "HOME     /home/pyenvboot (writable)" in out
    assert "umask    0002" in out
    assert "Successfully installed hello-pyenvboot-1.0" in out
    assert f"installed at run time by default (uid {uid}) into /opt/venv/lib/python3.11/site-packages/" in out
    assert result.stderr == ""
