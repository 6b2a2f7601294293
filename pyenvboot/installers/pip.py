"""``pyenvboot pip`` and ``pyenvboot run``: installers in the RUN steps of derived builds.

Both run the installer under the venv lock at umask 002, with the cache rule, the
installers pointed at the venv and no identity written (a build step's files are
baked into the image layer), then apply the permission policy to the venv. The exit
code is the installer's. Each rule is one function below.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from pyenvboot.errors import VenvError
from pyenvboot.permissions.policy import Report, fix_dirs, fix_tree
from pyenvboot.runtime.environment import check_venv, runtime_environment
from pyenvboot.runtime.execute import UMASK, check_argv, exec_error, sh_script
from pyenvboot.venv.lock import locked

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
    """Remove what a killed pip left in site-packages.

    pip first moves a distribution it replaces to ``~<name>``, unpacks the wheel, then
    writes its own dist-info files (RECORD last) through temporary files. Killed in
    between, the ``~`` copies, the temporary files and dist-info directories without
    METADATA stay: every later pip warns "Ignoring invalid distribution" or "Skipping
    ... invalid metadata", and never removes them. A dist-info cut short before its
    RECORD and INSTALLER counts as installed, and pip can never uninstall or upgrade
    it. Under the venv lock no pip is running, so all of it is stale.
    """
    import glob
    import sys

    for site in glob.glob(glob.escape(venv) + "/lib/python*/site-packages"):
        for name in sorted(os.listdir(site)):
            path = os.path.join(site, name)
            if name.startswith("~"):
                doomed = [path]
            elif name.endswith(".dist-info") and os.path.isdir(path) and not os.path.islink(path):
                if not os.path.exists(os.path.join(path, "METADATA")):
                    doomed = [path]  # no distribution without METADATA: pip ignores it, and never removes it
                elif not any(os.path.exists(os.path.join(path, n)) for n in ("RECORD", "INSTALLER")):
                    # Killed while unpacking the wheel, before its RECORD: pip counts it as installed,
                    # then cannot uninstall or upgrade it ("RECORD file not found", pypa/pip#12645).
                    doomed = [path]
                else:
                    doomed = [os.path.join(path, n) for n in os.listdir(path) if pip_leftover(n)]
            else:
                continue
            if doomed:
                from pyenvboot.create.seed import remove_path  # heavy imports, needed only here
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


# What ``pip install`` and ``pip uninstall`` write, and where: every file it installs is in the RECORD of the
# distribution's new .dist-info (wheel files, generated scripts, byte code, the dist-info's own files: PEP 376,
# the binary distribution format spec, pip's install_wheel); a VCS editable checkout goes to VENV/src; nothing
# else is written into the venv. These options send files elsewhere, or relocate them.
PIP_ELSEWHERE = ("--target", "--prefix", "--root", "--user")


def pip_changes_known(args: Sequence[str]) -> bool:
    """Is ``pip ARGS`` an install or uninstall whose writes :class:`Installed` can list?"""
    if not args or args[0] not in ("install", "uninstall"):
        return False
    for arg in args[1:]:
        if arg == "--":
            break
        if any(arg == opt or arg.startswith(opt + "=") for opt in PIP_ELSEWHERE):
            return False
        if arg.startswith("-") and not arg.startswith("--") and "t" in arg[1:]:
            return False  # -t DIR, -qt DIR, -tDIR: --target
    return True


class Installed:
    """What a pip install or uninstall changed in a venv, from the .dist-info directories it left.

    The permission policy after pip then costs what pip installed, not the venv's size.
    Taken before pip runs (:meth:`__init__`), read after (:meth:`dirs`): a .dist-info
    directory that is new or replaced (another inode: a reinstall, an upgrade) names,
    in its RECORD, every file pip wrote; the directories to scan are their parents
    (:func:`fix_dirs` adds every ancestor, so a directory pip created deep inside an
    existing tree is checked as an entry of its parent). An uninstall only removes
    entries, so it leaves nothing to fix. A new .egg-info (a legacy ``setup.py
    install``, which writes no RECORD) or a .dist-info without RECORD makes the list
    unknown: :meth:`dirs` returns None and the caller walks the whole venv.

    Why that is complete: an entry can break the policy after pip only if pip created
    it, replaced it, or changed its mode or group. pip creates files only at the paths
    RECORD lists (its wheel installer writes each file, after unlinking any old one,
    then chmods that same file; scripts and byte code are recorded too), and the
    directories on the way to them (``os.makedirs``), which are entries of the
    directories scanned. It changes no other entry's mode or group. An upgrade or
    uninstall moves the old files aside and deletes them: removals leave nothing to
    fix. When pip fails, it rolls such moves back (recreating directories), and what
    a killed pip left is unknown: the caller then walks the whole venv, as it does
    for a VCS checkout under ``VENV/src`` and for options that send files elsewhere.
    Entries pip did not touch keep whatever mode they had: this step fixes what the
    command changed, ``fix-permissions`` fixes a whole tree.
    """

    def __init__(self, venv: str) -> None:
        self.venv = os.path.realpath(venv)
        self.before = self._metadata_dirs()
        self.src = self._src_state()

    def _sites(self) -> List[str]:
        import glob

        return glob.glob(glob.escape(self.venv) + "/lib/python*/site-packages")

    def _metadata_dirs(self) -> Dict[str, int]:
        found: Dict[str, int] = {}
        for site in self._sites():
            with os.scandir(site) as it:
                for entry in it:
                    if entry.name.endswith((".dist-info", ".egg-info", ".egg")):
                        found[entry.path] = entry.inode()
        return found

    def _src_state(self) -> Optional[Tuple[int, int, int]]:
        try:
            st = os.lstat(self.venv + "/src")
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_ctime_ns

    def dirs(self) -> Optional[Set[str]]:
        """Directories (relative to the venv) whose direct entries pip created; None: unknown."""
        changed: Set[str] = set()
        if self._src_state() != self.src:
            return None  # a VCS editable checkout under VENV/src: files no RECORD lists
        for path, inode in self._metadata_dirs().items():
            if self.before.get(path) == inode:
                continue
            if not path.endswith(".dist-info"):
                return None
            try:
                with open(path + "/RECORD", encoding="utf-8", newline="") as f:
                    rows = list(csv.reader(f))
            except (OSError, UnicodeDecodeError, csv.Error):
                return None
            site = os.path.dirname(path)
            changed.add(os.path.relpath(site, self.venv))
            for row in rows:
                if not row or not row[0]:
                    continue
                target = os.path.normpath(os.path.join(site, row[0]))
                if target.startswith(self.venv + "/"):
                    changed.add(os.path.relpath(os.path.dirname(target), self.venv))
        return changed


def apply_policy(venv: str, gid: int, changes: Optional[Set[str]]) -> Report:
    """The policy on the venv: on the directories in ``changes``, or on all of it when None.

    Root fixes everything; another UID can only fix what it owns.
    """
    only_owned = os.geteuid() != 0
    if changes is None:
        return fix_tree(os.path.realpath(venv), gid, only_owned=only_owned)
    return fix_dirs(os.path.realpath(venv), changes, gid, only_owned=only_owned)


def run_in_venv(
    venv: str,
    argv: Sequence[str],
    environ: Mapping[str, str],
    after: Optional[Callable[[int], int]] = None,
    pip_args: Optional[Sequence[str]] = None,
) -> int:
    """Run ``argv`` for ``venv`` in a build step: locked, umask 002, then the policy on the venv.

    ``after`` runs under the same lock with the exit code and returns the final one
    (install-time verification hooks in here). ``pip_args``: ``argv`` is pip with
    these arguments, and a successful install or uninstall has the policy applied
    to what it installed (:class:`Installed`) instead of the whole venv.
    """
    scratch = Scratch()
    env = build_environment(environ, venv, scratch)
    os.umask(UMASK)
    gid = os.stat(venv).st_gid
    try:
        with locked(venv, "installing") as lock:
            remove_pip_leftovers(venv)
            installed = Installed(venv) if pip_args is not None and pip_changes_known(pip_args) else None
            code = 1
            try:
                # The command shares the lock, so one that outlives a killed pyenvboot still holds it.
                code = call(argv, env, pass_fds=(lock,))
            finally:
                # A failed or interrupted pip may have rolled back or left half an install: walk it all.
                apply_policy(venv, gid, installed.dirs() if installed is not None and code == 0 else None)
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
    return run_in_venv(venv, [python, "-m", "pip", *args], environ, after, pip_args=args)


def run_command(venv: str, argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """``pyenvboot run``: any installer or build script, as ``pyenvboot pip`` runs pip."""
    venv_python(venv)
    return run_in_venv(venv, argv, environ)
