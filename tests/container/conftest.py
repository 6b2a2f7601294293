"""Fixtures for the container test tier (podman, local base images, index).

The tier sets itself up: the first test that needs podman runs
``scripts/container-setup`` once per session (cached, ~1 s when warm). If
that fails the tier is skipped with the reason, except in CI (``CI=true``),
where a missing container tier must never pass silently: it fails instead.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.container.images import build_index, images, zipapp  # noqa: F401  (scenario fixtures)
from tests.container.index_server import PackageIndex
from tests.support.ci import missing

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
SETUP_SCRIPT = REPO_ROOT / "scripts" / "container-setup"
# A cold setup debootstraps four images (~2-3 min); a fresh machine also
# installs podman from apt first.
SETUP_TIMEOUT = float(os.environ.get("PYENVBOOT_CONTAINER_SETUP_TIMEOUT", "1800"))


IMAGE_REPO = "localhost/pyenvboot-base"
BASE_IMAGES: Mapping[str, str] = {
    tag: f"{IMAGE_REPO}:{tag}" for tag in ("debian12", "debian12-plain", "debian13", "debian13-venv")
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "container: needs rootful podman and the local pyenvboot base images")


def _unavailable(reason: str) -> NoReturn:
    """Skip the tier locally; fail it loudly in CI."""
    missing(f"container tier unavailable: {reason}")


def _run_setup(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run container-setup in its own process group so a timeout stops all of it."""
    proc = subprocess.Popen(
        [str(SETUP_SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        raise subprocess.TimeoutExpired(proc.args, timeout, output=out) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, None)


def _tail(text: str | None, lines: int = 25) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


@pytest.fixture(scope="session")
def container_env() -> dict[str, str]:
    """Environment for running podman: the caller's plus container-setup's exports.

    Runs ``scripts/container-setup`` (all base images) once per session.
    """
    if sys.platform != "linux":
        _unavailable("podman tier needs Linux")
    if not SETUP_SCRIPT.is_file():
        _unavailable(f"{SETUP_SCRIPT} is missing")
    try:
        setup = _run_setup([], SETUP_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        _unavailable(f"container-setup timed out after {exc.timeout:.0f}s:\n{_tail(exc.output)}")
    except OSError as exc:
        _unavailable(f"cannot run container-setup: {exc}")
    if setup.returncode != 0:
        _unavailable(f"container-setup exited {setup.returncode}:\n{_tail(setup.stdout)}")

    printed = _run_setup(["--print-env"], 60)
    if printed.returncode != 0:
        _unavailable(f"container-setup --print-env failed:\n{_tail(printed.stdout)}")
    env = dict(os.environ)
    for line in printed.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            env[key] = value
    return env


@dataclass(frozen=True)
class Podman:
    """Runs ``podman`` with the tier's environment; returns CompletedProcess.

    Output is captured as text. A command exceeding ``timeout`` is killed
    and the test fails with what it printed; ``check=True`` fails the test on
    a non-zero exit, showing stdout and stderr.
    """

    env: Mapping[str, str]
    default_timeout: float = 300.0

    def __call__(
        self,
        *args: str,
        timeout: float | None = None,
        check: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["podman", *args]
        limit = self.default_timeout if timeout is None else timeout
        try:
            result = subprocess.run(
                cmd,
                env=dict(self.env),
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=limit,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"timed out after {limit:.0f}s: {shlex.join(cmd)}\n"
                f"stdout:\n{_tail(_text(exc.stdout))}\nstderr:\n{_tail(_text(exc.stderr))}",
                pytrace=False,
            )
        if check and result.returncode != 0:
            pytest.fail(
                f"exit {result.returncode}: {shlex.join(cmd)}\n"
                f"stdout:\n{_tail(result.stdout)}\nstderr:\n{_tail(result.stderr)}",
                pytrace=False,
            )
        return result


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


@pytest.fixture(scope="session")
def podman(container_env: dict[str, str]) -> Podman:
    """The podman helper, available once the tier is set up."""
    return Podman(container_env)


@pytest.fixture(scope="session")
def base_images(container_env: dict[str, str]) -> Mapping[str, str]:
    """Tag -> image reference of the local base images (all built by setup)."""
    return BASE_IMAGES


@pytest.fixture
def wheel_dir(tmp_path: Path) -> Path:
    """An empty directory for the wheels a test wants to serve."""
    path = tmp_path / "wheels"
    path.mkdir()
    return path


@pytest.fixture
def package_index(wheel_dir: Path) -> Iterator[PackageIndex]:
    """A PEP 503 index over ``wheel_dir`` on 127.0.0.1 (use ``--network host``).

    The directory is rescanned per request: add wheels before or after.
    """
    with PackageIndex(wheel_dir) as index:
        yield index
