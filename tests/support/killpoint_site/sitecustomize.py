"""Loaded through PYTHONPATH by every Python process of a command under test: see tests/support/killpoints.py.

Counts the changes the process makes under ``TESTS_KILLPOINT_UNDER`` (audit events, PEP 578,
raised before the change is made) in a file shared with the other processes of the command, and
logs each one. Before change number ``TESTS_KILLPOINT_AT`` it SIGKILLs its whole process group,
or, with ``TESTS_KILLPOINT_PAUSE=1``, tells the test its PID through the ``paused`` FIFO and
waits until the test has opened and closed the ``resume`` FIFO.

With ``TESTS_KILLPOINT_STAGE=before:STAGE`` or ``after:STAGE`` it SIGKILLs its own process
instead, before or after ``init``'s stage STAGE: init raises the audit event
``pyenvboot.init.stage`` (name, "before" or "after") around each stage.
"""

import os
import select
import signal
import sys

_STATE = os.environ.get("TESTS_KILLPOINT_STATE")
# Audit events of changes to the file system whose first argument is the path changed.
_CHANGES = {
    "os.chmod",
    "os.chown",
    "os.link",
    "os.mkdir",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "shutil.rmtree",
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _install(state: str) -> None:
    under = os.environ["TESTS_KILLPOINT_UNDER"].rstrip("/") + "/"
    at = int(os.environ.get("TESTS_KILLPOINT_AT") or 0)
    pause = os.environ.get("TESTS_KILLPOINT_PAUSE") == "1"
    spare = int(os.environ["TESTS_KILLPOINT_SPARE"])
    # Opened before the hook exists: the hook's own writes raise no event.
    count = os.open(os.path.join(state, "count"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    log = os.open(os.path.join(state, "events"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    busy: "list[int]" = []

    def changed(event: str, args: tuple) -> str:  # type: ignore[type-arg]
        """The path ``event`` changes under ``under``, else ""."""
        if event == "open":  # io.open: (path, mode, flags); os.open: (path, None, flags)
            mode, flags = args[1], args[2]
            if not (isinstance(flags, int) and flags & _WRITE_FLAGS) and not (
                isinstance(mode, str) and set(mode) & set("wax+")
            ):
                return ""
        elif event not in _CHANGES:
            return ""
        path = args[1] if event in ("os.link", "os.symlink") else args[0]  # (target, new name)
        if hasattr(path, "__fspath__"):
            path = os.fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return path if isinstance(path, str) and (path + "/").startswith(under) else ""

    def hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if busy:
            return
        path = changed(event, args)
        if not path:
            return
        busy.append(1)
        try:
            os.write(count, b".")  # O_APPEND: one byte per change, whichever process makes it
            number = os.fstat(count).st_size
            os.write(log, ("%d %s %s\n" % (number, event, path)).encode())
            if number != at:
                return
            if pause:
                # The resume FIFO is open before the test learns the PID: its writer never waits.
                resume = os.open(os.path.join(state, "resume"), os.O_RDONLY | os.O_NONBLOCK)
                with open(os.path.join(state, "paused"), "w") as fifo:
                    fifo.write(str(os.getpid()))
                select.select([resume], [], [])  # readable once the test closed its end
                os.close(resume)
                return
            group = os.getpgrp()
            if group == spare:  # never the test runner's own group
                os.write(2, b"killpoint: refusing to kill the test runner's process group\n")
                os._exit(70)
            os.killpg(group, signal.SIGKILL)
        finally:
            busy.clear()

    sys.addaudithook(hook)


def _install_stage(spec: str) -> None:
    when, _, name = spec.partition(":")

    def hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if event == "pyenvboot.init.stage" and args == (name, when):
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)


if _STATE and hasattr(sys, "addaudithook"):
    _install(_STATE)
if os.environ.get("TESTS_KILLPOINT_STAGE") and hasattr(sys, "addaudithook"):
    _install_stage(os.environ["TESTS_KILLPOINT_STAGE"])
