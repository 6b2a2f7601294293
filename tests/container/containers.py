"""Running the scenario images: one-off runs, detached containers, waiting on their output."""

from __future__ import annotations

import os
import select
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from tests.support.seed import generator

if TYPE_CHECKING:
    from tests.container.conftest import Podman

# Where OpenShift puts namespace UID ranges; none of these is in any image's /etc/passwd.
_UID_RANGE = (1_000_000_000, 2_000_000_000)
_UIDS = generator("arbitrary_uid")


def arbitrary_uid() -> int:
    """A random UID as OpenShift or ``runAsUser`` would assign: no passwd entry, group 0 (seeded)."""
    return _UIDS.randrange(*_UID_RANGE)


def as_user(uid: int) -> list[str]:
    """podman options for ``uid`` in group 0 with no passwd entry, as under Docker and Kubernetes."""
    return ["--user", f"{uid}:0", "--passwd=false"]


def unique_name(what: str) -> str:
    return f"pyenvboot-test-{what}-{uuid.uuid4().hex[:10]}"


def run_image(
    podman: Podman,
    image: str,
    *command: str,
    options: Sequence[str] = (),
    network: str = "none",
    check: bool = True,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``podman run --rm`` of ``image`` (its ENTRYPOINT, so ``pyenvboot exec``) with ``command``."""
    return podman(
        "run",
        "--rm",
        "--pull=never",
        f"--network={network}",
        *(["-i"] if input is not None else []),
        *options,
        image,
        *command,
        check=check,
        timeout=timeout,
        input=input,
    )


def run_script_as(
    podman: Podman, image: str, script: str, uid: int, index_url: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``sh -c SCRIPT`` through the entrypoint as ``uid`` with pip pointed at ``index_url``; must succeed."""
    result = run_image(
        podman,
        image,
        "sh",
        "-c",
        script,
        options=[*as_user(uid), "--env", f"PIP_INDEX_URL={index_url}"],
        network="host",
        check=False,
        timeout=timeout,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@contextmanager
def running(
    podman: Podman,
    image: str,
    *command: str,
    options: Sequence[str] = (),
    network: str = "none",
    name: str | None = None,
) -> Iterator[str]:
    """A detached container (removed afterwards); yields its name."""
    name = name or unique_name("ctr")
    podman("run", "-d", "--pull=never", f"--network={network}", "--name", name, *options, image, *command, check=True)
    try:
        yield name
    finally:
        podman("rm", "--force", "--time", "0", name, timeout=120)


def wait_for_output(podman: Podman, container: str, text: str, timeout: float = 60) -> str:
    """Follow the container's log until a line contains ``text``; return the log so far.

    Fails the test, with the log, when the container ends or ``timeout`` passes first.
    """
    proc = subprocess.Popen(
        ["podman", "logs", "--follow", container],
        env=dict(podman.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while text.encode() not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                pytest.fail(f"no {text!r} from {container} within {timeout:.0f}s; log:\n{seen.decode()}")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                pytest.fail(f"{container} ended before printing {text!r}; log:\n{seen.decode()}")
            seen += chunk
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return seen.decode()


def lines_with(prefix: str, output: str) -> list[str]:
    """The values of ``prefix=VALUE`` lines in ``output`` (what the test apps print)."""
    return [line[len(prefix) + 1 :] for line in output.splitlines() if line.startswith(prefix + "=")]


def value(prefix: str, output: str) -> str:
    """The one ``prefix=VALUE`` line's value; fails the test when there is not exactly one."""
    found = lines_with(prefix, output)
    assert len(found) == 1, f"expected one {prefix}= line in:\n{output}"
    return found[0]
