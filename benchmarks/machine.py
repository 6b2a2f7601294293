"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import List, Optional, Sequence

from benchmarks.prepare import REPO, SYSTEM_PYTHON, Env, pyenv_python
from benchmarks.report import Table


def _first_line(argv: Sequence[str]) -> str:
    try:
        proc = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    return lines[0].strip() if lines else "?"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _memory() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    return "?"


def _os() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "?"


def _filesystem(path: str) -> str:
    best = ("", "?")
    for line in _read("/proc/self/mounts").splitlines():
        parts = line.split()
        if len(parts) > 2 and path.startswith(parts[1]) and len(parts[1]) >= len(best[0]):
            best = (parts[1], parts[2])
    return best[1]


def load_average() -> str:
    """1, 5 and 15 minute load: other jobs on the machine show up here."""
    return " ".join(_read("/proc/loadavg").split()[:3]) or "?"


def describe(env: Env, load_before: str, extra: Optional[List[List[str]]] = None) -> Table:
    bench_venv, work = env.bench_venv, env.work
    py312 = pyenv_python("3.12")
    rows = [
        ["CPU", "%s, %d cores (`nproc`)" % (_cpu_model(), os.cpu_count() or 0)],
        ["memory", _memory()],
        ["kernel", platform.release()],
        ["OS", _os()],
        ["file system of the scratch dir", "%s (%s)" % (_filesystem(work), os.path.dirname(work))],
        ["load average at start", load_before],
        ["load average at end", load_average()],
        ["/usr/bin/python3", _first_line([SYSTEM_PYTHON, "--version"])],
        ["pyenv 3.12", "%s (%s)" % (_first_line([py312, "--version"]), py312) if py312 else "not installed"],
        [
            "pyenvboot",
            _first_line(
                [
                    SYSTEM_PYTHON,
                    "-c",
                    "import sys; sys.path.insert(0, %r); import pyenvboot; print(pyenvboot.__version__)" % REPO,
                ]
            )
            + " at "
            + _first_line(["git", "-C", REPO, "describe", "--always", "--dirty"]),
        ],
        ["pip seeded by init", _first_line([env.venv + "/bin/python", "-m", "pip", "--version"]).split(" from ")[0]],
        ["uv", _first_line([bench_venv + "/bin/uv", "--version"])],
        ["virtualenv", _first_line([bench_venv + "/bin/virtualenv", "--version"]).split(" from ")[0]],
        ["tini", _first_line(["tini", "--version"])],
        ["podman", _first_line(["podman", "--version"])],
        ["bash", _first_line(["bash", "--version"])],
        ["sh", os.path.realpath("/bin/sh")],
        ["find", _first_line(["find", "--version"])],
        ["strace", _first_line(["strace", "--version"])],
    ]
    return Table(["", ""], rows + (extra or []))
