"""One version order: packaging's PEP 440 where it is importable, the release numbers otherwise."""

from __future__ import annotations

import sys
from typing import List

import pytest

from pyenvboot.create.seed import wheel_version
from pyenvboot.packages.versions import version_key

VERSIONS = ["not a version", "1", "1.0.1", "2.0rc1", "2.0", "2.0.post1", "10.0"]


def ordered(versions: List[str]) -> List[str]:
    return sorted(versions, key=version_key)


def test_pep_440_order_with_packaging() -> None:
    pytest.importorskip("packaging")
    assert ordered(list(reversed(VERSIONS))) == VERSIONS
    assert version_key("1.0") == version_key("1") == version_key("v1.0.0")
    assert wheel_version("/w/pip-25.0.1-py3-none-any.whl") < wheel_version("/w/pip-26.3-py3-none-any.whl")


def test_release_numbers_without_packaging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "packaging.version", None)  # import raises ImportError
    assert version_key("1.0") == version_key("1") == version_key("1.0.0")
    assert version_key("9.1") < version_key("10.0") < version_key("10.0.1")
    assert version_key("not a version") < version_key("0.1")
    # Nothing after the release counts: pre- and post-releases tie with their release.
    assert version_key("2.0rc1") == version_key("2.0") == version_key("2.0.post1")
    assert wheel_version("/w/pip-25.0.1-py3-none-any.whl") < wheel_version("/w/pip-26.3-py3-none-any.whl")
