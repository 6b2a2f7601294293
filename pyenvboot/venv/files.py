"""Small files replaced atomically: the one way pyenvboot writes a file a reader may see half-written."""

from __future__ import annotations

import os
from typing import Optional


def write_atomic(path: str, data: str, mode: Optional[int] = None) -> None:
    """Replace ``path`` by rename, so a reader or a crash never sees half a file.

    Without ``mode`` the new file gets the default mode less the umask. No fsync:
    the rename is what protects against a killed process, and an image
    build does not survive a power cut anyway.
    """
    tmp = "%s.pyenvboot-tmp-%d" % (path, os.getpid())
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666 if mode is None else 0o600
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
