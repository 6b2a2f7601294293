"""Running pyenvboot and other commands in tests, as root or as an arbitrary UID."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Union

ARBITRARY_UID = 1000680000


def pyenvboot_cmd(python: str = sys.executable) -> List[str]:
    return [python, "-m", "pyenvboot"]


def as_uid(uid: int, gid: int = 0) -> List[str]:
    """Run as an arbitrary UID in group ``gid`` with no supplementary groups (a real UID switch)."""
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"]


def run(argv: List[str], env: Dict[str, str], **kwargs: object) -> "subprocess.CompletedProcess[str]":
    proc: "subprocess.CompletedProcess[str]" = subprocess.run(  # type: ignore[call-overload]
        argv, env=env, capture_output=True, text=True, timeout=300, **kwargs
    )
    return proc


def with_bind(source: Union[Path, str], target: str, argv: List[str]) -> List[str]:
    """``argv`` in a private mount namespace where ``target`` is ``source`` (bind-mounted)."""
    script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(source), target, *argv]
