"""Drive an interactive shell through a real pseudo-terminal, as a person at a terminal would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from typing import Dict, List


def interact(argv: List[str], env: Dict[str, str], typed: str, timeout: float = 60) -> str:
    """Run ``argv`` on a new pty, type ``typed``, return everything it printed until it exits."""
    master, slave = pty.openpty()
    child = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    os.write(master, typed.encode())
    chunks: List[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
