"""Progress lines on the terminal while the tier prepares engines and images.

pytest captures what fixtures print; preparing the tier (debootstrap, imports,
image builds) can take minutes, and a CI log must not stay silent that long.
These lines go to the terminal as they happen, with capturing suspended.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Mapping, Sequence

import pytest

# At most this long without a line while something slow runs.
HEARTBEAT = 15.0


def report(config: pytest.Config, line: str) -> None:
    """Show ``line`` on the terminal now, whatever pytest is capturing."""
    capture = config.pluginmanager.getplugin("capturemanager")
    terminal = config.pluginmanager.getplugin("terminalreporter")
    if terminal is None:  # -p no:terminal
        return
    if capture is None:
        terminal.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        terminal.write_line(line)


def run_reporting(
    config: pytest.Config, what: str, argv: Sequence[str], env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` capturing its output, with a line on the terminal at least every 15 s.

    The line says what runs, for how long, and the last thing it printed. Returns
    the output (stdout and stderr together, in order) as ``stdout``; past ``timeout``
    the process is killed (returncode -9, and the output says so).
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    output = b""
    last_report = start
    try:
        while True:
            now = time.monotonic()
            if now - start > timeout:
                proc.kill()
                output += f"\n(killed after {timeout:.0f}s)\n".encode()
                break
            wait = min(HEARTBEAT - (now - last_report), timeout - (now - start))
            ready = select.select([proc.stdout], [], [], max(0.0, wait))[0]
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                output += chunk
            if time.monotonic() - last_report >= HEARTBEAT:
                last_report = time.monotonic()
                lines = output.decode("utf-8", "replace").strip().splitlines()
                latest = lines[-1].strip()[:100] if lines else "(no output yet)"
                report(config, f"    {what}: {last_report - start:.0f}s ... {latest}")
    finally:
        proc.stdout.close()
        returncode = proc.wait()
    return subprocess.CompletedProcess(list(argv), returncode, output.decode("utf-8", "replace"), "")
