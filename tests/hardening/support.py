"""Helpers for the hardening tests: snapshots, one-line errors, venv invariants.

The invariants here are judged independently of the code under test: they read the
file system and run the venv's own python, never pyenvboot's helpers.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

from tests.support.policy import policy_offenders

REPO = Path(__file__).resolve().parent.parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"
# The OS paths a broken permission walk would hit first; their owner and mode must never change.
SYSTEM_PATHS = ("/", "/etc", "/etc/passwd", "/etc/group", "/etc/shadow", "/usr", "/usr/local/bin", "/tmp")

Entry = Tuple[object, ...]


def pyenvboot(python: str = SYSTEM_PYTHON) -> List[str]:
    return [python, "-m", "pyenvboot"]


def check_problems(venv: Path, env: Mapping[str, str]) -> List[str]:
    """What ``pyenvboot check`` reports, run by the venv's own launcher; empty when it passes.

    Without PYTHONPATH (how the tests reach the source): check would rightly call it a leak into the venv.
    """
    clean = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    proc = run([str(venv / "bin/pyenvboot"), "check", "--venv", str(venv)], clean)
    return [] if proc.returncode == 0 else ["check: %s" % (proc.stdout + proc.stderr).strip()]


def error_line(proc: "subprocess.CompletedProcess[str]") -> str:
    """The one ``error:`` line a failing command must print, asserting there is nothing else."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and proc.stderr.endswith("\n"), "expected one stderr line, got: %r" % proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def snapshot(*roots: Path) -> Dict[str, Entry]:
    """Every entry under ``roots`` (symlinks not followed): type, mode, owner, size, times, content."""
    out: Dict[str, Entry] = {}
    for root in roots:
        if not os.path.lexists(root):
            out[str(root)] = ("missing",)
            continue
        paths = [str(root)]
        for dirpath, dirnames, filenames in os.walk(root):
            paths += [os.path.join(dirpath, n) for n in dirnames + filenames]
        for path in paths:
            st = os.lstat(path)
            extra: object = None
            if stat.S_ISLNK(st.st_mode):
                extra = os.readlink(path)
            elif stat.S_ISREG(st.st_mode) and st.st_size < 1 << 20:
                extra = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            if stat.S_ISDIR(st.st_mode):
                # A directory's times also move when a temporary entry comes and goes; what
                # it holds is compared entry by entry instead.
                out[path] = (st.st_mode, st.st_uid, st.st_gid)
            else:
                out[path] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, extra)
    return out


def system_snapshot() -> Dict[str, Tuple[int, int, int]]:
    """Owner, group and mode of the OS paths in ``SYSTEM_PATHS`` (times change under other tests)."""
    out = {}
    for path in SYSTEM_PATHS:
        st = os.lstat(path)
        out[path] = (st.st_mode, st.st_uid, st.st_gid)
    return out


def diff(before: Mapping[str, Entry], after: Mapping[str, Entry]) -> List[str]:
    """Paths added, removed or changed between two snapshots."""
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def world_writable(root: Path) -> List[str]:
    return [str(p) for p in [root, *root.rglob("*")] if not p.is_symlink() and p.lstat().st_mode & 0o002]


def site_packages(venv: Path) -> Path:
    found = list(venv.glob("lib/python3*/site-packages"))
    assert len(found) == 1, found
    return found[0]


def dist_infos(venv: Path) -> Dict[str, List[str]]:
    """Project name (normalised) -> its ``.dist-info`` directories."""
    out: Dict[str, List[str]] = {}
    for d in site_packages(venv).glob("*.dist-info"):
        name = d.name[: -len(".dist-info")].rsplit("-", 1)[0].lower().replace("_", "-").replace(".", "-")
        out.setdefault(name, []).append(d.name)
    return out


def installed_versions(venv: Path, env: Mapping[str, str], modules: Iterable[str]) -> Dict[str, str]:
    """``module.__version__`` of each module, imported by the venv's own python."""
    code = (
        "import importlib, json, sys;"
        " print(json.dumps({m: importlib.import_module(m).__version__ for m in sys.argv[1:]}))"
    )
    proc = venv_python(venv, env, "-c", code, *modules)
    assert proc.returncode == 0, proc.stderr
    import json

    result: Dict[str, str] = json.loads(proc.stdout)
    return result


def venv_python(venv: Path, env: Mapping[str, str], *args: str) -> "subprocess.CompletedProcess[str]":
    """The venv's python with umask 002, as ``pyenvboot exec`` and the shell hook run it.

    (With root's umask 022 the byte code it writes would not be group-writable.)
    """
    return subprocess.run(
        [str(venv / "bin" / "python"), *args], env=dict(env), capture_output=True, text=True, timeout=120, umask=0o002
    )


def venv_problems(venv: Path, env: Mapping[str, str], pip_check: bool = True) -> List[str]:
    """What a consistent, usable venv must not have; empty when all is well."""
    problems = []
    if not (venv / "pyvenv.cfg").is_file():
        return ["%s/pyvenv.cfg missing" % venv]
    if "include-system-site-packages = false" not in (venv / "pyvenv.cfg").read_text():
        problems.append("not isolated")
    staging = [p.name for p in venv.parent.iterdir() if "pyenvboot-staging" in p.name]
    if staging:
        problems.append("staging left: %s" % staging)
    problems += ["duplicate dist-info: %s" % v for v in dist_infos(venv).values() if len(v) > 1]
    # pip can neither uninstall nor upgrade a distribution without RECORD.
    infos = site_packages(venv).glob("*.dist-info")
    problems += ["no RECORD: %s" % d.name for d in infos if not (d / "RECORD").exists()]
    problems += ["policy: %s" % p for p in policy_offenders(venv, os.stat(venv).st_gid)[:5]]
    for record in site_packages(venv).glob("*.dist-info/RECORD"):
        for line in record.read_text().splitlines():
            path = line.rsplit(",", 2)[0]
            target = (record.parent.parent / path).resolve()
            if path and not target.exists():
                problems.append("%s lists missing %s" % (record.parent.name, path))
    if pip_check:
        proc = venv_python(venv, env, "-m", "pip", "check")
        if proc.returncode != 0:
            problems.append("pip check: %s" % (proc.stdout + proc.stderr).strip())
    return problems


def run(
    argv: Sequence[str], env: Mapping[str, str], timeout: float = 300, **kwargs: object
) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        list(argv), env=dict(env), capture_output=True, text=True, timeout=timeout, **kwargs
    )
