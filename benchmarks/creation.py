"""Section 2: ``init`` (with pip) against ``python -m venv``, ``virtualenv`` and ``uv venv --seed``.

Each tool makes a venv with pip from the same base interpreter into a directory
that does not exist yet; the directory is removed after every run (untimed).
virtualenv and uv run from the benchmark's own venv with their caches warm, as
they would be on a developer's machine or a CI cache.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from typing import Callable, Dict, List, Optional

from benchmarks.harness import Case, checked, interleave, log, ratio
from benchmarks.prepare import PLAIN_PATH, REPO, SYSTEM_PYTHON, Env, pyenv_python
from benchmarks.report import Section, Table, Target

SAME_WORK_VENV = "`P -m venv`"
SAME_WORK_UV = "`uv venv --seed --python P`, then `P -m compileall -q -j0` of its pip"
UV_THEN_COMPILE = (
    '"$0" venv -q --seed --no-config --python "$1" "$2" && "$2"/bin/python -m compileall -q -j0'
    ' "$2"/lib/python3*/site-packages/pip'
)


def _remover(path: str) -> Callable[[], None]:
    return lambda: shutil.rmtree(path, ignore_errors=True)


def seeded(venv: str) -> str:
    """The distributions a fresh venv came with."""
    names = []
    for info in glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "*.dist-info")):
        names.append(os.path.basename(info)[: -len(".dist-info")].replace("-", " "))
    return ", ".join(sorted(names)) or "none"


def cases_for(env: Env, python: str, tag: str) -> List[Case]:
    root = os.path.join(env.work, "creation", tag)
    os.makedirs(root, exist_ok=True)
    plain: Dict[str, str] = {"PATH": PLAIN_PATH, "LANG": "C.UTF-8", "HOME": env.work}
    tools: Dict[str, str] = dict(plain)
    tools.update(
        {
            "UV_CACHE_DIR": os.path.join(env.cache, "bench", "uv-cache"),
            "UV_PYTHON_DOWNLOADS": "never",
            "VIRTUALENV_OVERRIDE_APP_DATA": os.path.join(env.cache, "bench", "virtualenv-app-data"),
            "PIP_CONFIG_FILE": os.devnull,
            # uv fetches the seed packages' index pages once (the checked run, online); timed runs use its cache.
            "UV_OFFLINE": "1",
        }
    )
    # uv does not read the system's CA store by default (this machine's registries need it).
    for name, default in (("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"), ("SSL_CERT_DIR", "")):
        value = os.environ.get(name) or (default if default and os.path.exists(default) else "")
        if value:
            tools[name] = value
    source = dict(plain, PYTHONPATH=REPO)
    out = []

    def add(name: str, argv: List[str], run_env: Dict[str, str], target: str) -> None:
        out.append(Case(name, argv + [target], run_env, cleanup=_remover(target)))

    def d(name: str) -> str:
        return os.path.join(root, name)

    add(
        "`pyenvboot.pyz init --python P` (zipapp)",
        [env.zipapp, "init", "--no-home", "--python", python, "--venv"],
        plain,
        d("init-zipapp"),
    )
    add(
        "`python3 -m pyenvboot init --python P` (checkout)",
        [SYSTEM_PYTHON, "-m", "pyenvboot", "init", "--no-home", "--python", python, "--venv"],
        source,
        d("init-source"),
    )
    add(SAME_WORK_VENV, [python, "-m", "venv"], plain, d("venv"))
    add(
        "`virtualenv -p P`",
        [env.tool("virtualenv"), "--no-periodic-update", "-q", "-p", python],
        tools,
        d("virtualenv"),
    )
    add(
        "`uv venv --seed --python P`",
        [env.tool("uv"), "venv", "-q", "--seed", "--no-config", "--python", python],
        tools,
        d("uv"),
    )
    # The same work as init's: a venv with pip, and pip's byte code (`python -m venv` compiles it too).
    add(
        SAME_WORK_UV,
        ["/bin/sh", "-c", UV_THEN_COMPILE, env.tool("uv"), python],
        tools,
        d("uv-compiled"),
    )
    wheel = pip_wheel_for(python)
    if wheel and shutil.which("unzip"):
        # What writing pip's files costs without Python, and what linking them costs (uv's way, from its cache).
        unpacked = d("unpacked-pip")
        checked(["unzip", "-q", wheel, "-d", unpacked])
        add(
            "reference: `unzip -q %s`" % os.path.basename(wheel),
            ["/usr/bin/unzip", "-q", wheel, "-d"],
            plain,
            d("unzip"),
        )
        add("reference: `cp -al` of that unpacked pip (hard links)", ["/bin/cp", "-al", unpacked], plain, d("cp-al"))
        # The compile that init and the uv row both do, alone: the floor of either.
        add(
            "reference: `cp -al` of that unpacked pip, then `P -m compileall -q -j0` of it",
            ["/bin/sh", "-c", '/bin/cp -al "$1" "$3" && "$2" -m compileall -q -j0 "$3"', "sh", unpacked, python],
            plain,
            d("cp-compiled"),
        )
    return out


def pip_wheel_for(python: str) -> Optional[str]:
    """The pip wheel ``init`` seeds for ``python``: its ensurepip's own, else Debian's."""
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(python)))
    for pattern in (prefix + "/lib/python3*/ensurepip/_bundled/pip-*.whl", "/usr/share/python-wheels/pip-*.whl"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[-1]
    return None


def run(env: Env, rounds: int) -> Section:
    start = time.monotonic()
    pythons = [("/usr/bin/python3", SYSTEM_PYTHON)]
    py312 = pyenv_python("3.12")
    if py312:
        pythons.append(("pyenv " + os.path.basename(os.path.dirname(os.path.dirname(py312))), py312))
    groups = [(label, cases_for(env, python, "py%d" % i)) for i, (label, python) in enumerate(pythons)]
    # One checked run each first: it must work, and it says what each tool seeded.
    seeds: Dict[str, str] = {}
    for label, cases in groups:
        for case in cases:
            checked(case.argv, env={k: v for k, v in case.env.items() if k != "UV_OFFLINE"})
            target = case.argv[-1]
            if not case.name.startswith("reference"):
                checked([target + "/bin/python", "-m", "pip", "--version"], env=case.env)
            seeds[label + case.name] = "-" if case.name.startswith("reference") else seeded(target)
            shutil.rmtree(target)
    all_cases = [c for _, cases in groups for c in cases]
    log("init: %d commands x %d rounds, interleaved" % (len(all_cases), rounds))
    interleave(all_cases, rounds, warmup=1)
    section = Section("2. Creating a venv with pip")
    section.intro = (
        "Median wall time to create a venv with pip, %d alternating rounds after one warm-up round; the target"
        " directory is new each time and removed afterwards (untimed). `init` runs with `--no-home` (the shared"
        " home is not part of the venv). virtualenv (`--no-periodic-update`) and uv use caches under the benchmark's"
        " cache dir, warm after the first round, and run offline (`UV_OFFLINE=1`: uv seeds from that cache, filled"
        " by one online run during preparation). Ratios are against the fastest of venv, virtualenv and uv, which"
        " (unlike `init` and `python -m venv`) do not byte-compile pip; the target compares `init` with the tools"
        " doing the same work: `python -m venv`, and uv followed by compiling its pip." % rounds
    )
    for label, cases in groups:
        others = [c for c in cases if "pyenvboot" not in c.name and not c.name.startswith("reference")]
        fastest = min(others, key=lambda c: c.median_ms)
        rows = [
            [c.name, "%.0f" % c.median_ms, c.spread_ms, ratio(c.median_ms, fastest.median_ms), seeds[label + c.name]]
            for c in cases
        ]
        section.tables.append(
            Table(
                ["command (P = %s)" % label, "median ms", "IQR ms", "vs fastest", "seeded"], rows, "**P = %s**" % label
            )
        )
        same = min((c for c in cases if c.name in (SAME_WORK_VENV, SAME_WORK_UV)), key=lambda c: c.median_ms)
        for c in cases[:2]:
            section.targets.append(
                Target(
                    "init (pip byte-compiled), %s: %s" % (label, c.name),
                    "< the faster of venv and uv + compileall (%s, %.0f ms)" % (same.name, same.median_ms),
                    "%.0f ms (%s)" % (c.median_ms, ratio(c.median_ms, same.median_ms)),
                    c.median_ms < same.median_ms,
                )
            )
    section.notes.append(
        "uv seeds from its cache of unpacked packages, hard-linking the files when the cache is on the same file"
        " system (here it is); `init` unpacks pip's wheel, some 500 files, on every run. The reference rows show"
        " both kinds of work done by C tools (`unzip`, `cp -al`), i.e. without a Python start or a probe, and the"
        " byte compile that `init` and uv + compileall share (of the pip `init` from the checkout seeds)."
        " Without a cache of unpacked files, `init` cannot take less than that compile plus the unzip."
    )
    section.seconds = time.monotonic() - start
    return section
