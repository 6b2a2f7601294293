"""Reading and writing ``pyvenv.cfg`` and other small files, atomically."""

from __future__ import annotations

import os
from typing import Dict, Optional

from pyenvboot.errors import VenvError


def parse_cfg(text: str) -> Dict[str, str]:
    """``key = value`` lines as a dict (the format ``site.py`` reads)."""
    result: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            result[key.strip().lower()] = value.strip()
    return result


def format_cfg(values: Dict[str, str]) -> str:
    return "".join("%s = %s\n" % (k, v) for k, v in values.items())


def read_cfg(venv: str) -> Optional[Dict[str, str]]:
    """The venv's pyvenv.cfg, or None when there is none."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as f:
            return parse_cfg(f.read())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise VenvError("cannot read %s/pyvenv.cfg: %s" % (venv, exc)) from None


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
