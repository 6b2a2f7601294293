"""The permission policy, judged independently of the code under test."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import List


def policy_offenders(root: Path, gid: int = 0) -> List[str]:
    """Entries that break the permission policy (group rw, setgid dirs, group x, no world-write)."""
    bad = []
    for p in [root, *root.rglob("*")]:
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        mode = st.st_mode
        wrong_group = st.st_gid != gid or mode & 0o060 != 0o060 or mode & 0o002
        wrong_dir = stat.S_ISDIR(mode) and not mode & stat.S_ISGID
        wrong_exec = mode & 0o100 and not mode & 0o010
        if wrong_group or wrong_dir or wrong_exec:
            bad.append(str(p))
    return bad
