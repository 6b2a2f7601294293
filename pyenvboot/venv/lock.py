"""An exclusive lock on a directory, so concurrent pyenvboot runs do not interleave.

The lock is ``flock`` on the directory itself: no lock file is left in the image,
any UID that can read the directory can take it, and the kernel drops it when the
holder dies (a killed ``pip`` never leaves a stale lock).
"""

from __future__ import annotations

import fcntl
import os
import sys
from contextlib import contextmanager
from pyenvboot.errors import LockError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator


@contextmanager
def locked(directory: str, purpose: str) -> Iterator[int]:
    """Hold an exclusive lock on ``directory``; say so on stderr if we have to wait.

    Yields the locked descriptor: a child given it (``pass_fds``) keeps the lock held
    even if this process is killed first (a killed ``pyenvboot pip``).
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise LockError("cannot lock %s for %s: %s" % (directory, purpose, exc.strerror)) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("pyenvboot: waiting for another pyenvboot run to finish with %s" % directory, file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)
