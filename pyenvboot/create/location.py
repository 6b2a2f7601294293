"""Where ``init`` builds: the venv's directory, its parent, the staging directory, scratch left behind.

A new venv is built in a hidden sibling directory and renamed into place, so an
``init`` killed at any moment leaves either nothing or the previous venv; what a
killed run left (a staging directory, scratch entries in a live venv) is removed by
the next run, which holds the lock that the killed one held.
"""

from __future__ import annotations

import glob
import os
import shutil
from typing import List

from pyenvboot.errors import PermissionPolicyError, VenvError
from pyenvboot.runtime.launcher import LIB_RELPATH
from pyenvboot.venv.config import read_cfg
from pyenvboot.venv.files import TMP_PREFIX, remove_path, scratch_name


def resolve_location(venv: str) -> str:
    """Where the venv's files go: the venv path, or the directory a symlink there points to.

    Every path written into the venv (pyvenv.cfg, scripts, the hook) still names
    the venv path; only the directory that is created or renamed into place is
    the symlink's target, so the symlink is kept.
    """
    if not os.path.islink(venv):
        return venv
    target = os.path.realpath(venv)
    if not os.path.isdir(target):
        raise VenvError(
            "%s is a symlink to %s, which %s; point it at a directory, or pass --venv the venv's own directory"
            % (venv, target, "is not a directory" if os.path.lexists(target) else "does not exist")
        )
    return target


def missing_parents(path: str) -> List[str]:
    """The ancestors of ``path`` that do not exist, nearest first."""
    missing: List[str] = []
    parent = os.path.dirname(path)
    while not os.path.lexists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    return missing


def ensure_parent(venv: str, parent: str) -> None:
    """The venv's parent directory exists and this UID may create entries in it."""
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise PermissionPolicyError(
            "cannot create %s: %s; create it or choose a writable --venv" % (parent, exc.strerror)
        ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionPolicyError(
            "cannot create %s: %s is not writable by uid %d; run init as root or choose another --venv"
            % (venv, parent, os.getuid())
        )


def remove_created(parents: List[str]) -> None:
    """Remove the parents ``init`` created, nearest first, as far as they are empty: nothing left behind."""
    for path in parents:
        try:
            os.rmdir(path)
        except OSError:
            break


def staging_path(location: str) -> str:
    """The hidden sibling a new venv is built in."""
    return scratch_name(os.path.join(os.path.dirname(location), "." + os.path.basename(location)), "staging")


def remove_stale_staging(location: str) -> None:
    """Left by an ``init`` that was killed; we hold the parent lock, so none is live."""
    parent = os.path.dirname(location)
    prefix = "." + os.path.basename(location) + TMP_PREFIX + "staging-"
    for name in os.listdir(parent):
        if name.startswith(prefix):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def empty_target(location: str) -> bool:
    """An empty directory (not a mount point) at the venv path: built anew and renamed over."""
    try:
        return (
            os.path.isdir(location)
            and not os.path.islink(location)
            and not os.path.ismount(location)
            and not os.listdir(location)
        )
    except OSError:
        return False


def check_existing(venv: str, location: str) -> None:
    """Update only a directory that is a venv, or empty."""
    if os.path.islink(location) or not os.path.isdir(location):
        raise VenvError("%s exists and is not a directory; remove it or choose another --venv" % venv)
    if read_cfg(venv) is None and os.listdir(venv):
        raise VenvError("%s exists, is not empty and is not a venv (no pyvenv.cfg); refusing to touch it" % venv)


def remove_leftovers(venv: str) -> None:
    """Scratch entries an interrupted init or seeding left in the venv (we hold its lock: none is live)."""
    root = glob.escape(venv)
    patterns = [
        os.path.join(root, TMP_PREFIX + "*"),
        os.path.join(root, "lib", "python*", TMP_PREFIX + "*"),
        os.path.join(root, "lib", "python*", "site-packages", "*" + TMP_PREFIX + "tmp*"),
        os.path.join(root, "*" + TMP_PREFIX + "tmp*"),
        os.path.join(root, "bin", "*" + TMP_PREFIX + "tmp*"),
        os.path.join(root, "share", "pyenvboot", "*" + TMP_PREFIX + "tmp*"),
        os.path.join(root, glob.escape(LIB_RELPATH), TMP_PREFIX + "*"),
    ]
    for pattern in patterns:
        for path in glob.glob(pattern):
            remove_path(path)


def relocate(path: str, venv: str, root: str) -> str:
    """``path`` (under the final venv) inside ``root`` (the staging dir or the venv)."""
    return root + path[len(venv) :] if path.startswith(venv) else path
