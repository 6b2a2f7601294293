"""The repair of what a killed pip leaves, on hand-made site-packages in real temp dirs."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import List

from pyenvboot.installers.leftovers import finish_record, pip_leftover, pyc_temp

WHEEL_RECORD = "ns/a/__init__.py,sha256=x,1\nns_a-1.0.dist-info/METADATA,sha256=y,2\nns_a-1.0.dist-info/RECORD,,\n"


def killed_install(site: Path, installer: bool) -> Path:
    """ns_a 1.0 unpacked into the namespace package ``ns``, beside ns_b's byte code, with the wheel's RECORD."""
    info = site / "ns_a-1.0.dist-info"
    cache = site / "ns/a/__pycache__"
    cache.mkdir(parents=True)
    info.mkdir()
    (site / "ns/a/__init__.py").write_text("")
    (cache / "__init__.cpython-311.pyc").write_bytes(b"")
    (cache / "__init__.cpython-311.pyc.140201143474592").write_bytes(b"")
    (site / "ns/__pycache__").mkdir()
    (site / "ns/__pycache__/b.cpython-311.pyc").write_bytes(b"")  # ns_b's, not ns_a's
    (info / "METADATA").write_text("Name: ns_a\nVersion: 1.0\n")
    (info / "RECORD").write_text(WHEEL_RECORD)
    if installer:
        (info / "INSTALLER").write_text("pip\n")
        (info / "REQUESTED").write_text("")
    return info


def listed(info: Path) -> List[str]:
    with open(info / "RECORD", newline="") as f:
        return [row[0] for row in csv.reader(f)]


def test_a_record_cut_short_after_installer_gets_pips_rows(tmp_path: Path) -> None:
    info = killed_install(tmp_path, installer=True)
    temps = finish_record(str(tmp_path), info.name)
    assert temps == [str(tmp_path / "ns/a/__pycache__/__init__.cpython-311.pyc.140201143474592")]
    added = listed(info)[3:]
    assert sorted(added) == [
        "ns/a/__pycache__/__init__.cpython-311.pyc",
        "ns_a-1.0.dist-info/INSTALLER",
        "ns_a-1.0.dist-info/REQUESTED",
    ]
    assert finish_record(str(tmp_path), info.name) == []  # complete now: nothing more to add


def test_before_installer_only_the_temporary_byte_code_goes(tmp_path: Path) -> None:
    info = killed_install(tmp_path, installer=False)
    temps = finish_record(str(tmp_path), info.name)
    assert [Path(t).name for t in temps] == ["__init__.cpython-311.pyc.140201143474592"]
    assert (info / "RECORD").read_text() == WHEEL_RECORD  # the console scripts may be missing: not completed


def test_pips_own_record_is_left_alone(tmp_path: Path) -> None:
    info = killed_install(tmp_path, installer=True)
    whole = WHEEL_RECORD + "ns_a-1.0.dist-info/INSTALLER,sha256=z,4\n"
    (info / "RECORD").write_text(whole)
    assert finish_record(str(tmp_path), info.name) == []
    assert (info / "RECORD").read_text() == whole


def test_pips_temporary_names() -> None:
    assert pip_leftover("RECORDk3j2h1g0.tmp") and pip_leftover("direct_url.jsonabcdefgh.tmp")
    assert not pip_leftover("RECORD") and not pip_leftover("RECORD.tmp") and not pip_leftover("notes.tmp")


def test_importlibs_temporary_byte_code() -> None:
    assert pyc_temp("__init__.cpython-311.pyc.140201143474592")
    assert not pyc_temp("__init__.cpython-311.pyc") and not pyc_temp("notes.pyc.bak") and not pyc_temp("x.py.12")
