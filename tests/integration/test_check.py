"""``pyenvboot check`` on real venvs: healthy passes, each kind of breakage is named with its fix.

Each broken case is made the way it happens in images (a ``.pth`` pulling in a
dist-packages directory, ``PYTHONPATH``, ``include-system-site-packages``, a pip
``--no-deps``, a removed base Python, a private home, a ``chmod``), then checked,
then repaired with the fix the report printed, and checked again.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from tests.integration._checkhelpers import (  # noqa: F401  (fixtures)
    env_fixture,
    problems,
    pyenvboot,
    run,
    site_packages,
    venv_fixture,
)
from tests.support.proc import ARBITRARY_UID, as_uid
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.integration


def init_on(source: Path, shared_dir: Path, python: Path, env: Dict[str, str]) -> Path:
    """A venv made with ``--python`` (the system python reached through another path)."""
    venv = shared_dir / "venv"
    proc = run(pyenvboot(source) + ["init", "--venv", str(venv), "--no-home", "--python", str(python)], env)
    assert proc.returncode == 0, proc.stderr
    return venv


def check(source: Path, venv: Path, env: Dict[str, str], *args: str) -> "subprocess.CompletedProcess[str]":
    return run(pyenvboot(source) + ["check", "--venv", str(venv), *args], env)


def pip(source: Path, venv: Path, env: Dict[str, str], wheelhouse: Path, *args: str) -> None:
    proc = run(
        pyenvboot(source) + ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse), *args], env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def offline(env: Dict[str, str], wheelhouse: Path) -> Dict[str, str]:
    """pip finds the test's wheels and nothing else."""
    return dict(env, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse))


def run_fix(line: str, source: Path, env: Dict[str, str]) -> None:
    """Run the command after ``fix:`` in a report line, with this test's pyenvboot (init without a home)."""
    command = line.split("; fix: ", 1)[1]
    argv = shlex.split(command)
    if argv[0] == "pyenvboot":
        argv = pyenvboot(source) + argv[1:] + (["--no-home"] if argv[1] == "init" else [])
    proc = run(argv, env)
    assert proc.returncode == 0, (command, proc.stdout, proc.stderr)


def test_fresh_venv_is_healthy(venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path) -> None:
    pip(readable_source, venv, env, wheelhouse, "needs-demo")
    req = venv.parent / "requirements.txt"
    req.write_text("needs-demo\ndemo>=2\n")
    proc = check(readable_source, venv, env, "-r", str(req))
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout == "pyenvboot: %s is healthy: Python 3.%s, 3 distribution(s), 2 requirement(s) met\n" % (
        venv,
        proc.stdout.split("Python 3.")[1].split(",")[0],
    )
    data = json.loads(check(readable_source, venv, env, "--json").stdout)
    assert data["healthy"] is True and data["problems"] == []
    assert data["checks"] == {
        "isolation": "ok",
        "consistency": "ok",
        "pins": "skipped",
        "interpreter": "ok",
        "permissions": "ok",
    }


def test_check_as_an_arbitrary_uid(venv: Path, readable_source: Path, env: Dict[str, str]) -> None:
    proc = run(as_uid(ARBITRARY_UID) + pyenvboot(readable_source) + ["check", "--venv", str(venv)], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def outside_dir(source: Path, venv: Path, wheelhouse: Path, env: Dict[str, str], *reqs: str) -> Path:
    """A dist-packages-like directory outside the venv holding ``reqs``, installed by real pip."""
    outside = venv.parent / "dist-packages"
    pip_target = ["pip", "--venv", str(venv), "install", "--no-index", "-f", str(wheelhouse), "--target", str(outside)]
    proc = run(pyenvboot(source) + pip_target + list(reqs), env)
    assert proc.returncode == 0, proc.stderr
    return outside


def test_pth_pulling_in_dist_packages_is_named_with_what_it_would_satisfy(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    outside = outside_dir(readable_source, venv, wheelhouse, env, "demo==1.0")
    pth = site_packages(venv) / "dist-packages.pth"
    pth.write_text(str(outside) + "\n")
    pth.chmod(0o664)  # as pyenvboot pip would leave it: this test is about isolation
    req = venv.parent / "requirements.txt"
    req.write_text("demo>=1\n")
    proc = check(readable_source, venv, env, "-r", str(req))
    assert proc.returncode == 1
    found = problems(proc.stdout)
    assert found == [
        "isolation: %s is on sys.path, added by %s; fix: remove %s (or its line for %s)" % (outside, pth, pth, outside),
        "isolation: demo 1.0 in %s is importable from outside the venv and would satisfy demo (wanted by %s:1), which"
        " the venv does not have; fix: remove %s (or its line for %s), then pyenvboot pip --venv %s install demo"
        % (outside, req, pth, outside, venv),
        "pins: %s:1: demo>=1 is not installed in the venv; fix: pyenvboot pip --venv %s install -r %s"
        % (req, venv, req),
    ]
    assert proc.stdout.endswith("pyenvboot: 3 problem(s) in %s\n" % venv)
    pth.unlink()  # the first fix, by hand
    run_fix(found[2], readable_source, offline(env, wheelhouse))
    assert check(readable_source, venv, env, "-r", str(req)).returncode == 0


def test_pythonpath_shadowing_a_venv_distribution(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    pip(readable_source, venv, env, wheelhouse, "demo==2.0")
    outside = outside_dir(readable_source, venv, wheelhouse, env, "demo==1.0")
    shadowed = dict(env, PYTHONPATH=str(outside))
    # What the app would get: the outside copy wins.
    imported = run([str(venv / "bin/python"), "-c", "import demo; print(demo.__version__)"], shadowed)
    assert imported.stdout.strip() == "1.0"
    proc = check(readable_source, venv, shadowed)
    assert proc.returncode == 1
    assert problems(proc.stdout) == [
        "isolation: %s is on sys.path, from PYTHONPATH=%s; fix: unset PYTHONPATH (or drop %s from it) where the app"
        " runs" % (outside, outside, outside),
        "isolation: demo 1.0 in %s shadows the venv's demo 2.0 (it comes first on sys.path); fix: unset PYTHONPATH"
        " (or drop %s from it) where the app runs" % (outside, outside),
    ]
    assert check(readable_source, venv, env).returncode == 0


def test_include_system_site_packages_is_reported_and_init_repairs_it(
    venv: Path, readable_source: Path, system_python: str, env: Dict[str, str]
) -> None:
    cfg = venv / "pyvenv.cfg"
    cfg.write_text(
        cfg.read_text().replace("include-system-site-packages = false", "include-system-site-packages = true")
    )
    proc = check(readable_source, venv, env)
    assert proc.returncode == 1
    found = problems(proc.stdout, "isolation")
    assert found[0].startswith("isolation: pyvenv.cfg has include-system-site-packages = true")
    if os.path.isdir("/usr/lib/python3/dist-packages"):  # Debian's python3-* packages live there
        assert any(
            line.startswith("isolation: /usr/lib/python3/dist-packages is on sys.path, the base Python's site-packages")
            for line in found
        )
    assert found[0].endswith("; fix: pyenvboot init --venv %s" % venv)
    run_fix(found[0], readable_source, env)
    assert check(readable_source, venv, env).returncode == 0


def test_consistency_names_the_broken_pair_and_its_fix(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    pip(readable_source, venv, env, wheelhouse, "demo==1.0")
    pip(readable_source, venv, env, wheelhouse, "--no-deps", "needs-demo")
    proc = check(readable_source, venv, env)
    assert proc.returncode == 1
    (line,) = problems(proc.stdout)
    assert line == (
        "consistency: needs-demo 1.0 needs demo>=2, but demo 1.0 is installed; fix: pyenvboot pip --venv %s install"
        " 'demo>=2'" % venv
    )
    assert (
        run(pyenvboot(readable_source) + ["pip", "--venv", str(venv), "uninstall", "-y", "demo"], env).returncode == 0
    )
    (line,) = problems(check(readable_source, venv, env).stdout)
    assert line.startswith("consistency: needs-demo 1.0 needs demo>=2, which is not installed; fix: ")
    run_fix(line, readable_source, offline(env, wheelhouse))
    assert check(readable_source, venv, env).returncode == 0


def test_pins_with_extras_markers_includes_and_constraints(
    venv: Path, shared_dir: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    more = build_wheel(shared_dir / "wheels", "feature", "1.0", requires=['extra>=1 ; extra == "more"']).parent
    pip(readable_source, venv, env, wheelhouse, "-f", str(more), "feature", "demo==2.0")
    (shared_dir / "reqs" / "base").mkdir(parents=True)
    (shared_dir / "reqs" / "base" / "common.txt").write_text("demo\n-c ../limits.txt\n")
    (shared_dir / "reqs" / "limits.txt").write_text("demo<2\n")
    req = shared_dir / "reqs" / "requirements.txt"
    req.write_text(
        "-r base/common.txt\nfeature[more]\nneeds-demo ; python_version >= '3'\nabsent ; python_version < '3'\n"
    )
    proc = check(readable_source, venv, env, "-r", str(req))
    assert proc.returncode == 1
    limits = shared_dir / "reqs" / "limits.txt"
    assert problems(proc.stdout) == [
        "consistency: feature[more] 1.0 needs extra>=1, which is not installed; fix: pyenvboot pip --venv %s install"
        " 'extra>=1'" % venv,
        "pins: %s:1: constraint demo<2 is not met: demo 2.0 is installed; fix: pyenvboot pip --venv %s install"
        " 'demo<2'" % (limits, venv),
        "pins: %s:3: needs-demo is not installed in the venv; fix: pyenvboot pip --venv %s install -r %s"
        % (req, venv, req),
    ]


def test_interpreter_removed_base_is_reported_and_the_rest_is_skipped(
    shared_dir: Path, readable_source: Path, system_python: str, env: Dict[str, str]
) -> None:
    base_root = shared_dir / "base"
    base_root.symlink_to("/usr")  # the base Python as a directory that can go away
    venv = init_on(readable_source, shared_dir, base_root / "bin/python3", env)
    assert check(readable_source, venv, env).returncode == 0
    base_root.unlink()
    proc = check(readable_source, venv, env)
    assert proc.returncode == 1
    assert problems(proc.stdout) == [
        "interpreter: %s/bin/python -> %s/bin/python3 does not exist: the base Python was removed, moved or upgraded;"
        " init with a new base keeps what is installed where it still fits; fix: pyenvboot init --venv %s --python"
        " NEW_PYTHON" % (venv, base_root, venv),
        "consistency: not checked: the venv's python does not start",
    ]
    data = json.loads(check(readable_source, venv, env, "--json").stdout)
    assert data["checks"]["interpreter"] == "problems" and data["checks"]["consistency"] == "skipped"


@pytest.mark.parametrize("change", ["patch", "minor"])
def test_interpreter_version_must_match_pyvenv_cfg(
    venv: Path, readable_source: Path, env: Dict[str, str], change: str
) -> None:
    cfg = venv / "pyvenv.cfg"
    (actual,) = [line.split("= ")[1] for line in cfg.read_text().splitlines() if line.startswith("version =")]
    major, minor, patch = (int(x) for x in actual.split("."))
    if change == "patch":
        recorded = "%d.%d.%d" % (major, minor, patch + 1)
        expected = "interpreter: pyvenv.cfg says Python %s but the base is now %s; fix: pyenvboot init --venv %s" % (
            recorded,
            actual,
            venv,
        )
    else:
        recorded = "%d.%d.4" % (major, minor - 1)
        expected = (
            "interpreter: pyvenv.cfg says Python %s but %s/bin/python is Python %s: what is installed for %d.%d is"
            " not seen; init moves pure-Python packages to %d.%d and lists the compiled ones to reinstall; fix:"
            " pyenvboot init --venv %s" % (recorded, venv, actual, major, minor - 1, major, minor, venv)
        )
    cfg.write_text(cfg.read_text().replace("version = " + actual, "version = " + recorded))
    proc = check(readable_source, venv, env)
    assert proc.returncode == 1
    assert problems(proc.stdout) == [expected]


def test_base_inside_a_private_directory_is_out_of_reach(
    shared_dir: Path, readable_source: Path, system_python: str, env: Dict[str, str]
) -> None:
    private = shared_dir / "private"
    private.mkdir(mode=0o700)
    (private / "usr").symlink_to("/usr")  # as a pyenv install in root's 0700 home
    venv = init_on(readable_source, shared_dir, private / "usr/bin/python3", env)
    proc = check(readable_source, venv, env)
    assert proc.returncode == 1
    (line,) = problems(proc.stdout)
    assert line.startswith(
        "interpreter: the base Python %s/usr/bin/python3 is out of reach for other UIDs in group 0: %s is drwx------"
        " root:root (no search (x) permission for group 0 or others); fix: install the base Python where every UID"
        % (private, private)
    )
    assert line.endswith("or chmod g+x %s" % private)
    as_user = as_uid(ARBITRARY_UID) + ["sh", "-c", '"$0" -c "print(42)"', str(venv / "bin/python")]
    assert run(as_user, env).returncode == 126  # what check predicted: the UID cannot start the venv's python
    private.chmod(0o710)  # the second remedy the line names
    assert check(readable_source, venv, env).returncode == 0
    assert run(as_user, env).stdout == "42\n"


def test_permissions_offenders_are_counted_and_the_first_few_shown(
    venv: Path, readable_source: Path, env: Dict[str, str]
) -> None:
    site = site_packages(venv)
    spoiled = sorted(site.glob("pip/_internal/*.py"))[:8]
    for path in spoiled:
        path.chmod(0o644)  # group write lost, as after a 'COPY' or 'chmod -R go-w'
    (venv / "pyvenv.cfg").chmod(0o666)  # world-writable
    proc = check(readable_source, venv, env)
    assert proc.returncode == 1
    (line,) = problems(proc.stdout)
    assert line.startswith("permissions: 9 entries break the policy for group 0 (")
    assert " and 4 more; fix: pyenvboot fix-permissions --group 0 %s" % venv in line
    assert len(line.split(": ", 2)[2].split(", ")) >= 5
    run_fix(line, readable_source, env)
    assert check(readable_source, venv, env).returncode == 0


def test_missing_venv_and_unreadable_requirements_are_one_line_errors(
    venv: Path, shared_dir: Path, readable_source: Path, env: Dict[str, str]
) -> None:
    proc = check(readable_source, shared_dir / "nothing", env)
    assert proc.returncode == 3
    assert proc.stderr == "error: no venv at %s (pyvenv.cfg missing); run 'pyenvboot init --venv %s'\n" % (
        shared_dir / "nothing",
        shared_dir / "nothing",
    )
    proc = check(readable_source, venv, env, "-r", str(shared_dir / "missing.txt"))
    assert proc.returncode == 2
    assert proc.stderr == "error: cannot read requirements file %s: No such file or directory\n" % (
        shared_dir / "missing.txt"
    )
    bad = shared_dir / "bad.txt"
    bad.write_text("ok\nthis is not valid!\n")
    proc = check(readable_source, venv, env, "-r", str(bad))
    assert proc.returncode == 2 and proc.stderr.startswith("error: %s:2: invalid requirement" % bad)
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""


# -- check speaks to the one who runs it ------------------------------------------------------


def check_as(
    argv_prefix: List[str], source: Path, python: str, venv: Path, env: Dict[str, str]
) -> "subprocess.CompletedProcess[str]":
    return run(argv_prefix + pyenvboot(source, python) + ["check", "--venv", str(venv)], {**env, "HOME": "/"})


def test_a_uid_outside_the_group_is_told_it_can_run_but_not_install(
    venv: Path, readable_source: Path, system_python: str, env: Dict[str, str], wheelhouse: Path
) -> None:
    """``--user 1000:1000`` or ``runAsGroup: 1000``: pip fails with a bare "Check the permissions"."""
    outsider = ["setpriv", "--reuid=%d" % ARBITRARY_UID, "--regid=1000", "--clear-groups"]
    pip = [str(venv / "bin/pip"), "install", "--no-index", "-f", str(wheelhouse), "demo"]
    assert run(outsider + pip, {**env, "HOME": "/"}).returncode != 0
    proc = check_as(outsider, readable_source, system_python, venv, env)
    assert proc.returncode == 1
    assert problems(proc.stdout) == [
        "permissions: uid %d is not in group 0 (its groups: 1000): it can run %s but not install into it; fix: start"
        " the container with group 0 as well: docker or podman run --group-add 0 (or --user %d:0); Kubernetes:"
        " securityContext runAsGroup: 0, or supplementalGroups: [0]" % (ARBITRARY_UID, venv, ARBITRARY_UID)
    ]
    group_added = ["setpriv", "--reuid=%d" % ARBITRARY_UID, "--regid=1000", "--groups=0"]  # --group-add 0
    assert check_as(group_added, readable_source, system_python, venv, env).returncode == 0
    proc = run(group_added + pip, {**env, "HOME": "/"})
    assert proc.returncode == 0, proc.stderr


def test_entries_of_another_uid_are_for_root_to_fix(
    venv: Path, readable_source: Path, system_python: str, env: Dict[str, str]
) -> None:
    """uv's ``.lock`` made by one UID, ``check`` run by another: the fix it prints must be one it can run."""
    other = ARBITRARY_UID + 1
    theirs = venv / ".lock"
    theirs.write_text("")
    os.chown(theirs, other, 0)
    theirs.chmod(0o644)
    mine = site_packages(venv) / "mine.pth"
    mine.write_text("")
    os.chown(mine, ARBITRARY_UID, 0)
    mine.chmod(0o644)
    caller = as_uid(ARBITRARY_UID)
    proc = check_as(caller, readable_source, system_python, venv, env)
    assert proc.returncode == 1
    fix = "pyenvboot fix-permissions --group 0 %s" % venv
    own, foreign = problems(proc.stdout, "permissions")
    assert own.startswith("permissions: 1 entry breaks the policy for group 0 (")
    assert own.endswith(": %s; fix: %s" % (mine, fix))
    assert foreign.startswith("permissions: 1 entry owned by uid %d breaks the policy for group 0 (" % other)
    assert foreign.endswith(
        ": %s; fix: only root can change this: add 'RUN %s' to the Dockerfile after the step that wrote it, or run"
        " it as root (docker exec -u 0 CONTAINER %s)" % (theirs, fix, fix)
    )
    # The caller runs its fix: its own entry is fixed; the other's is skipped, and said so.
    proc = run(caller + pyenvboot(readable_source, system_python) + shlex.split(fix)[1:], {**env, "HOME": "/"})
    assert proc.stderr == "pyenvboot: skipped %s: Operation not permitted\n" % theirs
    (line,) = problems(check_as(caller, readable_source, system_python, venv, env).stdout)
    assert line == foreign
    proc = check(readable_source, venv, env)  # root: one line, the plain fix
    (line,) = problems(proc.stdout)
    assert line.endswith("; fix: " + fix)
    run_fix(line, readable_source, env)
    assert check_as(caller, readable_source, system_python, venv, env).returncode == 0


def test_what_an_interrupted_install_left_is_reported_and_the_fixes_work(
    venv: Path, readable_source: Path, env: Dict[str, str], wheelhouse: Path
) -> None:
    pip(readable_source, venv, env, wheelhouse, "demo==1.0")
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "demo-1.0.dist-info/RECORD").unlink()
    (site / "~emo").mkdir(mode=0o775)  # pip's stash of a distribution it was replacing
    (site / "~emo").chmod(0o2775)  # as the policy has it: only the leftover itself is the problem
    proc = check(readable_source, venv, env)
    assert proc.returncode == 1
    record, stash = problems(proc.stdout)
    assert record.startswith("consistency: %s has no RECORD (an interrupted install): " % (site / "demo-1.0.dist-info"))
    assert stash.startswith("consistency: %s holds ~emo, left by an interrupted pip; fix: " % site)
    removal, install = record.split("; fix: ", 1)[1].split(", then ")
    assert run(shlex.split(removal), env).returncode == 0
    run_fix("x; fix: " + install, readable_source, offline(env, wheelhouse))
    run_fix(stash.split(" (every", 1)[0], readable_source, env)
    assert check(readable_source, venv, env).returncode == 0
    pip(readable_source, venv, env, wheelhouse, "demo==2.0")  # pip can upgrade it again
