"""Requirement files and their evaluation with packaging: pure logic on files in tmp dirs."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

pytest.importorskip("packaging")

from packaging.requirements import Requirement

from pyenvboot.errors import UsageError
from pyenvboot.packages.dists import Distribution
from pyenvboot.packages.requirements import (
    Pin,
    Unmet,
    applies,
    bare,
    by_name,
    closure_problems,
    logical_lines,
    names_wanted,
    parse_file,
    parse_spec,
    pin_problems,
    version_ok,
)

# The marker environment of a Python 3.8 venv, as the venv's own probe reports it; the
# tests run on another Python, so evaluating with the running interpreter would be wrong.
PY38 = {
    "implementation_name": "cpython",
    "implementation_version": "3.8.18",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_release": "6.1.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.8.18",
    "platform_python_implementation": "CPython",
    "python_version": "3.8",
    "sys_platform": "linux",
}
PY312 = dict(PY38, python_version="3.12", python_full_version="3.12.1", implementation_version="3.12.1")


def dist(name: str, version: str, *requires: str, extras: List[str] = ()) -> Distribution:  # type: ignore[assignment]
    return Distribution(name, version, "/site/%s-%s.dist-info" % (name, version), "/site", list(requires), list(extras))


def installed(*dists: Distribution) -> Dict[str, Distribution]:
    return {name: same[0] for name, same in by_name(dists).items()}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- parsing ---------------------------------------------------------------------------------


def test_logical_lines_drop_comments_and_join_continuations() -> None:
    text = "# header\nJinja2>=3 \\\n  ,<4  # why\n\nhttp://x/y#egg=z\nflask # web\n"
    assert logical_lines(text) == [(2, "Jinja2>=3   ,<4"), (5, "http://x/y#egg=z"), (6, "flask")]


def test_parse_file_follows_nested_requirements_and_constraints(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "base.txt", "MarkupSafe>=2.0\n-c ../limits.txt\n")
    write(tmp_path / "limits.txt", "MarkupSafe<3\n")
    top = write(
        tmp_path / "requirements.txt",
        "-r sub/base.txt\n--index-url https://example.invalid/simple\nJinja2[i18n]>=3 ; python_version >= '3.8'\n"
        "demo==1.0 --hash=sha256:abc\n-e git+https://example.invalid/r.git#egg=editable_one\n-e ./local\n"
        "./some/path.whl\nhttps://example.invalid/p-1.0.tar.gz#egg=fromurl\nnamed @ https://example.invalid/n.whl\n",
    )
    pins = parse_file(str(top), {})
    got = [(p.origin.replace(str(tmp_path) + "/", ""), bare(p.requirement), p.constraint) for p in pins]
    assert got == [
        ("sub/base.txt:1", "MarkupSafe>=2.0", False),
        ("limits.txt:1", "MarkupSafe<3", True),
        ("requirements.txt:3", "Jinja2[i18n]>=3", False),
        ("requirements.txt:4", "demo==1.0", False),
        ("requirements.txt:5", "editable_one", False),
        ("requirements.txt:8", "fromurl", False),
        ("requirements.txt:9", "named @ https://example.invalid/n.whl", False),
    ]


def test_parse_file_expands_set_environment_variables(tmp_path: Path) -> None:
    top = write(tmp_path / "r.txt", "demo==${DEMO_VERSION}\n")
    assert str(parse_file(str(top), {"DEMO_VERSION": "2.0"})[0].requirement) == "demo==2.0"


def test_parse_file_reads_an_include_cycle_once(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "-r b.txt\nalpha\n")
    write(tmp_path / "b.txt", "-r a.txt\nbeta\n")
    assert [p.requirement.name for p in parse_file(str(tmp_path / "a.txt"), {})] == ["beta", "alpha"]


def test_parse_file_names_file_and_line_of_a_bad_requirement(tmp_path: Path) -> None:
    top = write(tmp_path / "r.txt", "ok\nnot a requirement!!\n")
    with pytest.raises(UsageError, match=r"r\.txt:2: invalid requirement 'not a requirement!!'"):
        parse_file(str(top), {})


def test_parse_file_missing_include_is_a_usage_error(tmp_path: Path) -> None:
    top = write(tmp_path / "r.txt", "-r nope.txt\n")
    with pytest.raises(UsageError, match=r"cannot read requirements file .*nope\.txt: No such file"):
        parse_file(str(top), {})


def test_parse_spec_skips_paths_without_a_name() -> None:
    assert parse_spec(".", "x") is None
    assert parse_spec("dist/app-1.0-py3-none-any.whl", "x") is None
    pin = parse_spec("Demo[a,b]>=1,<2", "the command line")
    assert pin is not None and bare(pin.requirement) == "Demo[a,b]<2,>=1"


# -- evaluation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [("2.0", ">=2", True), ("1.9", ">=2", False), ("2.0rc1", ">=1.0", True), ("banana", ">=1", False), ("x", "", True)],
)
def test_version_ok(version: str, spec: str, ok: bool) -> None:
    assert version_ok(version, Requirement("p" + spec).specifier) is ok


def test_markers_are_evaluated_for_the_venvs_python_not_ours() -> None:
    req = Requirement('backport ; python_version < "3.9"')
    assert applies(req, PY38) is True
    assert applies(req, PY312) is False


def test_extra_requirements_apply_only_under_their_extra() -> None:
    req = Requirement('Babel>=2.7 ; extra == "i18n"')
    assert applies(req, PY38) is False
    assert applies(req, PY38, "i18n") is True
    assert applies(Requirement("plain"), PY38, "i18n") is False  # belongs to the base, checked there


def test_closure_names_the_broken_pair() -> None:
    have = installed(dist("Jinja2", "3.1.2", "MarkupSafe>=2.0"), dist("MarkupSafe", "1.1.1"))
    problems = closure_problems([(d, "") for d in have.values()], have, PY38)
    assert [p.message() for p in problems] == ["Jinja2 3.1.2 needs MarkupSafe>=2.0, but MarkupSafe 1.1.1 is installed"]


def test_closure_reports_missing_and_ignores_markers_that_do_not_apply() -> None:
    have = installed(dist("app", "1.0", "lib>=1", 'winonly ; sys_platform == "win32"', 'old ; python_version < "3.9"'))
    messages = [p.message() for p in closure_problems([(d, "") for d in have.values()], have, PY312)]
    assert messages == ["app 1.0 needs lib>=1, which is not installed"]
    messages = [p.message() for p in closure_problems([(d, "") for d in have.values()], have, PY38)]
    assert messages == ["app 1.0 needs lib>=1, which is not installed", "app 1.0 needs old, which is not installed"]


def test_closure_follows_extras_asked_for_by_a_dependency() -> None:
    have = installed(
        dist("app", "1.0", "lib[fast]>=1"),
        dist("lib", "1.2", 'speedups>=2 ; extra == "fast"', extras=["fast"]),
        dist("speedups", "1.0"),
    )
    problems = closure_problems([(d, "") for d in have.values()], have, PY38)
    assert [p.message() for p in problems] == ["lib[fast] 1.2 needs speedups>=2, but speedups 1.0 is installed"]


def test_closure_without_follow_checks_only_the_start() -> None:
    have = installed(dist("a", "1", "b"), dist("b", "1", "c"))
    assert closure_problems([(have["a"], "")], have, PY38, follow=False) == []
    assert [p.requirement for p in closure_problems([(have["a"], "")], have, PY38)] == ["c"]


def test_unreadable_requirement_in_metadata_is_reported_not_raised() -> None:
    have = installed(dist("weird", "1", "this is not ) valid"))
    (problem,) = closure_problems([(have["weird"], "")], have, PY38)
    assert problem.message() == "weird 1 has an unreadable requirement 'this is not ) valid' in its metadata"


def test_pins_requirements_and_constraints() -> None:
    have = installed(dist("demo", "1.0"), dist("lib", "2.0", 'x ; extra == "e"', extras=["e"]))
    pins = [
        Pin(Requirement("demo>=2"), "r.txt:1"),
        Pin(Requirement("absent"), "r.txt:2"),
        Pin(Requirement('skipped ; python_version < "3"'), "r.txt:3"),
        Pin(Requirement("lib[e]"), "r.txt:4"),
        Pin(Requirement("lib<2"), "c.txt:1", constraint=True),
        Pin(Requirement("notinstalled<1"), "c.txt:2", constraint=True),
    ]
    problems, wanted = pin_problems(pins, have, PY38)
    assert [p.message() for p in problems] == [
        "r.txt:1: demo>=2 is not met: demo 1.0 is installed",
        "r.txt:2: absent is not installed in the venv",
        "c.txt:1: constraint lib<2 is not met: lib 2.0 is installed",
    ]
    assert [(d.name, e) for d, e in wanted] == [("lib", ""), ("lib", "e")]
    assert [p.message() for p in closure_problems(wanted, have, PY38)] == ["lib[e] 2.0 needs x, which is not installed"]


def test_names_wanted_come_from_pins_and_installed_requirements() -> None:
    wanted = names_wanted([Pin(Requirement("Jinja2>=3"), "r.txt:1")], [dist("app", "1", "Markup_Safe")])
    assert wanted == {"jinja2": "r.txt:1", "markup-safe": "app 1"}


def test_duplicates_group_by_canonical_name() -> None:
    groups = by_name([dist("Demo", "1.0"), dist("demo", "2.0"), dist("other", "1")])
    assert [len(v) for v in groups.values()] == [2, 1]


def test_unmet_messages() -> None:
    assert Unmet("a 1", "b", None).message() == "a 1 needs b, which is not installed"
    assert Unmet("r:1", "b>1", "b 1", "pin").message() == "r:1: b>1 is not met: b 1 is installed"
