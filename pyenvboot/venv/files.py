"""Entries replaced atomically, and the one name scheme for scratch entries pyenvboot makes.

Every scratch entry (a temporary file, a staging directory, a half-made copy) is named
``PATH.pyenvboot-KIND-PID``, so that a later ``init`` can find and remove what a killed
run left behind, and a user can tell at a glance what made it.
"""

from __future__ import annotations

import os

# typing costs ~5 ms of imports; the exec path (the identity cache) writes through this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Optional

TMP_PREFIX = ".pyenvboot-"  # every scratch entry pyenvboot makes inside a venv, or beside one, has this


def scratch_name(path: str, kind: str) -> str:
    """``path`` + ``.pyenvboot-KIND-PID``; for an entry inside a directory, pass ``os.path.join(DIR, "")``."""
    return "%s%s%s-%d" % (path, TMP_PREFIX, kind, os.getpid())


def write_atomic(path: str, data: str | bytes, mode: Optional[int] = None, executable: bool = False) -> None:
    """Replace ``path`` by rename, so a reader or a crash never sees half a file.

    Without ``mode`` the new file gets the default mode (0o777 when ``executable``,
    else 0o666) less the umask. No fsync: the rename is what protects against a
    killed process, and an image build does not survive a power cut anyway.
    """
    tmp = scratch_name(path, "tmp")
    default = 0o777 if executable else 0o666
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, default if mode is None else 0o600
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def symlink_atomic(target: str, path: str) -> None:
    """Point the symlink ``path`` at ``target`` by rename: the old link or the new one, never none."""
    tmp = scratch_name(path, "tmp")
    _discard(tmp)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_path(path: str) -> None:
    """Remove a file, symlink or directory tree; nothing there is fine."""
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil  # not on the runtime path, which imports this module too

        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def remove_emptied(directories: Iterable[str]) -> None:
    """Remove each directory a removal emptied, deepest first, with the byte code Python left in it.

    A ``__pycache__`` holds only what the interpreter derived from the sources just
    removed, so it does not keep a directory alive; anything else does.
    """
    import shutil

    for directory in sorted(set(directories), key=len, reverse=True):
        shutil.rmtree(os.path.join(directory, "__pycache__"), ignore_errors=True)
        try:
            os.rmdir(directory)
        except OSError:
            pass
