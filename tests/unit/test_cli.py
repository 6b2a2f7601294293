"""Argument parsing: the hand-written exec parser and the one-line usage errors."""

from __future__ import annotations

import pytest

from pyenvboot.cli import HelpRequested, main, parse_env, parse_exec
from pyenvboot.errors import UsageError


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
def test_parse_exec(args: list, expected: tuple) -> None:  # type: ignore[type-arg]
    assert parse_exec(args) == expected


@pytest.mark.parametrize("args", [["--bogus", "app"], ["--venv"]])
def test_parse_exec_errors(args: list) -> None:  # type: ignore[type-arg]
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
def test_usage_errors_are_one_line_and_exit_2(argv: list, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[type-arg]
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
def test_parse_env_by_hand_or_defer(args: list, expected: object) -> None:  # type: ignore[type-arg]
    assert parse_env(args) == expected


def test_env_by_hand_matches_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    """The hand parser is only a shortcut: the same output as the argparse route would give."""
    from pyenvboot.cli import _cmd_env, _Parser

    assert main(["env", "--venv", "/v", "--format", "json"]) == 0
    by_hand = capsys.readouterr().out
    assert _cmd_env(_Parser.build().parse_args(["env", "--venv", "/v", "--format", "json"])) == 0
    assert capsys.readouterr().out == by_hand
