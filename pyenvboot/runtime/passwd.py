"""Passwd entries: safe names and lines, appending to /etc/passwd, nss_wrapper's private copy.

The files a nameless UID's name is written to (see :func:`pyenvboot.runtime.identity.record_identity`).
Standard library only and cheap: this runs on every container start of such a UID.
"""

from __future__ import annotations

import os
import pwd
import stat

from pyenvboot.errors import IdentityError
from pyenvboot.runtime.contract import NAME_FIRST, NAME_MAX, NAME_REST, NSS_WRAPPER_DIRS, PASSWD_GECOS, PASSWD_SHELL

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional

PASSWD = "/etc/passwd"


def validate_user_name(name: str, source: str = "PYENVBOOT_USER") -> str:
    """``name`` if it is a safe login name (the contract's name rule), else :class:`IdentityError`."""
    if not 0 < len(name) <= NAME_MAX or name[0] not in NAME_FIRST or any(c not in NAME_REST for c in name):
        raise IdentityError(
            "refusing user name %r from %s: use 1-%d characters of a-z, 0-9, '_', '-', '.',"
            " starting with a letter or '_'" % (name, source, NAME_MAX)
        )
    return name


def passwd_line(name: str, uid: int, gid: int, home: str, shell: str = PASSWD_SHELL) -> str:
    """One ``/etc/passwd`` line; refuses uid 0 and any field that could split the line."""
    if uid == 0:
        raise IdentityError("refusing to write a passwd entry for uid 0")
    fields = [name, "x", str(uid), str(gid), PASSWD_GECOS, home, shell]
    for field in fields:
        if ":" in field or "\n" in field or "\r" in field:
            raise IdentityError(
                "refusing passwd entry: %r contains ':' or a newline; choose another"
                " PYENVBOOT_HOME or user name" % field
            )
    return ":".join(fields) + "\n"


def check_shared_library(path: str) -> str:
    """``path`` if it is an ELF file that LD_PRELOAD can take whole (a hostile value is not)."""
    try:
        with open(path, "rb") as f:
            elf = f.read(4) == b"\x7fELF"
    except OSError as exc:
        elf, why = False, exc.strerror
    else:
        why = "not a shared library"
    if not elf or not path.startswith("/") or any(c in path for c in " \t\n:"):
        raise IdentityError(
            "PYENVBOOT_NSS_WRAPPER=%r: %s; give the absolute path of libnss_wrapper.so, or set it empty"
            " to not use nss_wrapper" % (path, why if not elf else "not an absolute path without spaces or ':'")
        )
    return path


def find_nss_wrapper(environ: Mapping[str, str]) -> Optional[str]:
    """Path of ``libnss_wrapper.so`` ($PYENVBOOT_NSS_WRAPPER, else the usual lib dirs)."""
    explicit = environ.get("PYENVBOOT_NSS_WRAPPER")
    if explicit is not None:
        return check_shared_library(explicit) if explicit else None
    dirs = list(NSS_WRAPPER_DIRS)
    try:
        dirs[1:1] = ["/usr/lib/" + d for d in os.listdir("/usr/lib") if d.endswith("-linux-gnu")]
    except OSError:
        pass
    for directory in dirs:
        candidate = directory + "/libnss_wrapper.so"
        if os.path.isfile(candidate):
            return candidate
    return None


def _read_fd(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 65536, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _has_uid_or_name(content: bytes, uid: int, name: str) -> Optional[str]:
    """Which of uid or name already has an entry in passwd ``content``, if any."""
    for raw in content.splitlines():
        parts = raw.split(b":")
        if len(parts) < 3:
            continue
        if parts[2] == str(uid).encode():
            return "uid"
        if parts[0] == name.encode():
            return "name"
    return None


def append_passwd_entry(path: str, line: str, uid: int, name: str) -> bool:
    """Append ``line`` to the passwd file at ``path`` under an exclusive lock.

    Returns False when an entry for ``uid`` appeared meanwhile (a concurrent
    ``docker exec``); refuses when ``name`` is taken.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        content = _read_fd(fd)
        clash = _has_uid_or_name(content, uid, name)
        if clash == "uid":
            return False
        if clash == "name":
            raise IdentityError(
                "refusing passwd entry: user name %r already exists in %s; set PYENVBOOT_USER"
                " to an unused name" % (name, path)
            )
        data = line.encode()
        if content and not content.endswith(b"\n"):
            data = b"\n" + data
        os.write(fd, data)
        return True
    finally:
        os.close(fd)


def write_nss_passwd(target: str, line: str) -> str:
    """A private copy of /etc/passwd plus ``line`` at ``target``, written atomically, for nss_wrapper.

    A copy this UID made before that differs at most in ``line``'s home field is
    kept: nss_wrapper reads the file on every lookup, so rewriting it would change
    ``getpwuid()`` under the processes already running (the app, started with the
    first start's home), and the launcher's sh keeps the file it made likewise.
    """
    try:
        with open(PASSWD, "rb") as f:
            content = f.read()
    except OSError:
        content = b""
    if content and not content.endswith(b"\n"):
        content += b"\n"
    wanted = content + line.encode()
    if _same_but_home(_own_file(target), wanted):
        return target
    from pyenvboot.venv.files import write_atomic

    write_atomic(target, wanted, mode=0o600)
    return target


def _own_file(path: str) -> Optional[bytes]:
    """The content of ``path`` if it is a regular file of this UID (not through a symlink), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None
        return _read_fd(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _same_but_home(existing: Optional[bytes], wanted: bytes) -> bool:
    """Are the two passwd copies the same but for the home field (the 6th) of their last lines?"""
    if existing is None:
        return False
    head, _, last = existing[:-1].rpartition(b"\n")
    wanted_head, _, wanted_last = wanted[:-1].rpartition(b"\n")
    fields, wanted_fields = last.split(b":"), wanted_last.split(b":")
    return (
        existing.endswith(b"\n")
        and head == wanted_head
        and len(fields) == len(wanted_fields) == 7
        and fields[:5] + fields[6:] == wanted_fields[:5] + wanted_fields[6:]
    )


def name_owner(name: str) -> Optional[int]:
    """The UID whose passwd entry (through NSS) is ``name``, or None."""
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None
