"""Argument parsing: the hand-written exec parser and the one-line usage errors."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest

from pyenvboot import errors
from pyenvboot.cli import HelpRequested, main, parse_env, parse_exec, parse_fix_permissions
from pyenvboot.errors import UsageError
from pyenvboot.parser import build_parser


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--", "python", "-c", "pass"], (None, False, ["python", "-c", "pass"])),
        (["python", "--venv", "x"], (None, False, ["python", "--venv", "x"])),
        (["--venv", "/v", "--", "app"], ("/v", False, ["app"])),
        (["--venv=/v", "--init", "app", "--", "x"], ("/v", True, ["app", "--", "x"])),
        ([], (None, False, [])),
        (["--"], (None, False, [])),
        (["-", "x"], (None, False, ["-", "x"])),
    ],
)
def test_parse_exec(args: List[str], expected: Tuple[object, ...]) -> None:
    assert parse_exec(args) == expected


@pytest.mark.parametrize("args", [["--bogus", "app"], ["--venv"]])
def test_parse_exec_errors(args: List[str]) -> None:
    with pytest.raises(UsageError):
        parse_exec(args)


def test_parse_exec_help_defers_to_argparse() -> None:
    with pytest.raises(HelpRequested):
        parse_exec(["--help"])


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nosuch"],
        ["env", "--format", "xml"],
        ["init", "--bogus"],
        ["fix-permissions"],
        ["exec", "--bogus", "--", "x"],
        ["pip"],
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv: List[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (None, "sh", False)),
        (["--venv", "/v", "--identity", "--format", "json"], ("/v", "json", True)),
        (["--format", "dockerfile"], (None, "dockerfile", False)),
        (["--format", "xml"], None),
        (["--venv"], None),
        (["--help"], None),
        (["--bogus"], None),
    ],
)
def test_parse_env_by_hand_or_defer(args: List[str], expected: object) -> None:
    assert parse_env(args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["/a"], (None, ["/a"])),
        (["/a", "b c", "/"], (None, ["/a", "b c", "/"])),
        (["--group", "wheel", "/a"], ("wheel", ["/a"])),
        (["--group", "0", "/a", "/b"], ("0", ["/a", "/b"])),
        (["--group", "", "/a"], ("", ["/a"])),
        ([], None),
        (["--group", "0"], None),
        (["--group"], None),
        (["--group=0", "/a"], None),
        (["--group", "--help", "/a"], None),
        (["--", "-a"], None),
        (["/a", "--group", "0"], None),
        (["-h"], None),
        (["/a", "--help"], None),
    ],
)
def test_parse_fix_permissions_by_hand_or_defer(args: List[str], expected: object) -> None:
    """What the hand parser takes, argparse reads the same way; the rest it leaves to argparse."""
    assert parse_fix_permissions(args) == expected
    if expected is not None:
        ns = build_parser().parse_args(["fix-permissions", *args])
        assert (ns.group, ns.paths) == expected


@pytest.fixture
def fake_venv(tmp_path: Path) -> str:
    """What ``env`` needs of a venv: a directory with ``pyvenv.cfg``."""
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return str(tmp_path)


def test_env_by_hand_matches_argparse(fake_venv: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The hand parser is only a shortcut: the same output as the argparse route would give."""
    from pyenvboot.cli import _cmd_env
    from pyenvboot.parser import build_parser

    assert main(["env", "--venv", fake_venv, "--format", "json"]) == 0
    by_hand = capsys.readouterr().out
    assert _cmd_env(build_parser().parse_args(["env", "--venv", fake_venv, "--format", "json"])) == 0
    assert capsys.readouterr().out == by_hand


@pytest.mark.parametrize("argv", [["env"], ["env", "--format", "json"], ["env", "--identity"]])
def test_env_on_a_missing_venv_fails_like_exec(
    tmp_path: Path,
    argv: List[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = str(tmp_path / "none")
    assert main([*argv, "--venv", missing]) == main(["exec", "--venv", missing, "--", "true"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    expected = "error: no venv at %s (pyvenv.cfg missing); run 'pyenvboot init --venv %s'\n" % (missing, missing)
    assert err == expected * 2


def run_help(argv: List[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``pyenvboot ARGV`` prints and exits 0 with (help and version)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    from pyenvboot import __version__

    assert run_help([flag], capsys) == "pyenvboot %s\n" % __version__


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_pip_help_says_what_it_does_and_where_pips_own_help_is(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_help(["pip", flag], capsys)
    assert out.startswith("usage: pyenvboot pip [--venv DIR] PIP_ARGS...\n")
    text = " ".join(out.split())
    for words in ("umask 002", "exclusive lock", "no pip cache", "permission policy", "'pyenvboot pip help'"):
        assert words in text, out


@pytest.mark.parametrize(
    ("argv", "option", "says"),
    [
        (["env", "--help"], "--format {sh,dockerfile,json}", "dockerfile: ENV lines"),
        (["fix-permissions", "--help"], "PATH", "a tree to fix"),
    ],
)
def test_every_option_has_help(
    argv: List[str],
    option: str,
    says: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = run_help(argv, capsys)
    lines = out.splitlines()
    at = [i for i, line in enumerate(lines) if line.strip().startswith(option)]
    assert at, out
    described = " ".join(lines[at[0] : at[0] + 3])  # the help follows the option, on its line or the next
    assert says in " ".join(described.split()), out


@pytest.mark.parametrize(
    "argv",
    [
        ["init", "--no-home"],
        ["env"],
        ["env", "--format", "json"],
        ["exec", "--", "true"],
        ["exec", "--init", "--", "true"],
        ["shell"],
        ["pip", "list"],
        ["run", "--", "true"],
        ["check"],
    ],
)
@pytest.mark.parametrize("where", ["option", "environment"])
def test_a_relative_venv_is_one_error_everywhere(
    argv: List[str],
    where: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One input, one exit code and one message, whichever command is given it."""
    if where == "option":
        argv = [argv[0], "--venv", "rel/venv", *argv[1:]]
    else:
        monkeypatch.setenv("PYENVBOOT_VENV", "rel/venv")
    assert main(argv) == errors.EXIT_VENV
    err = capsys.readouterr().err
    assert err == "error: venv path 'rel/venv' is relative; use an absolute path (--venv or PYENVBOOT_VENV)\n"
