"""Image-wide set-up that ``init`` does besides the venv: the shared home, the passwd opt-in."""

from __future__ import annotations

import os
import stat
from typing import Mapping, Optional

from pyenvboot.errors import PermissionPolicyError
from pyenvboot.permissions.policy import fix_tree, refuse_system_path
from pyenvboot.runtime.identity import DEFAULT_HOME, PASSWD


def shared_home(requested: Optional[str], environ: Mapping[str, str]) -> str:
    """The shared home: ``--home``, else ``$PYENVBOOT_HOME``, else the default."""
    return requested or environ.get("PYENVBOOT_HOME") or DEFAULT_HOME


def check_home(home: str) -> None:
    """Refuse a bad shared home before ``init`` changes anything."""
    if not home.startswith("/") or home == "/":
        raise PermissionPolicyError("home %r must be an absolute path other than /" % home)
    if os.path.islink(home) or (os.path.lexists(home) and not os.path.isdir(home)):
        raise PermissionPolicyError("home %s is a symlink or not a directory; pass a directory with --home" % home)
    refuse_system_path(home)


def ensure_home(home: str, gid: int) -> str:
    """A group-writable, setgid HOME for UIDs that have none.

    With its ``.cache``: a build step's cache mount there (``target=HOME/.cache/pip``)
    would otherwise make it, root-owned and 0755, in the image (BuildKit and buildah
    create a mount target's missing parents), and no other UID could keep a cache.
    """
    check_home(home)
    try:
        os.makedirs(os.path.join(home, ".cache"), exist_ok=True)
    except OSError as exc:
        if os.getuid() != 0 and isinstance(exc, PermissionError):
            return "skipped shared home %s: not writable by uid %d (run init as root)" % (home, os.getuid())
        raise PermissionPolicyError("cannot create home %s: %s" % (home, exc.strerror)) from None
    report = fix_tree(home, gid)
    if report.skipped:
        raise PermissionPolicyError("cannot apply the permission policy to %s: %s" % (home, report.skipped[0]))
    return "shared home %s is group-writable (gid %d)" % (home, gid)


def make_passwd_writable(gid: int, path: str = PASSWD) -> str:
    """The explicit opt-in: group ``gid`` may append to /etc/passwd (trade-off in SECURITY.md)."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise PermissionPolicyError("%s is a symlink; refusing to change it" % path)
        if st.st_gid != gid:
            os.chown(path, -1, gid, follow_symlinks=False)
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o060 != 0o060 or mode & 0o002:
            os.chmod(path, (mode | 0o060) & ~0o002)
    except OSError as exc:
        raise PermissionPolicyError(
            "cannot make %s group-writable: %s; run init as root" % (path, exc.strerror)
        ) from None
    return "%s is group-writable (gid %d): UIDs in the group get a passwd entry" % (path, gid)
