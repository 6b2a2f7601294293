"""``pyenvboot pip`` and ``pyenvboot run``: installers in the RUN steps of derived builds.

Both run the installer under the venv lock at umask 002, with the cache rule, the
installers pointed at the venv and no identity written (a build step's files are
baked into the image layer), then apply the permission policy to the venv. The exit
code is the installer's. Each rule is one function below.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from pyenvboot.errors import VenvError
from pyenvboot.execute import UMASK, check_argv, check_venv, exec_error, runtime_environment, sh_script
from pyenvboot.lock import locked
from pyenvboot.permissions import fix_tree

CACHE_VARS = ("PIP_NO_CACHE_DIR", "PIP_CACHE_DIR", "PYENVBOOT_PIP_CACHE")


@dataclass(frozen=True)
class Cache:
    """Where an installer keeps its cache, and how it is told where, or to keep none."""

    name: str  # the directory's name under $XDG_CACHE_HOME or ~/.cache (platformdirs' user_cache_dir)
    setting: str  # the variable that names the directory
    off: Optional[str]  # the variable that turns the cache off; None: the tool has none
    configured: Tuple[str, ...]  # any of these set: the user chose, and is obeyed


CACHES = (
    Cache("pip", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", CACHE_VARS),
    Cache("uv", "UV_CACHE_DIR", "UV_NO_CACHE", ("UV_CACHE_DIR", "UV_NO_CACHE")),
    Cache("pypoetry", "POETRY_CACHE_DIR", None, ("POETRY_CACHE_DIR",)),
    Cache("pipenv", "PIPENV_CACHE_DIR", None, ("PIPENV_CACHE_DIR",)),
)


def _unescape_mountinfo(field: str) -> str:
    """proc(5): space, tab, newline and backslash in a mount point are written as ``\\ooo``."""
    for code in ("040", "011", "012", "134"):
        field = field.replace("\\" + code, chr(int(code, 8)))
    return field


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> List[str]:
    """Every mount point of this mount namespace (field 5 of proc(5)'s mountinfo)."""
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            return [_unescape_mountinfo(line.split(" ")[4]) for line in f if line.count(" ") >= 4]
    except OSError:
        return []


def is_mount_point(path: str, mounts: Optional[Sequence[str]] = None) -> bool:
    """Is ``path`` a mount point (a BuildKit or podman ``RUN --mount=type=cache`` target)?

    ``os.path.ismount`` compares the device with the parent's, so it misses a bind
    mount of a directory from the same file system (``--mount=type=bind`` from the
    build context, or buildah's cache mounts when its cache dir and the root are one
    file system); mountinfo lists every mount.
    """
    if not os.path.isdir(path):
        return False
    if os.path.ismount(path):
        return True
    real = os.path.realpath(path)
    return real in (mount_points() if mounts is None else mounts)


def cache_dir(cache: Cache, env: Mapping[str, str]) -> str:
    """The installer's own default: ``$XDG_CACHE_HOME/NAME``, else ``$HOME/.cache/NAME``."""
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or "/", ".cache")
    return os.path.join(base, cache.name)


def cache_changes(env: Mapping[str, str], scratch: Callable[[], str]) -> Dict[str, str]:
    """The cache rule: a cache mount is used, otherwise no cache is left in the layer.

    An installer's cache directory that is a mount point (``RUN --mount=type=cache,
    target=/root/.cache/pip``) is used; any other is turned off, or, for an installer
    with no switch for that, replaced by ``scratch()``, a directory removed afterwards.
    A cache variable the user set is left alone.
    """
    changes: Dict[str, str] = {}
    mounts = mount_points()
    for cache in CACHES:
        if any(env.get(var) for var in cache.configured):
            continue
        directory = cache_dir(cache, env)
        if is_mount_point(directory, mounts):
            changes[cache.setting] = directory
        elif cache.off:
            changes[cache.off] = "1"
        else:
            changes[cache.setting] = os.path.join(scratch(), cache.name)
    return changes


def installer_changes(venv: str) -> Dict[str, str]:
    """Point uv, poetry and pipenv at the venv (VIRTUAL_ENV, which the activation sets, does the rest).

    uv: ``uv sync`` into the venv rather than a project ``.venv``, no managed-Python
    download, the venv's interpreter, and copies, since a hard link from a cache mount
    into the venv crosses file systems. poetry: never a venv of its own. pipenv: no
    notice that it runs inside a venv, which is what it is meant to use here.
    """
    return {
        "UV_PROJECT_ENVIRONMENT": venv,
        "UV_PYTHON": venv + "/bin/python",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "copy",
        "POETRY_VIRTUALENVS_CREATE": "false",
        "PIPENV_VERBOSITY": "-1",
    }


def build_environment(environ: Mapping[str, str], venv: str, scratch: Callable[[], str]) -> Dict[str, str]:
    """The environment of ``pip`` and ``run``: the runtime one without writing identity files,
    the installers pointed at the venv, the cache rule. A variable the user set wins."""
    env = runtime_environment(environ, venv, persist=False)
    for name, value in installer_changes(venv).items():
        env.setdefault(name, value)
    env.update(cache_changes(env, scratch))
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return env


# pip writes dist-info files through "<name><8 random characters>.tmp" and renames them.
PIP_TEMP_FILES = ("INSTALLER", "RECORD", "REQUESTED", "direct_url.json", "METADATA", "WHEEL")


def pip_leftover(name: str) -> bool:
    """One of pip's temporary dist-info files (``RECORDk3j2h1g0.tmp``)?"""
    return name.endswith(".tmp") and any(
        name.startswith(base) and len(name) == len(base) + 12 for base in PIP_TEMP_FILES
    )


def remove_pip_leftovers(venv: str) -> None:
    """Remove what a killed pip left in site-packages (issue 6).

    pip first moves a distribution it replaces to ``~<name>``, and writes dist-info
    files through temporary files. Killed in between, the ``~`` copies, the temporary
    files and dist-info directories without METADATA stay: every later pip warns
    "Ignoring invalid distribution" or "Skipping ... invalid metadata", and never
    removes them. Under the venv lock no pip is running, so all of it is stale.
    """
    import glob
    import sys

    from pyenvboot.seed import remove_path

    for site in glob.glob(glob.escape(venv) + "/lib/python*/site-packages"):
        for name in sorted(os.listdir(site)):
            path = os.path.join(site, name)
            if name.startswith("~"):
                doomed = [path]
            elif name.endswith(".dist-info") and os.path.isdir(path) and not os.path.islink(path):
                if not os.path.exists(os.path.join(path, "METADATA")):
                    doomed = [path]  # no distribution without METADATA: pip ignores it, and never removes it
                else:
                    doomed = [os.path.join(path, n) for n in os.listdir(path) if pip_leftover(n)]
            else:
                continue
            for leftover in doomed:
                print("pyenvboot: removing %s, left by an interrupted pip" % leftover, file=sys.stderr)
                remove_path(leftover)
            if doomed and name.endswith(".dist-info") and os.path.isdir(path):
                try:
                    os.rmdir(path)  # only when nothing but pip's temporary files was in it
                except OSError:
                    pass


def call(argv: Sequence[str], env: Mapping[str, str], pass_fds: Sequence[int] = ()) -> int:
    """Run ``argv`` and return its exit code; 127 and 126 as ``exec`` and the shell give them."""
    check_argv(argv)
    try:
        return subprocess.call(list(argv), env=dict(env), pass_fds=tuple(pass_fds))
    except OSError as exc:
        script = sh_script(argv, env, exc)
        if script is None:
            raise exec_error(argv[0], env, exc) from None
        return subprocess.call(["/bin/sh", script, *argv[1:]], env=dict(env), pass_fds=tuple(pass_fds))


def venv_python(venv: str) -> str:
    check_venv(venv)
    python = venv + "/bin/python"
    if not os.path.exists(python):
        raise VenvError("%s does not run (dangling or missing); run 'pyenvboot init --venv %s'" % (python, venv))
    return python


class Scratch:
    """A temporary directory made on first use, for caches that must not stay."""

    def __init__(self) -> None:
        self.path: Optional[str] = None

    def __call__(self) -> str:
        if self.path is None:
            self.path = tempfile.mkdtemp(prefix="pyenvboot-cache-")
        return self.path

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


def run_in_venv(
    venv: str,
    argv: Sequence[str],
    environ: Mapping[str, str],
    after: Optional[Callable[[int], int]] = None,
) -> int:
    """Run ``argv`` for ``venv`` in a build step: locked, umask 002, then the policy on the venv.

    ``after`` runs under the same lock with the exit code and returns the final one
    (install-time verification hooks in here).
    """
    scratch = Scratch()
    env = build_environment(environ, venv, scratch)
    os.umask(UMASK)
    gid = os.stat(venv).st_gid
    try:
        with locked(venv, "installing") as lock:
            remove_pip_leftovers(venv)
            try:
                # The command shares the lock, so one that outlives a killed pyenvboot still holds it.
                code = call(argv, env, pass_fds=(lock,))
            finally:
                # Root fixes everything; another UID can only fix what it owns.
                fix_tree(os.path.realpath(venv), gid, only_owned=os.geteuid() != 0)
            if after is not None:
                code = after(code)
    finally:
        scratch.remove()
    return code


def run_pip(
    venv: str,
    args: Sequence[str],
    environ: Mapping[str, str],
    after: Optional[Callable[[int], int]] = None,
) -> int:
    """Run ``venv/bin/python -m pip ARGS`` under the venv lock; return pip's exit code."""
    python = venv_python(venv)
    return run_in_venv(venv, [python, "-m", "pip", *args], environ, after)


def run_command(venv: str, argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """``pyenvboot run``: any installer or build script, as ``pyenvboot pip`` runs pip."""
    venv_python(venv)
    return run_in_venv(venv, argv, environ)
