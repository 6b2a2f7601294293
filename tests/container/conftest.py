"""Fixtures for the container test tier: both engines, local base images, a package index.

Every scenario runs on podman and on Docker (dockerd with its BuildKit), through
the session fixture ``engine``, parametrized over both. The tier sets itself up:
the first test on an engine runs ``scripts/container-setup --engine NAME`` once
per session (cached, seconds when warm), with its progress on the terminal.
Docker needs a running dockerd (``DOCKER_HOST``; ``scripts/test`` starts a private
one). If an engine is unavailable its tests are skipped with the reason, except
in CI (``CI=true``), where a missing engine must never pass silently: they fail.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.container.images import build_index, images, zipapp  # noqa: F401  (scenario fixtures)
from tests.container.index_server import PackageIndex
from tests.container.progress import report

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
SETUP_SCRIPT = REPO_ROOT / "scripts" / "container-setup"
# A cold setup debootstraps four images (~2-3 min); a fresh machine also
# installs podman from apt first.
SETUP_TIMEOUT = float(os.environ.get("PYENVBOOT_CONTAINER_SETUP_TIMEOUT", "1800"))
# Debian's docker.io client: it drives dockerd's BuildKit. A client without buildx
# (such as a static one in /usr/local/bin) falls back to the legacy builder.
DOCKER = "/usr/bin/docker"
ENGINES = ("podman", "docker")

IMAGE_REPO = "localhost/pyenvboot-base"
BASE_IMAGES: Mapping[str, str] = {
    tag: f"{IMAGE_REPO}:{tag}" for tag in ("debian12", "debian12-plain", "debian13", "debian13-venv")
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "container: needs podman and dockerd and the local pyenvboot base images")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> NoReturn:
    """Skip the tier locally; fail it loudly in CI."""
    if _in_ci():
        pytest.fail(f"container tier unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"container tier unavailable: {reason}")


def _run_setup(config: pytest.Config, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run container-setup in its own process group, its lines shown on the terminal as they come.

    A timeout stops all of it (it prints a line at least every 15 s while it works).
    """
    proc = subprocess.Popen(
        [str(SETUP_SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        os.killpg(proc.pid, signal.SIGTERM)

    watchdog = threading.Timer(timeout, stop)
    watchdog.start()
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            report(config, "container-setup: " + line.rstrip("\n"))
        try:
            proc.wait(timeout=30 if expired.is_set() else None)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        watchdog.cancel()
        proc.stdout.close()
    if expired.is_set():
        raise subprocess.TimeoutExpired(proc.args, timeout, output="".join(lines))
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines), None)


def _print_env() -> dict[str, str]:
    """container-setup's exports (CONTAINERS_CONF)."""
    printed = subprocess.run(
        [str(SETUP_SCRIPT), "--print-env"], capture_output=True, text=True, timeout=60, check=False
    )
    if printed.returncode != 0:
        _unavailable(f"container-setup --print-env failed:\n{_tail(printed.stdout + printed.stderr)}")
    exports = {}
    for line in printed.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            exports[key] = value
    return exports


def _tail(text: str | None, lines: int = 25) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


@dataclass(frozen=True)
class Engine:
    """One container engine, run with the tier's environment; calling it returns a CompletedProcess.

    ``name`` is ``podman`` or ``docker``. Output is captured as text. A command exceeding
    ``timeout`` is killed and the test fails with what it printed; ``check=True`` fails the
    test on a non-zero exit, showing stdout and stderr. The attributes hold what differs
    between the two engines' command lines; everything else (run, exec, logs, stop, wait,
    inspect, rmi) is spelled the same for both.
    """

    name: str
    binary: str
    env: Mapping[str, str]
    default_timeout: float = 300.0

    @property
    def run_defaults(self) -> list[str]:
        """``run`` options every scenario gets: local images only, and Docker's rule for a
        ``--user`` UID with no passwd entry on both engines (podman would write one)."""
        return ["--pull=never", "--passwd=false"] if self.name == "podman" else ["--pull=never"]

    @property
    def build_options(self) -> list[str]:
        """``build`` options: local bases only, and no intermediate images left (podman's
        ``--layers=false``; BuildKit keeps its cache out of the image list), output readable."""
        return ["--pull=never", "--layers=false"] if self.name == "podman" else ["--progress=plain"]

    @property
    def read_only(self) -> list[str]:
        """A read-only root with nothing writable but a tmpfs on /tmp, as Docker's and
        Kubernetes' (podman adds tmpfs on /run and /var/tmp unless told not to)."""
        extra = ["--read-only-tmpfs=false"] if self.name == "podman" else []
        return ["--read-only", *extra, "--tmpfs", "/tmp:rw,mode=1777"]

    def argv(self, *args: str) -> list[str]:
        """The command line, for a process the test drives itself (``logs --follow``, a pty)."""
        return [self.binary, *args]

    def image_exists(self, ref: str) -> bool:
        return self("image", "inspect", "--format", "{{.Id}}", ref, timeout=60).returncode == 0

    def remove_container(self, name: str) -> None:
        """Remove a container at once, running or not (podman's ``rm --force`` would
        wait out the stop timeout first)."""
        now = ["--time", "0"] if self.name == "podman" else []
        self("rm", "--force", *now, name, timeout=120)

    def __call__(
        self,
        *args: str,
        timeout: float | None = None,
        check: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = self.argv(*args)
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


def _docker_problem(env: Mapping[str, str]) -> str | None:
    """None when dockerd answers, else why not."""
    if not Path(DOCKER).is_file():
        return f"{DOCKER} is missing (Debian's docker.io; scripts/test installs it)"
    if not env.get("DOCKER_HOST"):
        return "DOCKER_HOST is not set (scripts/test starts a private dockerd and sets it)"
    try:
        probe = subprocess.run(
            [DOCKER, "version", "--format", "{{.Server.Version}}"],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker version: {exc}"
    if probe.returncode != 0:
        return f"dockerd at {env['DOCKER_HOST']} does not answer: {_tail(probe.stderr, 3)}"
    return None


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each engine in turn, set up once per session: every test that takes it runs on both.

    Runs ``scripts/container-setup --engine NAME``: the base images, imported into that engine.
    """
    name: str = request.param
    if sys.platform != "linux":
        _unavailable("the container tier needs Linux")
    if not SETUP_SCRIPT.is_file():
        _unavailable(f"{SETUP_SCRIPT} is missing")
    env = {**os.environ, **_print_env()}
    if name == "docker":
        env["DOCKER_BUILDKIT"] = "1"
        problem = _docker_problem(env)
        if problem is not None:
            _unavailable(f"docker: {problem}")
    try:
        setup = _run_setup(request.config, ["--engine", name], SETUP_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        _unavailable(f"container-setup timed out after {exc.timeout:.0f}s:\n{_tail(_text(exc.output))}")
    except OSError as exc:
        _unavailable(f"cannot run container-setup: {exc}")
    if setup.returncode != 0:
        _unavailable(f"container-setup --engine {name} exited {setup.returncode}:\n{_tail(setup.stdout)}")
    return Engine(name, DOCKER if name == "docker" else "podman", env)


@pytest.fixture(scope="session")
def base_images(engine: Engine) -> Mapping[str, str]:
    """Tag -> image reference of the local base images (imported into ``engine`` by setup)."""
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
