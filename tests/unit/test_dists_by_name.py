"""Distributions read by name when asked for, on hand-made site-packages in real temp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyenvboot.packages.dists import ByName
from pyenvboot.packages.requirements import canonical


def dist_info(site: Path, directory: str, name: str, version: str) -> None:
    (site / directory).mkdir(parents=True)
    (site / directory / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))


def test_names_are_found_by_their_escaped_directory_and_the_first_site_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    dist_info(first, "zope_interface-6.0.dist-info", "zope.interface", "6.0")
    dist_info(second, "zope.interface-5.0.dist-info", "zope.interface", "5.0")
    dist_info(second, "Jinja2-3.1.6.dist-info", "Jinja2", "3.1.6")
    found = ByName([str(first), str(second)], canonical)
    assert found["zope-interface"].version == "6.0"
    assert found.get("jinja2") is not None and found.get("markupsafe") is None
    assert sorted(found) == ["jinja2", "zope-interface"]


def test_a_directory_named_unlike_its_metadata_is_not_taken_for_another_name(tmp_path: Path) -> None:
    dist_info(tmp_path, "renamed-1.0.dist-info", "demo", "1.0")
    found = ByName([str(tmp_path)], canonical)
    with pytest.raises(KeyError):
        found["renamed"]
    assert found.get("demo") is None  # not found here: the verification then reads everything
