"""``check``'s permissions: the policy on every entry of the venv, and a way in for every UID in the group.

Each fix is one the caller can run: chmod and chown are the owner's and root's
alone, so entries the caller does not own come with the line root has to add.
"""

from __future__ import annotations

import os
from shlex import quote
from typing import Dict, List, Optional, Sequence

from pyenvboot.diagnosis.reach import blocker, describe_blocker
from pyenvboot.diagnosis.report import SHOW, Problem, shown
from pyenvboot.permissions import policy


def caller_can_fix(st: Optional[os.stat_result], euid: int) -> bool:
    """chmod and chown of an entry are the owner's and root's alone (chmod(2))."""
    return euid == 0 or (st is not None and st.st_uid == euid)


def root_fix(command: str) -> str:
    """The fix for what only root can change: a Dockerfile line, or the command run as root."""
    return (
        "only root can change this: add 'RUN %s' to the Dockerfile after the step that wrote it, or run it as"
        " root (docker exec -u 0 CONTAINER %s)" % (command, command)
    )


def check_membership(venv: str, gid: int, euid: int, groups: Sequence[int]) -> List[Problem]:
    """A caller outside the venv's group can run what is installed but cannot install (pip: "Check the permissions")."""
    if euid == 0 or gid in groups:
        return []
    return [
        Problem(
            "permissions",
            "uid %d is not in group %d (its groups: %s): it can run %s but not install into it"
            % (euid, gid, ",".join(str(g) for g in sorted(set(groups))) or "none", venv),
            "start the container with group %d as well: docker or podman run --group-add %d (or --user %d:%d);"
            " Kubernetes: securityContext runAsGroup: %d, or supplementalGroups: [%d]"
            % (gid, gid, euid, gid, gid, gid),
        )
    ]


def check_permissions(venv: str, gid: int) -> List[Problem]:
    """What an arbitrary UID in the group needs: the policy on every entry, and a way in.

    Each fix is one the caller can run: entries it does not own (and is not root)
    are reported with the line that root has to add.
    """
    euid = os.geteuid()
    problems = check_membership(venv, gid, euid, [os.getegid(), *os.getgroups()])
    found = blocker(venv, gid, 5)
    if found is not None:
        look, chmod = describe_blocker(found[0], found[1], gid)
        if not caller_can_fix(found[1], euid):
            chmod = root_fix(chmod)
        problems.append(
            Problem(
                "permissions",
                "%s is out of reach for other UIDs in group %d: %s (%s)" % (venv, gid, look, found[2]),
                "%s, or create the venv elsewhere (e.g. /opt/venv)" % chmod,
            )
        )
    report = policy.Report()
    mine: List[str] = []
    others: Dict[int, List[str]] = {}
    for entry in policy.walk(os.path.realpath(venv), report, gid):
        if caller_can_fix(entry.st, euid):
            mine.append(entry.path)
        else:
            others.setdefault(entry.st.st_uid, []).append(entry.path)
    fix = "pyenvboot fix-permissions --group %d %s" % (gid, quote(venv))
    if mine:
        problems.append(Problem("permissions", offenders_message(mine, gid, ""), fix))
    for uid, paths in sorted(others.items()):
        problems.append(Problem("permissions", offenders_message(paths, gid, " owned by uid %d" % uid), root_fix(fix)))
    if report.special:
        problems.append(
            Problem(
                "permissions",
                "%d device node(s), FIFO(s) or socket(s) outside the policy, which pyenvboot never makes"
                " group-writable: %s" % (len(report.special), shown(report.special)),
                "remove them from the venv (they do not belong in it), or give them the mode you mean with chmod",
            )
        )
    for line in report.skipped[:SHOW]:
        problems.append(Problem("permissions", "cannot examine " + line, fix if euid == 0 else root_fix(fix)))
    return problems


def offenders_message(paths: Sequence[str], gid: int, whose: str) -> str:
    return (
        "%d %s%s the policy for group %d (group rw, group x where the owner has x, setgid directories, nothing"
        " world-writable): %s"
        % (
            len(paths),
            "entry" if len(paths) == 1 else "entries",
            whose + (" breaks" if len(paths) == 1 else " break"),
            gid,
            shown(paths),
        )
    )
