"""The policy holds whoever writes into the venv: the obvious commands, typed without pyenvboot.

- a root ``RUN pip list`` (``python -m pip check``, ``pip freeze``) in a derived build, then an
  arbitrary UID upgrades pip itself;
- ``pyenvboot check`` as root at the runtime's default umask 022 (``exec`` into the container) on a fresh venv;
- a plain ``docker exec CTR pip install X`` by one nameless UID, then another upgrades and uninstalls X;
- the first ``pyenvboot pip install`` of a derived build adds none of pip's byte code to its layer;
- a plain Python app as PID 1 (no signal handling) stops promptly on ``docker stop``, with 143;
- multi-stage: ``COPY --from=builder /opt/venv /opt/venv`` into a stage FROM the base keeps the policy
  (examples/multi-stage, the README's recipe).

Every engine command goes through the engine fixture and the helpers of ``containers.py`` (``save``
writes a docker-archive on both engines, and the other commands take the same options on both).
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import pytest

from tests.container.containers import (
    arbitrary_uid,
    as_user,
    exec_in,
    run_image,
    run_script_as,
    running,
    value,
    wait_for_output,
)
from tests.container.test_derived_builds import POLICY_CHECK, SITE_PACKAGES
from tests.container.wheelcache import REPO_ROOT, WheelCacheError, fetch
from tests.support.wheels import build_wheel

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images
    from tests.container.index_server import PackageIndex

pytestmark = pytest.mark.container

OTHER_PIP = "24.0"  # not the pip init seeds (the newest the zipapp carries): installing it replaces every pip file
STOP_TIMEOUT = 30
MULTI_STAGE_EXAMPLE = REPO_ROOT / "examples" / "multi-stage" / "Dockerfile"


@pytest.fixture
def index(wheel_dir: Path, package_index: PackageIndex) -> PackageIndex:
    """The test's index: demo 1.0 and 2.0, and a newer pip wheel (fetched once, then cached)."""
    build_wheel(wheel_dir, "demo", "1.0")
    build_wheel(wheel_dir, "demo", "2.0")
    try:
        cached = fetch("pip-upgrade", ["--only-binary=:all:", "--no-deps", f"pip=={OTHER_PIP}"])
    except WheelCacheError as exc:
        pytest.fail(f"a newer pip wheel: {exc}", pytrace=False)
    for wheel in cached.glob("pip-*.whl"):
        shutil.copy(wheel, wheel_dir / wheel.name)
    return package_index


def in_container(engine: Engine, name: str, uid: int, *command: str, env: dict[str, str] | None = None) -> str:
    """``exec`` into a running container as ``uid``:0, without the entrypoint or a shell: must succeed."""
    result = exec_in(engine, name, f"{uid}:0", *command, env=env)
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_root_pip_list_in_a_build_then_an_arbitrary_uid_replaces_pip(
    engine: Engine, images: Images, index: PackageIndex
) -> None:
    dockerfile = (
        "ARG BASE\nFROM ${BASE}\nUSER 0:0\n"
        "RUN pip list && python -m pip check && pip freeze && pyenvboot check\n"
        "USER 1001:0\n"
    )
    image = images.derived("root-pip-list", dockerfile, {})
    script = (
        f"pip --version && pip install -q pip=={OTHER_PIP} && pip --version && python -m pip --version"
        f" && echo \"leftovers=$(ls -a {SITE_PACKAGES} | grep '^~' | tr '\\n' ' ')\"; {POLICY_CHECK}"
    )
    result = run_script_as(engine, image, script, arbitrary_uid(), index.url)
    versions = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("pip ")]
    assert len(versions) == 3 and versions[0] != OTHER_PIP, result.stdout
    assert versions[1:] == [OTHER_PIP, OTHER_PIP], result.stdout
    assert value("leftovers", result.stdout) == ""
    assert value("policy_violations", result.stdout) == "none"


def test_check_as_root_at_umask_022_passes_on_a_fresh_venv_and_changes_nothing(engine: Engine, images: Images) -> None:
    snapshot = "find /opt/venv -printf '%p %m %u %g %s %T@\\n' | sort | md5sum"
    with running(engine, images.example("debian12"), "sleep", "infinity", options=as_user(arbitrary_uid())) as name:
        before = in_container(engine, name, 0, "sh", "-c", snapshot)
        assert in_container(engine, name, 0, "sh", "-c", "umask").strip() == "0022"
        for _ in range(2):
            out = in_container(engine, name, 0, "pyenvboot", "check")
            assert "is healthy" in out, out
        for command in (["pip", "list"], ["python", "-m", "pip", "check"], ["pip", "freeze"]):
            in_container(engine, name, 0, *command)
        assert in_container(engine, name, 0, "sh", "-c", snapshot) == before


def test_plain_exec_pip_install_by_one_uid_is_upgraded_and_uninstalled_by_another(
    engine: Engine, images: Images, index: PackageIndex
) -> None:
    first, second = arbitrary_uid(), arbitrary_uid()
    env = {"PIP_INDEX_URL": index.url}
    options = [*as_user(first)]
    with running(engine, images.example("debian12"), "sleep", "infinity", options=options, network="host") as name:
        in_container(engine, name, first, "pip", "install", "-q", "demo==1.0", env=env)
        in_container(engine, name, second, "pip", "install", "-q", "--upgrade", "demo", env=env)
        out = in_container(engine, name, second, "python", "-c", "import demo; print('demo=' + demo.__version__)")
        assert value("demo", out) == "2.0"
        in_container(engine, name, first, "pip", "uninstall", "-y", "demo")
        listing = in_container(engine, name, second, "ls", "-a", SITE_PACKAGES)
        assert [n for n in listing.split() if n.startswith("~") or n.startswith("demo")] == []
        policy = in_container(engine, name, second, "sh", "-c", POLICY_CHECK)
        assert value("policy_violations", policy) == "none"


def top_layer_members(engine: Engine, image: str, scratch: Path) -> list[str]:
    """Paths in the image's last layer (what its last build step added), from ``save``'s docker-archive."""
    archive = scratch / "image.tar"
    engine("save", "-o", str(archive), image, check=True, timeout=300)
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        layer = outer.extractfile(manifest[0]["Layers"][-1])
        assert layer is not None
        with tarfile.open(fileobj=layer) as inner:
            return inner.getnames()


def test_first_pyenvboot_pip_install_layer_holds_no_pip_byte_code(
    engine: Engine, images: Images, tmp_path: Path
) -> None:
    dockerfile = "ARG BASE\nFROM ${BASE}\nARG PIP_INDEX_URL\nRUN pyenvboot pip install demo==1.0\n"
    image = images.derived("first-pip-install", dockerfile, {})
    members = top_layer_members(engine, image, tmp_path)
    assert any("/demo" in m for m in members), members[:20]
    pip = SITE_PACKAGES.lstrip("/") + "/pip/"
    assert [m for m in members if m.startswith(pip) or m.lstrip("./").startswith(pip)] == []


PLAIN_APP = """
import os, time
print("pid=%d" % os.getpid(), flush=True)
print("ready", flush=True)
time.sleep(3600)
"""


def test_stop_of_a_plain_python_app_as_pid1_is_prompt_with_143(engine: Engine, images: Images) -> None:
    image = images.example("debian12")
    with running(engine, image, "python", "-c", PLAIN_APP, options=as_user(arbitrary_uid())) as name:
        log = wait_for_output(engine, name, "ready")
        assert value("pid", log) == "1"
        start = time.monotonic()
        engine("stop", "--time", str(STOP_TIMEOUT), name, check=True, timeout=STOP_TIMEOUT + 60)
        elapsed = time.monotonic() - start
        state = engine("inspect", "--format", "{{.State.ExitCode}}", name, check=True).stdout.strip()
    assert state == "143"
    assert elapsed < STOP_TIMEOUT / 3, f"stop took {elapsed:.1f}s of its {STOP_TIMEOUT}s timeout"


def test_multi_stage_copy_into_a_stage_from_the_base_keeps_the_policy(
    engine: Engine, images: Images, index: PackageIndex
) -> None:
    """examples/multi-stage as written (the README's recipe), with the test's requirements."""
    dockerfile = MULTI_STAGE_EXAMPLE.read_text()
    image = images.derived("multi-stage", dockerfile, {"requirements.txt": "demo==1.0\n"})
    script = (
        "set -e; pyenvboot check; pip install -q --upgrade demo;"
        " python -c 'import demo; print(\"demo=\" + demo.__version__)'; " + POLICY_CHECK
    )
    result = run_script_as(engine, image, script, arbitrary_uid(), index.url)
    assert "is healthy" in result.stdout
    assert value("demo", result.stdout) == "2.0"
    assert value("policy_violations", result.stdout) == "none"


def test_multi_stage_copy_into_a_stage_not_built_on_the_base_is_reported_by_check(
    engine: Engine, images: Images, base_images: Mapping[str, str]
) -> None:
    """A final stage FROM plain Debian: COPY makes /opt/venv itself 0755, and check says so."""
    dockerfile = (
        "ARG BASE\nARG OTHER\nFROM ${BASE} AS builder\nARG PIP_INDEX_URL\nRUN pyenvboot pip install demo==1.0\n"
        "FROM ${OTHER}\nCOPY --from=builder /opt/venv /opt/venv\n"
    )
    image = images.builder.build(
        "multi-stage-foreign",
        {"Dockerfile": dockerfile},
        bases={"BASE": images.example("debian12"), "OTHER": base_images["debian12"]},
        uses_index=True,
    )
    result = run_image(engine, image, "/opt/venv/bin/pyenvboot", "check", "--venv", "/opt/venv", check=False)
    assert result.returncode == 1, f"{result.stdout}\n{result.stderr}"
    broken = [line for line in result.stdout.splitlines() if line.startswith("permissions: ")]
    assert len(broken) == 1 and "breaks the policy" in broken[0] and " /opt/venv" in broken[0], result.stdout
