"""Set-up shared by the sections: the benchmark's own venv, caches, and the venvs under test.

Slow, network-bound things (the bench venv with uv and virtualenv, a venv with
numpy, pandas and django, wheels for the local index) are cached under
``${PYENVBOOT_CACHE:-~/.cache/pyenvboot}`` and rebuilt only when their recipe
changes. Everything that depends on the code under test (the venv made by
``init``, the zipapp, the console script) is made fresh in a scratch directory on
every run.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

from benchmarks.harness import checked, log

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEM_PYTHON = "/usr/bin/python3"
PYENV_VERSIONS = os.path.expanduser("~/.pyenv/versions")
PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REQUIREMENTS = os.path.join(REPO, "benchmarks", "requirements.txt")
# The big venv for fix-permissions (at least 15,000 entries of real packages; the
# first three alone make about 14,100).
PERM_PACKAGES = ["numpy", "pandas", "django", "sympy"]
# What the derived images install from the local index, with their dependencies.
INDEX_PACKAGES = ["requests", "jinja2"]
# What this run had to build because the cache did not have it (the report says whether the run was cold).
BUILT: List[str] = []


def cache_dir() -> str:
    """The same cache as scripts/container-setup and scripts/test."""
    explicit = os.environ.get("PYENVBOOT_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "pyenvboot")


def isolated_pip_env(home: str) -> Dict[str, str]:
    """An environment in which pip ignores this machine's global config (see the test suite)."""
    return {
        "PATH": PLAIN_PATH,
        "HOME": home,
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }


def pyenv_python(minor: str) -> Optional[str]:
    """The newest pyenv build of ``minor`` (e.g. "3.12"), if there is one."""
    found = sorted(
        glob.glob(os.path.join(PYENV_VERSIONS, minor + ".*", "bin", "python")),
        key=lambda p: [int(x) for x in p.split("/")[-3].split(".") if x.isdigit()],
    )
    return found[-1] if found else None


def _stamp(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@dataclass
class Env:
    """Paths every section uses."""

    cache: str
    work: str  # scratch, readable by every UID (the nameless-UID runs need it)
    bench_venv: str
    venv: str  # made by ``init`` from the code under test
    home: str  # the shared home ``init --home`` made for UIDs without one
    console_venv: str  # ``pip install .`` of the code under test
    zipapp: str
    context: str  # podman build context: Dockerfile.example and dist/pyenvboot.pyz
    index_wheels: str
    pip_env: Dict[str, str]
    tmp: str  # every run's TMPDIR, sticky as a container's /tmp: its started markers go with the scratch dir

    @property
    def bench_python(self) -> str:
        return os.path.join(self.bench_venv, "bin", "python")

    def tool(self, name: str) -> str:
        return os.path.join(self.bench_venv, "bin", name)

    def image_env(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """The environment a container of the example image has: the ENV lines of ``init``."""
        venv = self.venv
        hook = venv + "/share/pyenvboot/hook.sh"
        env = {
            "PATH": venv + "/bin:" + PLAIN_PATH,
            "LANG": "C.UTF-8",
            "PYENVBOOT_VENV": venv,
            "PYENVBOOT_HOME": self.home,
            "VIRTUAL_ENV": venv,
            "PYTHONNOUSERSITE": "1",
            "BASH_ENV": hook,
            "ENV": hook,
            "PROMPT_COMMAND": ". '%s'" % hook,
            "TMPDIR": self.tmp,
        }
        env.update(extra or {})
        return env


def ensure_bench_venv(cache: str) -> str:
    """``CACHE/bench-venv``: uv, virtualenv, setuptools and wheel, reinstalled when requirements.txt changes."""
    venv = os.path.join(cache, "bench-venv")
    with open(REQUIREMENTS, "rb") as f:
        stamp = os.path.join(venv, ".requirements-" + hashlib.sha256(f.read()).hexdigest()[:16])
    if os.path.exists(stamp):
        return venv
    log("creating the benchmark venv %s" % venv)
    BUILT.append("the benchmark venv")
    shutil.rmtree(venv, ignore_errors=True)
    os.makedirs(cache, exist_ok=True)
    checked([SYSTEM_PYTHON, "-m", "venv", venv])
    checked([venv + "/bin/python", "-m", "pip", "install", "-q", "-r", REQUIREMENTS], env=isolated_pip_env(cache))
    open(stamp, "w").close()
    return venv


def ensure_index_wheels(cache: str, bench_venv: str) -> str:
    """Real wheels (and their dependencies) for the local index, downloaded once."""
    key = _stamp(*INDEX_PACKAGES)
    directory = os.path.join(cache, "bench", "index-wheels-" + key)
    if os.path.isdir(directory) and os.path.exists(os.path.join(directory, ".complete")):
        return directory
    log("downloading %s and dependencies for the local index" % " ".join(INDEX_PACKAGES))
    BUILT.append("the index wheels")
    shutil.rmtree(directory, ignore_errors=True)
    checked(
        [bench_venv + "/bin/python", "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", directory]
        + INDEX_PACKAGES,
        env=isolated_pip_env(cache),
    )
    open(os.path.join(directory, ".complete"), "w").close()
    return directory


def ensure_perm_venv(cache: str) -> str:
    """A venv made by ``init`` with numpy, pandas and django installed by ``pyenvboot pip``."""
    key = _stamp(SYSTEM_PYTHON, *PERM_PACKAGES)
    venv = os.path.join(cache, "bench", "perm-venv-" + key)
    done = venv + ".complete"
    if os.path.isdir(venv) and os.path.exists(done):
        return venv
    log("creating %s with %s (network)" % (venv, " ".join(PERM_PACKAGES)))
    BUILT.append("the %s venv" % "/".join(PERM_PACKAGES))
    shutil.rmtree(venv, ignore_errors=True)
    env = isolated_pip_env(cache)
    env["PYTHONPATH"] = REPO
    checked([SYSTEM_PYTHON, "-m", "pyenvboot", "init", "--venv", venv, "--no-home"], env=env)
    del env["PYTHONPATH"]
    checked([venv + "/bin/pyenvboot", "pip", "install", "-q"] + PERM_PACKAGES, env=env)
    open(done, "w").close()
    return venv


def build_zipapp(bench_venv: str, output: str, cache: str) -> None:
    """The zipapp exactly as scripts/build-zipapp makes it (it downloads packaging)."""
    env = isolated_pip_env(cache)
    checked([bench_venv + "/bin/python", os.path.join(REPO, "scripts", "build-zipapp"), "--output", output], env=env)


def make_console_venv(bench_venv: str, work: str, cache: str) -> str:
    """``pip install .`` of the code under test into its own venv: the console script."""
    src = os.path.join(work, "src")
    os.makedirs(src)
    for name in ("setup.py", "README.md"):
        if os.path.exists(os.path.join(REPO, name)):
            shutil.copy(os.path.join(REPO, name), src)
    shutil.copytree(
        os.path.join(REPO, "pyenvboot"), os.path.join(src, "pyenvboot"), ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = os.path.join(work, "wheel")
    env = isolated_pip_env(cache)
    python = bench_venv + "/bin/python"
    checked([python, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", "-w", wheels, src], env=env)
    venv = os.path.join(work, "console")
    checked([SYSTEM_PYTHON, "-m", "venv", "--without-pip", venv])
    wheel = glob.glob(os.path.join(wheels, "pyenvboot-*.whl"))[0]
    checked([python, "-m", "pip", "--python", venv + "/bin/python", "install", "-q", "--no-deps", wheel], env=env)
    shutil.rmtree(src)
    return venv


def init_venv(venv: str, home: str, python: str = SYSTEM_PYTHON, extra: Optional[List[str]] = None) -> None:
    """``python3 -m pyenvboot init`` from this checkout."""
    env = {"PATH": PLAIN_PATH, "LANG": "C.UTF-8", "PYTHONPATH": REPO, "HOME": "/root"}
    argv = [python, "-m", "pyenvboot", "init", "--venv", venv]
    argv += ["--home", home] if home else ["--no-home"]
    checked(argv + (extra or []), env=env)


def scratch_base() -> str:
    """Where the venvs under test are made: $PYENVBOOT_BENCH_TMPDIR, else /var/tmp.

    Not /tmp: on these machines other jobs churn /tmp, and creating a file there was
    measured 3-8x slower than elsewhere on the same ext4 file system, which would
    swamp the differences between venv tools.
    """
    return os.environ.get("PYENVBOOT_BENCH_TMPDIR") or "/var/tmp"


def prepare(cache: str) -> Env:
    bench_venv = ensure_bench_venv(cache)
    work = tempfile.mkdtemp(prefix="pyenvboot-bench-", dir=scratch_base())
    os.chmod(work, 0o755)  # the nameless UID must reach the venv
    tmp = os.path.join(work, "tmp")
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)
    log("scratch directory %s" % work)
    venv = os.path.join(work, "venv")
    home = os.path.join(work, "home")
    init_venv(venv, home)
    context = os.path.join(work, "context")
    zipapp = os.path.join(context, "dist", "pyenvboot.pyz")
    log("building the zipapp with scripts/build-zipapp")
    build_zipapp(bench_venv, zipapp, cache)
    shutil.copy(os.path.join(REPO, "Dockerfile.example"), os.path.join(context, "Dockerfile"))
    log("pip install . into a separate venv (console script)")
    console = make_console_venv(bench_venv, work, cache)
    return Env(
        cache=cache,
        work=work,
        bench_venv=bench_venv,
        venv=venv,
        home=home,
        console_venv=console,
        zipapp=zipapp,
        context=context,
        index_wheels=ensure_index_wheels(cache, bench_venv),
        pip_env=isolated_pip_env(cache),
        tmp=tmp,
    )
