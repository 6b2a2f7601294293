"""``pyenvboot pip install`` fails the build when a requirement is met only outside the venv.

The scenario of the issue: pip prints "Requirement already satisfied" for a copy
of a package outside the venv (here a dist-packages directory pulled in by a
``.pth`` file, as an OS-packaged module would be) and installs nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from tests.integration._checkhelpers import (  # noqa: F401  (fixtures)
    env_fixture,
    has_module,
    pyenvboot,
    run,
    site_packages,
    venv_fixture,
)
from tests.support.ci import missing

pytestmark = pytest.mark.integration


def pip(
    source: Path, venv: Path, env: Dict[str, str], wheelhouse: Path, *args: str, python: str = ""
) -> "subprocess.CompletedProcess[str]":
    command = pyenvboot(source, python) if python else pyenvboot(source)
    return run(command + ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse), *args], env)


def leak(source: Path, venv: Path, env: Dict[str, str], wheelhouse: Path, reqs: List[str]) -> Path:
    """Put ``reqs`` in a directory outside the venv and make the venv see it through a .pth file."""
    outside = venv.parent / "dist-packages"
    proc = pip(source, venv, env, wheelhouse, "--target", str(outside), *reqs)
    assert proc.returncode == 0, proc.stderr  # --target installs outside the venv: nothing to verify there
    (site_packages(venv) / "os-packages.pth").write_text(str(outside) + "\n")
    return outside


def test_requirements_met_inside_the_venv_pass_silently(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    req = venv.parent / "requirements.txt"
    req.write_text("needs-demo\n")
    proc = pip(readable_source, venv, env, wheelhouse, "-r", str(req), "extra==1.0")
    assert proc.returncode == 0, proc.stderr
    assert "error:" not in proc.stderr


def test_already_satisfied_outside_the_venv_fails_the_build(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    outside = leak(readable_source, venv, env, wheelhouse, ["demo==1.0"])
    proc = pip(readable_source, venv, env, wheelhouse, "demo")
    assert "Requirement already satisfied: demo in %s" % outside in proc.stdout  # what pip says
    assert proc.returncode == 9
    assert proc.stderr == (
        "error: after pip install, in %s: the command line: demo is not installed in the venv (demo 1.0 in %s is"
        " outside the venv: pip counted it; run 'pyenvboot check')\n" % (venv, outside)
    )


def test_one_line_per_unmet_requirement_of_a_requirements_file(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    leak(readable_source, venv, env, wheelhouse, ["demo==1.0", "extra==1.0"])
    req = venv.parent / "requirements.txt"
    req.write_text("demo\n# a comment\nextra>=1\n")
    proc = pip(readable_source, venv, env, wheelhouse, "-r", str(req))
    assert proc.returncode == 9
    lines = proc.stderr.splitlines()
    assert [line.split(": ", 3)[2] for line in lines] == ["%s:1" % req, "%s:3" % req]
    assert all(line.startswith("error: after pip install, in %s: " % venv) for line in lines)


def test_a_dependency_satisfied_outside_the_venv_is_named(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    outside = leak(readable_source, venv, env, wheelhouse, ["demo==2.0"])
    proc = pip(readable_source, venv, env, wheelhouse, "needs-demo")
    assert proc.returncode == 9
    assert proc.stderr == (
        "error: after pip install, in %s: needs-demo 1.0 needs demo>=2, which is not installed (demo 2.0 in %s is"
        " outside the venv: pip counted it; run 'pyenvboot check')\n" % (venv, outside)
    )
    # --no-deps asks pip not to install dependencies: only what was named is verified.
    proc = pip(readable_source, venv, env, wheelhouse, "--no-deps", "needs-demo")
    assert proc.returncode == 0, proc.stderr


def test_verification_works_without_packaging_through_pips_copy(
    venv: Path, readable_source: Path, system_python: str, env: Dict[str, str], wheelhouse: Path
) -> None:
    if has_module(system_python, "packaging"):
        missing("%s without packaging, to need pip's copy (Debian: apt-get remove python3-packaging)" % system_python)
    leak(readable_source, venv, env, wheelhouse, ["demo==1.0"])
    proc = pip(readable_source, venv, env, wheelhouse, "demo", python=system_python)
    assert proc.returncode == 9
    assert proc.stderr.startswith("error: after pip install, in %s: the command line: demo is not installed" % venv)


def test_other_pip_commands_are_not_verified(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    leak(readable_source, venv, env, wheelhouse, ["demo==1.0"])
    assert run(pyenvboot(readable_source) + ["pip", "--venv", str(venv), "list"], env).returncode == 0
    proc = pip(readable_source, venv, env, wheelhouse, "--dry-run", "demo")
    assert proc.returncode == 0, proc.stderr


def test_a_pth_file_written_while_the_probe_ran_is_seen(venv: Path, env: Dict[str, str], tmp_path: Path) -> None:
    """The venv's python is asked while pip runs; a .pth that pip writes meanwhile makes it ask again."""
    from pyenvboot.packages.verify import PipInstall, Verification

    check = Verification(str(venv), PipInstall(specs=["demo"]), env)
    check.start()
    assert check.probe is not None
    check.probe.wait()  # its answer is in: it predates the .pth
    outside = tmp_path / "os-packages"
    outside.mkdir()
    (site_packages(venv) / "os-packages.pth").write_text(str(outside) + "\n")
    facts, error = check.facts()
    assert facts is not None, error
    assert str(outside) in facts.path


BORROW_WHILE_PIP_RUNS = """
import os, sys
sys.path.insert(0, sys.argv[1])
from pyenvboot.packages.verify import PipInstall, Verification

vendored, pip_does = sys.argv[3], sys.argv[4]


def rewrite(name, text):  # what pip's install_wheel does to a file it installs again: unlink, then write
    path = os.path.join(vendored, name)
    os.unlink(path)
    with open(path, "w") as f:
        f.write(text)


def read(name):
    with open(os.path.join(vendored, name)) as f:
        return f.read()


specifiers, version = read("specifiers.py"), read("version.py")
if pip_does == "move-then-replace":  # a module pip has moved away while it was borrowed
    rewrite("specifiers.py", "raise ImportError('moved away')\\n")
check = Verification(sys.argv[2], PipInstall(specs=["demo==1.0"]), dict(os.environ))
check.start()  # as pyenvboot pip does once pip has started
borrowed = sys.modules.get("packaging.version")
print(borrowed.__name__ if borrowed else "-", "pip._vendor.packaging.version" in sys.modules)
if pip_does != "nothing":
    rewrite("version.py", version + "\\nREPLACED = True\\n")
    rewrite("specifiers.py", specifiers)
print(check.finish(0))
print(sys.modules["packaging.version"] is borrowed, getattr(sys.modules["packaging.version"], "REPLACED", False))
"""


@pytest.mark.parametrize("pip_does", ["nothing", "replace", "move-then-replace"])
def test_pips_copy_of_packaging_is_borrowed_while_pip_runs_and_dropped_if_pip_replaces_it(
    venv: Path, readable_source: Path, system_python: str, env: Dict[str, str], wheelhouse: Path, pip_does: str
) -> None:
    if has_module(system_python, "packaging"):
        missing("%s without packaging, to need pip's copy (Debian: apt-get remove python3-packaging)" % system_python)
    assert pip(readable_source, venv, env, wheelhouse, "demo==1.0").returncode == 0
    vendored = site_packages(venv) / "pip" / "_vendor" / "packaging"
    script = venv.parent / "borrow.py"
    script.write_text(BORROW_WHILE_PIP_RUNS)
    argv = [system_python, "-I", "-S", str(script), str(readable_source), str(venv), str(vendored), pip_does]
    proc = run(argv, env)
    assert proc.returncode == 0, proc.stderr
    borrowed, code, after = proc.stdout.splitlines()
    assert code == "0"  # verified
    if pip_does == "nothing":
        assert (borrowed, after) == ("pip._vendor.packaging.version True", "True False")  # borrowed while pip ran
    elif pip_does == "replace":
        # Borrowed while pip ran; pip replaced it: the verification borrowed pip's new copy.
        assert (borrowed, after) == ("pip._vendor.packaging.version True", "False True")
    else:
        # The borrowing failed half-way, and nothing of it stayed to be mixed with pip's new copy.
        assert (borrowed, after) == ("- False", "False True")
