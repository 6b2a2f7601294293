"""The guards belong to init itself: a caller of VenvBuilder gets them before anything is changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyenvboot.create.builder import VenvBuilder
from pyenvboot.errors import CreateError, PermissionPolicyError


def test_a_venv_in_a_system_directory_is_refused_before_anything_is_made() -> None:
    venv = "/usr/lib/pyenvboot-test-never-made/venv"
    with pytest.raises(PermissionPolicyError, match="belongs to the operating system"):
        VenvBuilder(venv, with_pip=False).create()
    assert not os.path.lexists(os.path.dirname(venv))


@pytest.mark.parametrize("home", ["/", "relative/home", "/etc"])
def test_a_bad_shared_home_is_refused_before_the_venv_is_made(tmp_path: Path, home: str) -> None:
    venv = tmp_path / "parent" / "venv"
    with pytest.raises(PermissionPolicyError):
        VenvBuilder(str(venv), with_pip=False, home=home).create()
    assert not (tmp_path / "parent").exists()


def test_an_unknown_creator_is_refused() -> None:
    with pytest.raises(CreateError, match="--creator pipx"):
        VenvBuilder("/srv/app/venv", creator="pipx")
