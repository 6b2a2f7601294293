"""Helpers for the check, verification and creation tests.

pyenvboot runs from the readable copy of its source without ``PYTHONPATH``: the
venv's python inherits the environment, and a ``PYTHONPATH`` would be reported by
``check`` as a leak into the venv (rightly so).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from tests.support.pipenv import isolated_environ
from tests.support.tmp import sticky_dir

RUNNER = "import sys; sys.path.insert(0, sys.argv.pop(1)); from pyenvboot.cli import main; sys.exit(main())"
PYENV = Path("/root/.pyenv/versions")
MINORS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def pyenvboot(source: Path, python: str = sys.executable) -> List[str]:
    """The command line that runs pyenvboot from ``source`` under ``python``."""
    return [python, "-c", RUNNER, str(source)]


def clean_env(**extra: str) -> Dict[str, str]:
    """No PYTHONPATH, no PIP_* from this machine, pip's config files off."""
    env = isolated_environ(PATH="/usr/local/bin:/usr/bin:/bin")
    env.update(extra)
    return env


def run(argv: List[str], env: Dict[str, str], **kwargs: object) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload, no-any-return]


def pyenv_python(minor: str) -> Optional[str]:
    """The newest pyenv interpreter for ``minor`` (3.X), or None when there is none."""
    found = sorted(
        glob.glob(str(PYENV / (minor + ".*") / "bin" / ("python" + minor))),
        key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()],
    )
    return found[-1] if found else None


def has_module(python: str, module: str) -> bool:
    return subprocess.run([python, "-I", "-c", "import " + module], capture_output=True).returncode == 0


def site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python3*/site-packages")
    return site


def problems(stdout: str, check: Optional[str] = None) -> List[str]:
    """The problem lines of a ``check`` report (without the summary), optionally of one check."""
    lines = [line for line in stdout.splitlines() if not line.startswith("pyenvboot: ")]
    return [line for line in lines if check is None or line.startswith(check + ": ")]


def build_tagged_wheel(dest: Path, name: str, version: str, tag: str, files: Dict[str, bytes]) -> Path:
    """A wheel with an arbitrary tag (e.g. ``cp311-cp311-linux_x86_64``) and the given files.

    For distributions that claim to be compiled for one CPython; the files' content
    does not matter to pip or to pyenvboot.
    """
    dist = name.replace("-", "_")
    info = "%s-%s.dist-info" % (dist, version)
    contents = dict(files)
    contents[info + "/METADATA"] = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)).encode()
    contents[info + "/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\nTag: %s\n" % tag
    ).encode()

    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = ["%s,%s,%d" % (p, digest(d), len(d)) for p, d in contents.items()] + [info + "/RECORD,,"]
    contents[info + "/RECORD"] = ("\n".join(record) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / ("%s-%s-%s.whl" % (dist, version, tag))
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in contents.items():
            zf.writestr(member, data)
    path.chmod(0o644)
    return path


def unshare_works() -> bool:
    """Can this test run commands in a private mount namespace (root, CAP_SYS_ADMIN)?"""
    if os.geteuid() != 0:
        return False
    proc = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return proc.returncode == 0


def hiding(paths: List[str], empty: Path) -> List[str]:
    """A command prefix: run in a mount namespace where each of ``paths`` is an empty directory.

    This is how a base without ensurepip wheels (Debian without python3-venv) looks to
    the code under test: the real lookup finds nothing, no test hook involved.
    """
    mounts = " && ".join("mount --bind %s %s" % (empty, p) for p in dict.fromkeys(paths) if p and os.path.isdir(p))
    return ["unshare", "-m", "sh", "-c", (mounts + " && " if mounts else "") + 'exec "$@"', "sh"]


# Fixtures shared by the modules that import them.


@pytest.fixture(name="env")
def env_fixture(shared_dir: Path) -> Dict[str, str]:
    """:func:`clean_env` with the test's own TMPDIR, sticky and world-writable like /tmp."""
    return clean_env(TMPDIR=str(sticky_dir(shared_dir / "tmp")))


@pytest.fixture(name="venv")
def venv_fixture(shared_dir: Path, system_python: str, readable_source: Path, env: Dict[str, str]) -> Iterator[Path]:
    """A fresh venv on Debian's python3 in a directory every UID can reach."""
    path = shared_dir / "venv"
    proc = run(pyenvboot(readable_source, system_python) + ["init", "--venv", str(path), "--no-home"], env)
    assert proc.returncode == 0, proc.stderr
    yield path
