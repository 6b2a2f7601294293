"""Scenario 1 (issue 3): the OS's python3-jinja2 neither leaks into the venv nor satisfies a pin.

Debian 12's base image carries python3-jinja2 3.1.2. Outside the venv pip would
say "Requirement already satisfied" for it; the venv must not see it at all, and
the derived build (examples/derived, pinning a newer jinja2) must really install
the newer release from the index into the venv.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, run_image, value
from tests.container.images import DERIVED_EXAMPLE, JINJA2_REQUIREMENT

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images

pytestmark = pytest.mark.container

OS_JINJA2 = "3.1.2"  # Debian 12's python3-jinja2
VENV_JINJA2 = JINJA2_REQUIREMENT.split("==")[1]
SITE_PACKAGES = "/opt/venv/lib/python3.11/site-packages"
SHOW_JINJA2 = "import jinja2, importlib.metadata as m; print('jinja2=%s %s' % (m.version('jinja2'), jinja2.__file__))"


def test_the_example_pins_a_newer_jinja2_than_debian() -> None:
    """The scenario needs the pin to be newer than the OS's copy, or it proves nothing."""
    pins = [line.strip() for line in (DERIVED_EXAMPLE / "requirements.txt").read_text().splitlines()]
    assert JINJA2_REQUIREMENT in pins
    assert tuple(map(int, VENV_JINJA2.split("."))) > tuple(map(int, OS_JINJA2.split(".")))


def test_venv_does_not_see_the_os_jinja2(engine: Engine, images: Images) -> None:
    image = images.example("debian12")
    system = run_image(engine, image, "/usr/bin/python3", "-c", SHOW_JINJA2)
    assert value("jinja2", system.stdout) == f"{OS_JINJA2} /usr/lib/python3/dist-packages/jinja2/__init__.py"

    venv = run_image(engine, image, "python", "-c", "import jinja2", check=False)
    assert venv.returncode == 1, venv.stdout
    assert "ModuleNotFoundError: No module named 'jinja2'" in venv.stderr


def test_derived_build_installs_the_newer_jinja2_into_the_venv(engine: Engine, images: Images) -> None:
    image = images.derived_app("debian12")
    uid = arbitrary_uid()
    app = run_image(engine, image, options=as_user(uid))  # the example's CMD: python app.py
    assert value("jinja2", app.stdout) == f"{VENV_JINJA2} from {SITE_PACKAGES}/jinja2", app.stdout
    assert value("python", app.stdout).endswith(" venv=/opt/venv")

    # The OS copy is untouched: the system Python still has its own 3.1.2.
    system = run_image(engine, image, "/usr/bin/python3", "-c", SHOW_JINJA2)
    assert value("jinja2", system.stdout).startswith(f"{OS_JINJA2} /usr/lib/python3/dist-packages/")

    # pip installed it (not a copy from elsewhere), with its dependency, into the venv only.
    show = run_image(engine, image, "python", "-m", "pip", "show", "--files", "jinja2", "markupsafe")
    assert f"Version: {VENV_JINJA2}" in show.stdout
    assert show.stdout.count(f"Location: {SITE_PACKAGES}") == 2, show.stdout
