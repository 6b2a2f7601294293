"""An exclusive lock on a directory, so concurrent pyenvboot runs do not interleave.

The lock is ``flock`` on the directory itself: no lock file is left in the image,
any UID that can read the directory can take it, and the kernel drops it when the
holder dies (a killed ``pip`` never leaves a stale lock).
"""

from __future__ import annotations

import fcntl
import os
import sys

from pyenvboot.errors import LockError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class locked:  # noqa: N801 (used as a function: ``with locked(dir, purpose) as fd``)
    """Hold an exclusive lock on ``directory``; say so on stderr if we have to wait.

    Gives the locked descriptor: a child given it (``pass_fds``) keeps the lock held
    even if this process is killed first (a killed ``pyenvboot pip``). A class, not
    ``contextlib.contextmanager``: importing contextlib costs ``pyenvboot pip`` and
    ``run`` about 5 ms before the installer starts.
    """

    def __init__(self, directory: str, purpose: str) -> None:
        self.directory = directory
        self.purpose = purpose
        self.fd: Optional[int] = None

    def __enter__(self) -> int:
        try:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise LockError("cannot lock %s for %s: %s" % (self.directory, self.purpose, exc.strerror)) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print("pyenvboot: waiting for another pyenvboot run to finish with %s" % self.directory, file=sys.stderr)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return fd

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
