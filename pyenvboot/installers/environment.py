"""The environment of a build step (``pyenvboot pip`` and ``pyenvboot run``).

The runtime environment without writing identity files (a build step's files are
baked into the image layer), the installers pointed at the venv, and the cache rule:
a cache mount is used, otherwise no cache is left in the layer.
"""

from __future__ import annotations

import os

from pyenvboot.runtime.environment import runtime_environment

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

CACHE_VARS = ("PIP_NO_CACHE_DIR", "PIP_CACHE_DIR", "PYENVBOOT_PIP_CACHE")


# A plain class: a dataclass imports ``inspect``, a NamedTuple ``typing``, together a sixth of what
# ``pyenvboot pip`` and ``run`` spend before the installer starts.
class Cache:
    """Where an installer keeps its cache, and how it is told where, or to keep none."""

    __slots__ = ("configured", "name", "off", "setting")

    def __init__(self, name: str, setting: str, off: Optional[str], configured: Tuple[str, ...]) -> None:
        self.name = name  # the directory's name under $XDG_CACHE_HOME or ~/.cache (platformdirs' user_cache_dir)
        self.setting = setting  # the variable that names the directory
        self.off = off  # the variable that turns the cache off; None: the tool has none
        self.configured = configured  # any of these set: the user chose, and is obeyed


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


class Scratch:
    """A temporary directory made on first use, for caches that must not stay."""

    def __init__(self) -> None:
        self.path: Optional[str] = None

    def __call__(self) -> str:
        if self.path is None:
            # What tempfile.mkdtemp does (a fresh name, mode 0700, EEXIST retried), without importing
            # tempfile and its random and hashlib on every build step.
            base = os.environ.get("TMPDIR") or "/tmp"
            while self.path is None:
                path = os.path.join(base, "pyenvboot-cache-" + os.urandom(6).hex())
                try:
                    os.mkdir(path, 0o700)
                except FileExistsError:
                    continue
                except OSError:  # TMPDIR unusable: tempfile.gettempdir() knows the fallbacks
                    import tempfile

                    path = tempfile.mkdtemp(prefix="pyenvboot-cache-")
                self.path = path
        return self.path

    def remove(self) -> None:
        if self.path is None:
            return
        try:
            os.rmdir(self.path)  # nothing was cached in it: the usual case
        except OSError:
            import shutil

            shutil.rmtree(self.path, ignore_errors=True)
