"""Every command block of the README runs, as written, on the engine it is written for.

The ``sh`` blocks that call ``docker`` run on Docker, those that call ``podman`` on
podman, any other on both; each engine's blocks run in README order in one shell,
in a copy of the repository, so a later block sees what an earlier one built.

The test machine differs from a user's in two ways, and only those are adapted:
no package index on the internet (``scripts/build-zipapp`` gets the cached vendored
wheels with ``--wheel-dir``, and builds get the session's index as
``PIP_INDEX_URL``), and the tier's dockerd has no bridge network (builds get
``--network host``, which any Docker accepts).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import value
from tests.container.wheelcache import REPO_ROOT, zipapp_wheels

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.index_server import PackageIndex

pytestmark = pytest.mark.container

README = REPO_ROOT / "README.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DOCKERFILE_BLOCK = re.compile(r"^```dockerfile\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DOCKERFILES = (
    REPO_ROOT / "Dockerfile.example",
    REPO_ROOT / "examples" / "derived" / "Dockerfile",
    REPO_ROOT / "examples" / "shell-less" / "Dockerfile",
    # test_build_steps.py builds these twice over their cache mounts.
    REPO_ROOT / "examples" / "cache-mount" / "Dockerfile",
    REPO_ROOT / "examples" / "cache-mount" / "Dockerfile.root",
    REPO_ROOT / "examples" / "uv" / "Dockerfile",
    REPO_ROOT / "examples" / "multi-stage" / "Dockerfile",  # test_any_writer.py
)
# Containers the README starts by name: removed afterwards even when a block fails.
NAMED_CONTAINERS = ("pyenvboot-try",)


def engines_in(block: str) -> set[str]:
    """The engines whose client a block calls."""
    return {name for name in ("docker", "podman") if re.search(rf"^{name} ", block, re.MULTILINE)}


def blocks_for(engine_name: str) -> list[str]:
    """The README's ``sh`` blocks that run on ``engine_name``, in order: its own and those that call neither."""
    return [block for block in BLOCK.findall(README.read_text()) if engines_in(block) in ({engine_name}, set())]


def adapted(block: str, wheels: Path) -> str:
    """The block, with ``scripts/build-zipapp`` pointed at the cached wheels (see the module docstring)."""
    return re.sub(r"^scripts/build-zipapp\b", f"scripts/build-zipapp --wheel-dir {wheels}", block, flags=re.MULTILINE)


def test_docker_comes_first() -> None:
    """A newcomer with only Docker meets Docker commands first, podman's only as the alternative."""
    blocks = BLOCK.findall(README.read_text())
    mixed = [block for block in blocks if len(engines_in(block)) > 1]
    assert mixed == [], "a block that calls both engines runs on neither"
    engines = [name for block in blocks for name in engines_in(block)]
    assert engines[:1] == ["docker"], engines
    assert engines.count("docker") > engines.count("podman"), engines


def test_dockerfile_excerpts_are_from_the_tested_dockerfiles() -> None:
    """The README's Dockerfile lines are the built ones: each is a line of a Dockerfile the container tier builds."""
    built = {line.strip() for path in DOCKERFILES for line in path.read_text().splitlines()}
    excerpts = DOCKERFILE_BLOCK.findall(README.read_text())
    assert excerpts, "the README shows no Dockerfile"
    missing = [line for block in excerpts for line in block.splitlines() if line.strip() not in built]
    assert missing == [], "README Dockerfile lines found in no tested Dockerfile"


def test_readme_commands_work(engine: Engine, build_index: PackageIndex, tmp_path: Path) -> None:
    blocks = blocks_for(engine.name)
    assert any(re.search(rf"^{engine.name} run ", block, re.MULTILINE) for block in blocks), blocks
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT, checkout, ignore=shutil.ignore_patterns(".git", "dist", "__pycache__", "*.egg-info"))
    wheels = zipapp_wheels()
    # The engine's client, with the two build options the test machine needs.
    wrapper = (
        f"{engine.name}() {{\n"
        '    if [ "$1" = build ]; then\n'
        "        shift\n"
        f'        command {engine.binary} build --network host --build-arg "PIP_INDEX_URL={build_index.url}" "$@"\n'
        "    else\n"
        f'        command {engine.binary} "$@"\n'
        "    fi\n"
        "}\n"
    )
    script = wrapper + "set -x\n" + "\n".join(adapted(block, wheels) for block in blocks)
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=checkout,
            env=dict(engine.env),
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
    finally:
        for name in NAMED_CONTAINERS:
            engine("rm", "--force", name, timeout=120)
    out = result.stdout
    assert result.returncode == 0, f"exit {result.returncode}\n{out}\n{result.stderr[-6000:]}"
    lines = out.splitlines()
    # The arbitrary UID in the example image: a name, a writable HOME, umask 0002.
    assert "default" in lines, out
    assert "HOME=/home/pyenvboot umask=0002" in lines, out
    # The derived app: jinja2 from the venv, not the OS.
    assert value("jinja2", out) == "3.1.6 from /opt/venv/lib/python3.11/site-packages/jinja2"
    if engine.name == "docker":
        assert "/opt/venv/bin/python" in lines, out  # `command -v python`
        assert "0002" in lines and "/opt/venv" in lines, out  # the `docker exec` shell
