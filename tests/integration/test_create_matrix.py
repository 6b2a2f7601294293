"""Create, use and check venvs on every supported base: pyenv's 3.8 to 3.13 and Debian's python3.

pyenvboot itself runs on each base (``init`` and ``pip``, the latter verifying
through the venv's pip's copy of packaging when the base has none); ``check``
runs on the test interpreter, another Python version than most of the venvs.
Debian 12's and 13's system pythons inside containers are the container tier's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from tests.integration._checkhelpers import MINORS, env_fixture, problems, pyenv_python, pyenvboot, run  # noqa: F401
from tests.support.ci import missing

pytestmark = pytest.mark.integration

BASES = [pytest.param("pyenv", m, id="pyenv-" + m) for m in MINORS] + [pytest.param("system", "", id="debian-python3")]


def base_python(kind: str, minor: str, system_python: str) -> str:
    if kind == "system":
        return system_python
    python = pyenv_python(minor)
    if python is None:
        missing("no pyenv Python %s on this machine (pyenv install %s)" % (minor, minor))
    return python


@pytest.mark.parametrize(("kind", "minor"), BASES)
def test_create_use_and_check(
    kind: str,
    minor: str,
    system_python: str,
    shared_dir: Path,
    readable_source: Path,
    env: Dict[str, str],
    wheelhouse: Path,
) -> None:
    python = base_python(kind, minor, system_python)
    venv = shared_dir / "venv"
    on_base = pyenvboot(readable_source, python)

    proc = run(on_base + ["init", "--venv", str(venv), "--no-home"], env)
    assert proc.returncode == 0, proc.stderr
    version = run([str(venv / "bin/python"), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], env)
    assert version.returncode == 0, version.stderr
    if minor:
        assert version.stdout.strip() == minor
    assert (venv / "bin" / ("python" + version.stdout.strip())).exists()

    # Real pip, seeded without running pip, installs a dependency chain; pyenvboot verifies it.
    proc = run(
        on_base + ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse), "needs-demo"], env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    used = run([str(venv / "bin/python"), "-c", "import demo, needs_demo; print(demo.__version__)"], env)
    assert used.stdout.strip() == "2.0", used.stderr

    req = shared_dir / "requirements.txt"
    req.write_text("needs-demo\ndemo>=2\n")
    proc = run(pyenvboot(readable_source) + ["check", "--venv", str(venv), "-r", str(req)], env)
    found: List[str] = problems(proc.stdout)
    if kind == "pyenv" and python.startswith("/root/"):
        # pyenv lives in root's 0700 home: the one thing wrong, and check says so.
        assert proc.returncode == 1
        assert [line.split(" is out of reach")[0] for line in found] == ["interpreter: the base Python " + python]
        assert "/root is drwx------" in found[0]
    else:
        assert proc.returncode == 0, proc.stdout
        assert found == []
