"""Can an arbitrary UID in the venv's group reach a path? Judged from modes, as the kernel does.

A UID that is not the owner and not root gets the group bits when the entry's
group is one of its groups, else the other bits (path_resolution(7)); every
directory on the way needs search (x) permission.
"""

from __future__ import annotations

import os
import stat
from shlex import quote
from typing import Callable, List, Optional, Tuple


def owner_group(st: os.stat_result) -> str:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return "%s:%s" % (user, group)


def allowed(st: os.stat_result, gid: int, bits: int) -> bool:
    """May an arbitrary UID (not the owner, not root) in group ``gid`` do ``bits`` (r=4, x=1)?

    Other bits count for everyone; group bits count when the entry's group is ``gid``.
    """
    other = st.st_mode & 0o7
    group = (st.st_mode >> 3) & 0o7 if st.st_gid == gid else 0
    return (other | group) & bits == bits


def ancestors(path: str) -> List[str]:
    """``/a/b/c`` -> ``["/", "/a", "/a/b"]``."""
    out = []
    parent = os.path.dirname(path)
    while True:
        out.append(parent)
        if parent == "/":
            break
        parent = os.path.dirname(parent)
    return list(reversed(out))


def blocker(
    path: str, gid: int, bits: int, stat_fn: Callable[[str], os.stat_result] = os.stat
) -> Optional[Tuple[str, Optional[os.stat_result], str]]:
    """The first directory (or ``path`` itself) that keeps an arbitrary UID in ``gid`` from ``path``.

    Every ancestor needs search (x) permission; ``path`` needs ``bits``. Both the
    path as written and its resolved form are walked, so a symlink in between does
    not hide a private directory. Returns (where, its stat or None, what is missing).
    """
    for candidate in dict.fromkeys([os.path.abspath(path), os.path.realpath(path)]):
        for directory in ancestors(candidate):
            try:
                st = stat_fn(directory)
            except OSError:
                return directory, None, "cannot be examined"
            if not allowed(st, gid, 1):
                return directory, st, "no search (x) permission for group %d or others" % gid
        try:
            st = stat_fn(candidate)
        except OSError:
            return candidate, None, "does not exist"
        if not allowed(st, gid, bits):
            need = {1: "execute", 4: "read", 5: "read and search"}.get(bits, "access")
            return candidate, st, "no %s permission for group %d or others" % (need, gid)
    return None


def describe_blocker(where: str, st: Optional[os.stat_result], gid: int) -> Tuple[str, str]:
    """(how it looks, the chmod that opens it) for a blocking entry."""
    if st is None:
        return where, "make %s reachable" % where
    look = "%s is %s %s" % (where, stat.filemode(st.st_mode), owner_group(st))
    who = "g" if st.st_gid == gid else "o"
    perm = "x" if stat.S_ISDIR(st.st_mode) else "rx"
    return look, "chmod %s+%s %s" % (who, perm, quote(where))
