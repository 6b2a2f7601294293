"""Wheels fetched from the package index once, then served from a cache.

Set-up may reach PyPI; later runs must not: every fetch first tries the cache
alone (``pip download --no-index --find-links``) and goes online only when that
fails. The cache lives in ``${PYENVBOOT_CACHE:-~/.cache/pyenvboot}/wheels``, one
directory per purpose, next to the base image tarballs of ``container-setup``.

Used by the container tier's fixtures and by ``scripts/demo``.
"""

from __future__ import annotations

import fcntl
import importlib.machinery
import importlib.util
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from tests.support.pipenv import isolated_environ

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
BUILD_ZIPAPP = REPO_ROOT / "scripts" / "build-zipapp"


class WheelCacheError(Exception):
    """A wheel is neither cached nor downloadable; the message says what to do."""


def cache_dir() -> Path:
    """The cache shared with ``scripts/container-setup`` (same variables, same default)."""
    explicit = os.environ.get("PYENVBOOT_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "pyenvboot"


def wheel_dir(purpose: str) -> Path:
    return cache_dir() / "wheels" / purpose


def _pip_download(dest: Path, args: Sequence[str], offline: bool) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--dest", str(dest), "--progress-bar", "off"]
    if offline:
        cmd += ["--no-index", "--find-links", str(dest)]
    return subprocess.run(
        [*cmd, *args], env=isolated_environ(), capture_output=True, text=True, timeout=600, check=False
    )


def fetch(purpose: str, args: Sequence[str]) -> Path:
    """Make ``pip download ARGS`` satisfiable from the cache directory ``purpose``; return it.

    ``args`` are pip's (requirements and options such as ``--only-binary=:all:``).
    A lock keeps concurrent sessions from writing the same files.
    """
    dest = wheel_dir(purpose)
    dest.mkdir(parents=True, exist_ok=True)
    with (dest.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _pip_download(dest, args, offline=True).returncode == 0:
            return dest
        online = _pip_download(dest, args, offline=False)
    if online.returncode != 0:
        tail = "\n".join((online.stdout + online.stderr).strip().splitlines()[-8:])
        raise WheelCacheError(
            f"cannot download {' '.join(args)} into {dest} (no network to the package index?); "
            f"run once with network access, later runs use the cache\n{tail}"
        )
    return dest


def build_zipapp_module() -> ModuleType:
    """``scripts/build-zipapp`` loaded as a module, for its wheel cache."""
    loader = importlib.machinery.SourceFileLoader("pyenvboot_build_zipapp", str(BUILD_ZIPAPP))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def zipapp_wheels() -> Path:
    """A directory for ``scripts/build-zipapp --wheel-dir``: the script's own wheel cache, filled.

    The script fetches from the index only what its cache lacks, so this is offline once filled.
    """
    module = build_zipapp_module()
    dest = wheel_dir("build-zipapp")
    try:
        module.fetch_wheels(dest)
    except module.BuildError as exc:
        raise WheelCacheError(str(exc)) from None
    return dest


def binary_wheels(purpose: str, requirements: Sequence[str], python_version: str) -> Path:
    """``requirements`` and their dependencies as wheels for CPython ``python_version`` on Linux.

    For the interpreter inside an image, not the one running this: e.g. ``3.11``
    gives ``cp311`` manylinux wheels for this machine's architecture.
    """
    abi = "cp" + python_version.replace(".", "")
    return fetch(
        f"{purpose}-{abi}-{platform.machine()}",
        [
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "--abi",
            abi,
            "--platform",
            f"manylinux2014_{platform.machine()}",
            *requirements,
        ],
    )
