"""Smoke tests for the container tier's own infrastructure.

If these fail, later container tests would fail for reasons unrelated to
pyenvboot: engine configuration, base images, or the local package index.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import as_user, run_image
from tests.support.wheels import build_wheel

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.index_server import PackageIndex

pytestmark = pytest.mark.container


@pytest.mark.parametrize("tag", ["debian12", "debian12-plain", "debian13", "debian13-venv"])
def test_base_image_runs_python3(engine: Engine, base_images: Mapping[str, str], tag: str) -> None:
    result = run_image(engine, base_images[tag], "python3", "-c", "import sys; print(sys.version_info[0])")
    assert result.stdout.strip() == "3"


def test_unknown_uid_has_no_passwd_entry(engine: Engine, base_images: Mapping[str, str]) -> None:
    """Docker's and Kubernetes' behaviour, on both engines: no entry is invented for the UID."""
    result = run_image(
        engine, base_images["debian12"], "sh", "-c", "id; whoami", options=as_user(1000680000), check=False
    )
    assert result.returncode != 0, result.stdout
    assert result.stdout.startswith("uid=1000680000 gid=0(root)"), result.stdout
    assert "cannot find name for user ID 1000680000" in result.stderr


def test_index_server_pep503_pages(package_index: PackageIndex) -> None:
    """Host-side check of the pages pip reads; cheap to diagnose."""
    wheel = build_wheel(package_index.directory, "Probe.Pkg", "1.0")
    with urllib.request.urlopen(f"{package_index.url}/") as response:
        assert 'href="probe-pkg/"' in response.read().decode()
    # Non-normalized names redirect to the normalized project page.
    with urllib.request.urlopen(f"{package_index.url}/Probe_Pkg") as response:
        assert response.url.endswith("/simple/probe-pkg/")
        page = response.read().decode()
    assert f'href="../../files/{wheel.name}#sha256=' in page
    with urllib.request.urlopen(f"{package_index.base_url}/files/{wheel.name}") as response:
        assert response.read() == wheel.read_bytes()


def test_index_server_reachable_from_container(
    engine: Engine, base_images: Mapping[str, str], package_index: PackageIndex
) -> None:
    """A venv pip in a container installs a wheel and its dependency from the index."""
    build_wheel(
        package_index.directory,
        "pyenvboot-probe",
        "1.0",
        requires=["pyenvboot-probe-dep>=2"],
        files={
            "pyenvboot_probe/__init__.py": "import pyenvboot_probe_dep\n"
            "def main():\n"
            "    print('probe ok, dep', pyenvboot_probe_dep.__version__)\n",
        },
        console_scripts={"pyenvboot-probe": "pyenvboot_probe:main"},
    )
    build_wheel(package_index.directory, "pyenvboot-probe-dep", "2.0")
    script = (
        "python3 -m venv /tmp/v && "
        "/tmp/v/bin/pip install --no-cache-dir --disable-pip-version-check "
        f"--index-url {package_index.url} pyenvboot-probe && "
        "/tmp/v/bin/pyenvboot-probe"
    )
    result = run_image(engine, base_images["debian12"], "sh", "-c", script, network="host", timeout=300)
    assert "probe ok, dep 2.0" in result.stdout
    assert "/simple/pyenvboot-probe-dep/" in package_index.requests
