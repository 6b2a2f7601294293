"""The venv launcher's two forms: which one init picks, and the python form's #! line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import pytest

from pyenvboot.create.builder import VenvBuilder
from pyenvboot.diagnosis.interpreter import check_launcher
from pyenvboot.errors import VenvError
from pyenvboot.runtime.launcher import (
    SHEBANG_MAX,
    choose_form,
    interpreter_of,
    launcher_text,
    python_launcher_text,
    shebang_problem,
)


def test_auto_takes_sh_where_it_can_run(tmp_path: Path) -> None:
    shell = tmp_path / "sh"
    assert choose_form("auto", str(shell)) == "python"  # missing
    shell.write_text("")
    shell.chmod(0o644)
    assert choose_form("auto", str(shell)) == "python"  # not executable
    shell.chmod(0o755)
    assert choose_form("auto", str(shell)) == "sh"


@pytest.mark.parametrize("form", ["sh", "python"])
def test_an_explicit_form_is_kept(form: str) -> None:
    assert choose_form(form, "/nonexistent/sh") == form


def test_python_form_names_only_the_venvs_python() -> None:
    text = python_launcher_text("/opt/venv")
    assert text.splitlines()[0] == "#!/opt/venv/bin/python -IS"
    compile(text, "/opt/venv/bin/pyenvboot", "exec")


@pytest.mark.parametrize(
    ("venv", "problem"),
    [
        ("/opt/venv", None),
        ("/opt/my venv", "blank"),
        ("/" + "v" * (SHEBANG_MAX - len("#!//bin/python -IS")), None),
        ("/" + "v" * (SHEBANG_MAX - len("#!//bin/python -IS") + 1), "Linux reads"),
    ],
)
def test_shebang_problem(venv: str, problem: str) -> None:
    found = shebang_problem(venv)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_init_refuses_a_python_launcher_it_cannot_write() -> None:
    with pytest.raises(VenvError, match="shorter --venv"):
        VenvBuilder("/opt/" + "v" * SHEBANG_MAX, launcher="python")


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (launcher_text("/opt/venv"), "/bin/sh"),
        (python_launcher_text("/opt/venv"), "/opt/venv/bin/python"),
        ("#! /usr/bin/env python3\n", "/usr/bin/env"),
        ("import sys\n", None),
        ("#!\n", None),
    ],
)
def test_interpreter_of(tmp_path: Path, first: str, expected: str) -> None:
    path = tmp_path / "script"
    path.write_text(first)
    assert interpreter_of(str(path)) == expected


def test_interpreter_of_a_missing_file(tmp_path: Path) -> None:
    assert interpreter_of(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    ("interpreter", "reported"),
    [("/nonexistent/sh", True), (sys.executable, False), ("{venv}/bin/python", False), (None, False)],
)
def test_check_reports_a_launcher_whose_interpreter_is_missing(
    tmp_path: Path, interpreter: Optional[str], reported: bool
) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    if interpreter is not None:
        (venv / "bin/pyenvboot").write_text("#!%s\n" % interpreter.format(venv=venv))
    problems = check_launcher(str(venv))
    if not reported:
        assert problems == []
        return
    assert len(problems) == 1
    line = problems[0].line()
    assert "\n" not in line
    assert line.startswith("interpreter: %s/bin/pyenvboot runs with /nonexistent/sh, which this image lacks" % venv)
    assert "fix: pyenvboot init --venv %s --launcher python" % venv in line
