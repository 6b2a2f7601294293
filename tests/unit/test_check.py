"""The pure parts of ``pyenvboot check`` and of the pip verification."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from pyenvboot.diagnosis.isolation import check_isolation, entry_source, pth_files, stdlib_entry
from pyenvboot.diagnosis.reach import allowed, blocker
from pyenvboot.diagnosis.report import Problem, Report, format_json, format_text, pip_command
from pyenvboot.packages.dists import Distribution
from pyenvboot.packages.verify import parse_pip_install
from pyenvboot.venv.config import cfg_version
from pyenvboot.venv.facts import VenvFacts


def fake_stat(mode: int, uid: int = 0, gid: int = 0) -> os.stat_result:
    return os.stat_result((mode, 1, 1, 1, uid, gid, 0, 0, 0, 0))


DIR = stat.S_IFDIR
FILE = stat.S_IFREG


def stat_table(table: Dict[str, os.stat_result]):  # type: ignore[no-untyped-def]
    def fn(path: str) -> os.stat_result:
        if path not in table:
            raise FileNotFoundError(path)
        return table[path]

    return fn


ROOT_HOME = {
    "/": fake_stat(DIR | 0o755),
    "/root": fake_stat(DIR | 0o700),
    "/root/.pyenv": fake_stat(DIR | 0o755),
    "/root/.pyenv/bin": fake_stat(DIR | 0o755),
    "/root/.pyenv/bin/python3": fake_stat(FILE | 0o755),
}


def test_a_0700_home_blocks_every_other_uid() -> None:
    found = blocker("/root/.pyenv/bin/python3", 0, 1, stat_table(ROOT_HOME))
    assert found is not None and found[0] == "/root"
    assert "no search (x) permission for group 0 or others" in found[2]


def test_group_execute_counts_only_for_the_group() -> None:
    table = dict(ROOT_HOME, **{"/root": fake_stat(DIR | 0o710, gid=0)})
    assert blocker("/root/.pyenv/bin/python3", 0, 1, stat_table(table)) is None
    found = blocker("/root/.pyenv/bin/python3", 1000, 1, stat_table(table))
    assert found is not None and found[0] == "/root"


def test_the_file_itself_needs_the_bits() -> None:
    table = dict(ROOT_HOME, **{"/root": fake_stat(DIR | 0o755), "/root/.pyenv/bin/python3": fake_stat(FILE | 0o700)})
    found = blocker("/root/.pyenv/bin/python3", 0, 1, stat_table(table))
    assert found is not None and found[0] == "/root/.pyenv/bin/python3" and "execute" in found[2]


@pytest.mark.parametrize(
    ("mode", "gid", "bits", "ok"),
    [(0o755, 5, 5, True), (0o750, 0, 5, True), (0o750, 5, 5, False), (0o711, 5, 1, True), (0o711, 5, 4, False)],
)
def test_allowed(mode: int, gid: int, bits: int, ok: bool) -> None:
    assert allowed(fake_stat(DIR | mode, gid=0), gid, bits) is ok


def test_cfg_version_reads_venv_and_virtualenv_styles() -> None:
    assert cfg_version({"version": "3.11.2"}) == (3, 11, 2)
    assert cfg_version({"version_info": "3.12.1.final.0"}) == (3, 12, 1)
    assert cfg_version({}) is None


def facts_for(tmp: Path, path: List[str], pythonpath: str = "", site: Optional[List[str]] = None) -> VenvFacts:
    base = tmp / "base"
    return VenvFacts(
        version=[3, 11, 2],
        base_prefix=str(base),
        path=path,
        site=site if site is not None else [str(tmp / "venv/lib/python3.11/site-packages")],
        user_site=str(tmp / "home/.local/lib/python3.11/site-packages"),
        stdlib=str(base / "lib/python3.11"),
        platstdlib=str(base / "lib/python3.11"),
        purelib=str(tmp / "venv/lib/python3.11/site-packages"),
        platlib=str(tmp / "venv/lib/python3.11/site-packages"),
        markers={},
        pythonpath=pythonpath,
    )


def test_stdlib_entries_are_the_zip_the_lib_and_lib_dynload_but_not_site_packages(tmp_path: Path) -> None:
    facts = facts_for(tmp_path, [])
    base = tmp_path / "base"
    assert stdlib_entry(str(base / "lib/python311.zip"), facts)
    assert stdlib_entry(str(base / "lib/python3.11"), facts)
    assert stdlib_entry(str(base / "lib/python3.11/lib-dynload"), facts)
    assert not stdlib_entry(str(base / "lib/python3.11/site-packages"), facts)
    assert not stdlib_entry("/usr/lib/python3/dist-packages", facts)


def test_pth_files_map_the_paths_they_add(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "debian.pth").write_text("# comment\n/usr/lib/python3/dist-packages\n")
    (site / "hook.pth").write_text("import sys; sys.path.append('/x')\n")
    adds, imports = pth_files([str(site)])
    assert adds == {os.path.realpath("/usr/lib/python3/dist-packages"): str(site / "debian.pth")}
    assert imports == [str(site / "hook.pth")]


def test_entry_sources(tmp_path: Path) -> None:
    facts = facts_for(tmp_path, [], pythonpath="/app:/opt/lib", site=["/usr/lib/python3/dist-packages"])
    venv = str(tmp_path / "venv")
    cfg = {"include-system-site-packages": "true"}
    source, fix = entry_source("/opt/lib", facts, cfg, venv, {}, [])
    assert source == "from PYTHONPATH=/app:/opt/lib" and "unset PYTHONPATH" in fix
    source, fix = entry_source("/srv/x", facts, cfg, venv, {os.path.realpath("/srv/x"): "/v/site/a.pth"}, [])
    assert source == "added by /v/site/a.pth" and fix.startswith("remove /v/site/a.pth")
    source, fix = entry_source("/usr/lib/python3/dist-packages", facts, cfg, venv, {}, [])
    assert "include-system-site-packages = true" in source and fix == "pyenvboot init --venv " + venv
    source, _ = entry_source("/nowhere", facts, cfg, venv, {}, ["/v/site/hook.pth"])
    assert source == "added at start-up (by /v/site/hook.pth)"


def test_isolation_names_what_leaks_in_from_outside(tmp_path: Path) -> None:
    outside = tmp_path / "dist-packages"
    for name, version in (("Jinja2", "2.11.3"), ("demo", "1.0"), ("unrelated", "1")):
        info = outside / ("%s-%s.dist-info" % (name, version))
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Name: %s\nVersion: %s\n" % (name, version))
    venv = tmp_path / "venv"
    site = venv / "lib/python3.11/site-packages"
    site.mkdir(parents=True)
    facts = facts_for(
        tmp_path, [str(tmp_path / "base/lib/python3.11"), str(outside), str(site)], pythonpath=str(outside)
    )
    own = {"demo": Distribution("demo", "2.0", str(site / "demo-2.0.dist-info"), str(site))}
    wanted = {"jinja2": "requirements.txt:1"}
    problems = check_isolation(str(venv), {}, facts, own, wanted, "pyenvboot pip")
    messages = [p.message for p in problems]
    assert messages == [
        "%s is on sys.path, from PYTHONPATH=%s" % (outside, outside),
        "Jinja2 2.11.3 in %s is importable from outside the venv and would satisfy Jinja2 (wanted by"
        " requirements.txt:1), which the venv does not have" % outside,
        "demo 1.0 in %s shadows the venv's demo 2.0 (it comes first on sys.path)" % outside,
    ]
    assert all(p.check == "isolation" for p in problems)


def test_system_site_packages_setting_is_a_problem_even_without_facts(tmp_path: Path) -> None:
    (problem,) = check_isolation("/v", {"include-system-site-packages": "True"}, None, {}, {}, "pip")
    assert "include-system-site-packages = True" in problem.message
    assert problem.fix.startswith("pyenvboot init --venv /v")


def test_pip_command_names_the_venv_unless_it_is_the_default() -> None:
    assert pip_command("/opt/venv", {}) == "pyenvboot pip"
    assert pip_command("/srv/v", {"PYENVBOOT_VENV": "/srv/v"}) == "pyenvboot pip"
    assert pip_command("/srv/my venv", {}) == "pyenvboot pip --venv '/srv/my venv'"


def test_text_report_is_one_line_per_problem_grouped_then_a_summary() -> None:
    report = Report(
        "/opt/venv",
        [Problem("isolation", "a is on sys.path", "do x"), Problem("permissions", "3 entries break", "do y")],
    )
    assert format_text(report) == (
        "isolation: a is on sys.path; fix: do x\npermissions: 3 entries break; fix: do y\n"
        "pyenvboot: 2 problem(s) in /opt/venv\n"
    )
    healthy = Report("/opt/venv", python="3.11.2", distributions=3, pins=2)
    assert (
        format_text(healthy)
        == "pyenvboot: /opt/venv is healthy: Python 3.11.2, 3 distribution(s), 2 requirement(s) met\n"
    )


def test_json_report_is_one_object() -> None:
    report = Report("/v", [Problem("pins", "r:1: x is not installed in the venv", "pyenvboot pip install -r r")])
    report.skipped["consistency"] = "the venv's python does not start"
    data = json.loads(format_json(report))
    assert data["healthy"] is False
    assert data["checks"] == {
        "isolation": "ok",
        "consistency": "skipped",
        "pins": "problems",
        "interpreter": "ok",
        "permissions": "ok",
    }
    assert data["problems"] == [
        {"check": "pins", "message": "r:1: x is not installed in the venv", "fix": "pyenvboot pip install -r r"}
    ]


# -- pip install command lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["install", "demo==1.0", "extra"], ([], [], ["demo==1.0", "extra"], False)),
        (
            ["-q", "install", "-r", "a.txt", "--requirement=b.txt", "-rc.txt", "-c", "k.txt"],
            (["a.txt", "b.txt", "c.txt"], ["k.txt"], [], False),
        ),
        (["install", "--no-index", "-f", "/wheels", "-i", "https://x/simple", "demo"], ([], [], ["demo"], False)),
        (["install", "--no-deps", "-e", ".", "--config-settings", "k=v", "x"], ([], [], [".", "x"], True)),
        (["--log", "/tmp/log", "install", "-U", "pip"], ([], [], ["pip"], False)),
    ],
)
def test_parse_pip_install(args: List[str], expected: tuple) -> None:  # type: ignore[type-arg]
    request = parse_pip_install(args)
    assert request is not None
    assert (request.files, request.constraints, request.specs, request.no_deps) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["uninstall", "-y", "demo"],
        ["list"],
        ["install", "--target", "/elsewhere", "demo"],
        ["install", "--prefix=/p", "demo"],
        ["install", "--user", "demo"],
        ["install", "--dry-run", "demo"],
        ["--cache-dir", "install", "list"],
    ],
)
def test_pip_commands_that_install_nothing_into_the_venv(args: List[str]) -> None:
    assert parse_pip_install(args) is None
