"""Temporary directories that arbitrary UIDs can reach."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def sticky_dir(path: Path) -> Path:
    """``path``, made if missing, sticky and world-writable like /tmp (chmod: mkdir's mode loses the umask)."""
    path.mkdir(exist_ok=True)
    path.chmod(0o1777)
    return path


@contextmanager
def reachable_tmpdir(prefix: str) -> Iterator[Path]:
    """A fresh dir under /tmp, mode 0755, removed afterwards (pytest's tmp_path is 0700, root's alone)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
