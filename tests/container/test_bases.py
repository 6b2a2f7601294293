"""Dockerfile.example on Debian 13, and a clear failure where no pip can be had.

Debian 13's minimal ``python3`` has no ``ensurepip``. The example image must
build and work where ``python3-venv`` (debian13-venv) or ``python3-virtualenv``
(debian13) is installed: the derived example installs jinja2 (with markupsafe,
a cp313 binary wheel) into the venv and an arbitrary UID installs more at run
time. On a base with neither (debian12-plain), the build fails on init's one
clear error line that names the remedies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, run_image, run_script_as, value

if TYPE_CHECKING:
    from tests.container.conftest import Podman
    from tests.container.images import Images
    from tests.container.index_server import PackageIndex

pytestmark = pytest.mark.container

DEBIAN13 = ["debian13", "debian13-venv"]


@pytest.mark.parametrize("base", DEBIAN13)
def test_derived_example_runs_on_debian13(podman: Podman, images: Images, base: str) -> None:
    uid = arbitrary_uid()
    out = run_image(podman, images.derived_app(base), options=as_user(uid)).stdout
    assert value("python", out).startswith("3.13.")
    assert value("python", out).endswith(" venv=/opt/venv")
    assert value("jinja2", out) == "3.1.6 from /opt/venv/lib/python3.13/site-packages/jinja2"
    assert value("user", out) == f"default uid={uid} gid=0 umask=0002"
    assert value("home", out) == "/home/pyenvboot (writable)"
    assert value("site-packages", out) == "/opt/venv/lib/python3.13/site-packages (writable)"


@pytest.mark.parametrize("base", DEBIAN13)
def test_arbitrary_uid_installs_at_run_time_on_debian13(
    podman: Podman, images: Images, build_index: PackageIndex, base: str
) -> None:
    script = (
        "pyenvboot pip install -q demo==2.0 && python -c 'import demo, sys;"
        ' print("demo=%s %s" % (demo.__version__, demo.__file__))\''
    )
    result = run_script_as(podman, images.example(base), script, arbitrary_uid(), build_index.url)
    assert value("demo", result.stdout) == "2.0 /opt/venv/lib/python3.13/site-packages/demo/__init__.py"


def test_virtualenv_creator_on_debian13(podman: Podman, images: Images, build_index: PackageIndex) -> None:
    """debian13 has python3-virtualenv: ``init --creator virtualenv`` makes the venv through it.

    (With ``auto`` it takes the pip wheel python3-virtualenv pulls in, as the tests above do.)
    """
    image = images.example("debian13", init_flags="--creator virtualenv")
    script = (
        "python -m pip --version && pyenvboot pip install -q demo==2.0 &&"
        " python -c 'import demo; print(\"demo=\" + demo.__version__)'"
    )
    result = run_script_as(podman, image, script, arbitrary_uid(), build_index.url)
    assert " from /opt/venv/lib/python3.13/site-packages/pip " in result.stdout
    assert value("demo", result.stdout) == "2.0"


def test_venv_does_not_see_debian13_jinja2(podman: Podman, images: Images) -> None:
    """debian13 carries python3-jinja2 too: the system Python sees it, the venv does not."""
    image = images.example("debian13")
    run_image(podman, image, "/usr/bin/python3", "-c", "import jinja2")
    venv = run_image(podman, image, "python", "-c", "import jinja2", check=False)
    assert venv.returncode == 1
    assert "No module named 'jinja2'" in venv.stderr


def test_build_without_any_pip_source_fails_clearly(images: Images) -> None:
    """debian12-plain: no ensurepip, no virtualenv, no Debian pip wheel."""
    result = images.example_build_failure("debian12-plain")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for remedy in ("python3-venv", "python3-virtualenv", "--pip-wheel"):
        assert remedy in errors[0], errors[0]
    assert "Traceback" not in output
