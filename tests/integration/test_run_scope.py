"""What ``pyenvboot run`` scopes the policy to, on a venv-shaped tree changed the ways installers change it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Tuple

import pytest

from pyenvboot.installers.changes import Touched
from pyenvboot.installers.step import apply_policy
from tests.support.policy import policy_offenders

pytestmark = pytest.mark.integration


def make(path: Path, mode: int, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def venv(tmp_path: Path) -> Tuple[Path, Path]:
    """A compliant venv-shaped tree (gid 0, group rw, setgid dirs) with a package and its dist-info."""
    root = tmp_path / "venv"
    site = root / "lib" / "python3.11" / "site-packages"
    make(site / "pkg" / "sub" / "mod.py", 0o664)
    make(site / "pkg-1.0.dist-info" / "RECORD", 0o664, "pkg/sub/mod.py,,\n")
    make(site / "other" / "mod.py", 0o664)
    make(root / "pyvenv.cfg", 0o664)
    (root / "bin").mkdir()
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o2775)
        os.chown(path, -1, 0)
    assert policy_offenders(root) == []
    return root, site


def test_what_an_installer_writes_is_in_scope_and_nothing_else(venv: Tuple[Path, Path]) -> None:
    root, site = venv
    untouched = make(site / "other" / "old.py", 0o644)  # an offender no installer wrote
    touched = Touched(str(root))
    os.umask(0o077)
    try:
        make(site / "newpkg" / "deep" / "er" / "x.py", 0o600)  # a new tree: all of it
        make(root / ".lock", 0o666)  # uv's lock file, world-writable
        make(site / "new-1.0.dist-info" / "RECORD", 0o600, "pkg/sub/added.py,,\n../../../bin/tool,,\n")
        make(site / "pkg" / "sub" / "added.py", 0o600)  # into an existing directory, as RECORD says
        make(site / "pkg" / "sub" / "__pycache__" / "added.cpython-311.pyc", 0o600)  # byte code RECORD omits
        make(root / "bin" / "tool", 0o700)
        make(site / "zz.pth", 0o600)  # a new top-level file of site-packages
    finally:
        os.umask(0o002)
    scope = touched.scope()
    assert scope is not None
    apply_policy(str(root), 0, scope)
    assert policy_offenders(root) == [str(untouched)]


def test_what_no_record_explains_makes_the_scope_unknown(venv: Tuple[Path, Path]) -> None:
    root, site = venv
    touched = Touched(str(root))
    make(site / "legacy-1.0.egg-info" / "PKG-INFO", 0o664)  # a setup.py install: no RECORD
    assert touched.scope() is None
    touched = Touched(str(root))
    make(site / "norecord-1.0.dist-info" / "METADATA", 0o664)
    assert touched.scope() is None


def test_a_site_packages_wide_compile_has_site_packages_walked(venv: Tuple[Path, Path]) -> None:
    root, site = venv
    touched = Touched(str(root), sites_compiled=True)
    pyc = make(site / "pkg" / "sub" / "__pycache__" / "mod.cpython-311.pyc", 0o600)
    scope = touched.scope()
    assert scope is not None and str(site) in scope.trees
    apply_policy(str(root), 0, scope)
    assert policy_offenders(root) == []
    assert pyc.stat().st_mode & 0o060 == 0o060
