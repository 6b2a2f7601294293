"""Scenario 2 (issue 3): derived builds as the image's user and as root; arbitrary UIDs change them.

A derived image installs ``demo==1.0`` and ``extra==1.0`` at build time, once as
the base image's numeric ``USER 1001:0`` and once as root. At run time a random
UID in group 0 with no passwd entry (as OpenShift assigns) upgrades, uninstalls
and installs packages in that venv through ``pyenvboot pip``, and has a name, a
writable HOME and umask 0002. A second UID then changes what the first installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.container.containers import (
    arbitrary_uid,
    as_user,
    run_image,
    run_script_as,
    running,
    value,
    wait_for_output,
)

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images
    from tests.container.index_server import PackageIndex

pytestmark = pytest.mark.container

SITE_PACKAGES = "/opt/venv/lib/python3.11/site-packages"
REQUIREMENTS = "demo==1.0\nextra==1.0\n"

# What any UID of the group must find after every change: nothing in the venv
# without group read-write, no directory without setgid, nothing world-writable.
POLICY_CHECK = (
    "bad=$(find /opt/venv ! -type l \\( ! -perm -g=rw -o -perm -o=w -o -type d ! -perm -g+s \\) -print | head -5);"
    ' echo "policy_violations=${bad:-none}"'
)

RUNTIME_SCRIPT = f"""
set -e
echo "whoami=$(whoami)"
python -c 'import getpass; print("getuser=" + getpass.getuser())'
echo "home=$HOME"
touch "$HOME/written-by-$(id -u)" && echo "home_writable=yes"
echo "umask=$(umask)"
pyenvboot pip install -q --upgrade demo
pyenvboot pip uninstall -q -y extra
pyenvboot pip install -q needs-demo
python -c 'import demo, needs_demo; print("demo=" + demo.__version__)'
python -c 'import extra' 2>/dev/null && echo "extra=still-there" || echo "extra=gone"
echo "dist_infos=$(cd {SITE_PACKAGES} && ls -d demo-* extra-* needs_demo-* 2>/dev/null | tr '\\n' ' ')"
{POLICY_CHECK}
"""


def derived_dockerfile(build_user: str) -> str:
    """examples/derived's install step, run as ``build_user``; the image keeps USER 1001:0."""
    return f"""\
ARG BASE
FROM ${{BASE}}
ARG PIP_INDEX_URL
USER {build_user}
COPY requirements.txt /tmp/requirements.txt
RUN pyenvboot pip install -r /tmp/requirements.txt
USER 1001:0
"""


@pytest.fixture(scope="module", params=["1001:0", "0:0"], ids=["as-image-user", "as-root"])
def derived_image(request: pytest.FixtureRequest, images: Images) -> str:
    build_user: str = request.param
    name = "derived-tiny-" + ("root" if build_user == "0:0" else "user")
    return images.derived(name, derived_dockerfile(build_user), {"requirements.txt": REQUIREMENTS})


def test_build_installed_into_the_venv(engine: Engine, derived_image: str) -> None:
    result = run_image(engine, derived_image, "python", "-c", "import demo, extra; print('demo=' + demo.__version__)")
    assert value("demo", result.stdout) == "1.0"
    policy = run_image(engine, derived_image, "sh", "-c", POLICY_CHECK)
    assert value("policy_violations", policy.stdout) == "none"


def test_arbitrary_uid_upgrades_uninstalls_and_installs(
    engine: Engine, derived_image: str, build_index: PackageIndex
) -> None:
    result = run_script_as(engine, derived_image, RUNTIME_SCRIPT, arbitrary_uid(), build_index.url)
    out = result.stdout
    assert value("whoami", out) == "default"
    assert value("getuser", out) == "default"
    assert value("home", out) == "/home/pyenvboot"
    assert value("home_writable", out) == "yes"
    assert value("umask", out) == "0002"
    assert value("demo", out) == "2.0"
    assert value("extra", out) == "gone"
    assert value("dist_infos", out).split() == ["demo-2.0.dist-info", "needs_demo-1.0.dist-info"]
    assert value("policy_violations", out) == "none"
    assert "/.cache" not in result.stderr, result.stderr


def test_second_uid_changes_what_the_first_installed(
    engine: Engine, derived_image: str, build_index: PackageIndex
) -> None:
    first, second = arbitrary_uid(), arbitrary_uid()
    script = "pyenvboot pip install -q --upgrade demo needs-demo && echo ready && exec sleep infinity"
    options = [*as_user(first), "--env", f"PIP_INDEX_URL={build_index.url}"]
    with running(engine, derived_image, "sh", "-c", script, options=options, network="host") as name:
        wait_for_output(engine, name, "ready", timeout=240)
        result = engine(
            "exec",
            "--user",
            f"{second}:0",
            name,
            "bash",
            "-c",
            "set -e; pyenvboot pip uninstall -q -y needs-demo demo; pyenvboot pip install -q demo==1.0;"
            f" python -c 'import demo; print(\"demo=\" + demo.__version__)'; {POLICY_CHECK}",
            timeout=300,
        )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert value("demo", result.stdout) == "1.0"
    assert value("policy_violations", result.stdout) == "none"
