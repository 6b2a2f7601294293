"""The venv interpreter's start-up guard: group-writable files and a PID 1 that stops on SIGTERM.

``site`` executes every line of a ``.pth`` file in site-packages that starts with
``import`` (``site.addpackage``), in every interpreter that imports ``site``. The
venv's ``site-packages/00-pyenvboot-guard.pth`` holds one such line, so every
Python process started from the venv's interpreter runs it, whoever starts it: a
plain ``docker exec CTR pip install``, a root ``RUN python -m pip``, poetry, cron.
It does not run under ``python -S`` (no ``site``) and is skipped by nothing else:
``-I`` and ``-E`` still import ``site`` and read site-packages' ``.pth`` files. A
foreign interpreter (the base ``python3`` itself) never reads the venv's
site-packages, and the guard does not apply there.

The line does two things and nothing else:

1. It clears the group-write bit of the umask (``umask & ~0o020``), so files this
   process creates in the setgid, group-owned venv stay writable for the group.
   Every other bit is kept: a world-write bit is never granted.
2. When the process is PID 1 of its PID namespace and SIGTERM's disposition is
   still the default, it imports :data:`PID1_MODULE`, which installs a handler
   (see :data:`PID1_SOURCE` for why and how it exits).

No third-party installer records these two files, so ``pip install -U pip`` or
``pip uninstall`` never removes them; ``init`` (re)writes them on every run.
"""

from __future__ import annotations

import os
from typing import List

from pyenvboot.venv.files import write_atomic

# Sorted first among the .pth files (site.addsitedir sorts them): the umask is set
# before any other start-up code of the venv can write a file.
PTH_NAME = "00-pyenvboot-guard.pth"
PID1_MODULE = "_pyenvboot_pid1"

# One line: site.addpackage exec()s it; a non-import line would be read as a path.
# Setting a umask is the only way Python reads it; nothing runs between the two calls.
PTH_LINE = "import os; os.umask(os.umask(0o777) & ~0o020); os.getpid() != 1 or __import__(%r)" % PID1_MODULE

PTH_TEXT = (
    "# pyenvboot: every process of this venv's python writes group-writable files, and as PID 1 stops on\n"
    "# SIGTERM. Written by 'pyenvboot init'; see the README (the venv's start-up guard).\n" + PTH_LINE + "\n"
)

PID1_SOURCE = '''\
"""pyenvboot: give a PID 1 Python the effect SIGTERM has on any other process.

The kernel never delivers a signal whose disposition is the default to the init
process of a PID namespace (signal(7), pid_namespaces(7): only signals it has a
handler for), and CPython installs no SIGTERM handler (signal module docs: only
SIGINT gets one, SIGPIPE and SIGXFSZ are ignored). So `python app.py` as a
container's PID 1 ignores `docker stop`, which then kills it with SIGKILL (137).

Re-raising SIGTERM after resetting it to SIG_DFL cannot work for PID 1 (the kernel
drops it again), so the handler raises SystemExit(128 + SIGTERM): `finally` blocks
and atexit handlers run, stdio is flushed, and the exit status, 143, is the one a
shell and the container engines report for a process killed by SIGTERM. Python
runs the handler in the main thread between bytecodes (signal module docs), so a
main thread blocked in a system call is woken up (PEP 475 retries only when the
handler returns).

A process forked from PID 1 inherits the handler but is not PID 1: there it restores
the default and re-sends the signal, which then kills it as usual. An app that sets
its own SIGTERM handler later simply replaces this one.
"""

import os

import _signal  # the C module: ``signal`` would import ``enum`` on every PID 1 start


def _terminate(signum, frame):
    if os.getpid() == 1:
        raise SystemExit(128 + signum)
    _signal.signal(signum, _signal.SIG_DFL)
    os.kill(os.getpid(), signum)


if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
    _signal.signal(_signal.SIGTERM, _terminate)
'''


def guard_files(purelib: str) -> List[str]:
    """The paths :func:`write_guard` writes into ``purelib``."""
    return [os.path.join(purelib, PTH_NAME), os.path.join(purelib, PID1_MODULE + ".py")]


def write_guard(purelib: str) -> None:
    """Write (or rewrite, unchanged files left alone) the guard into the venv's ``purelib``."""
    pth, module = guard_files(purelib)
    for path, text in ((module, PID1_SOURCE), (pth, PTH_TEXT)):
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except (OSError, UnicodeDecodeError):
            pass
        write_atomic(path, text)
