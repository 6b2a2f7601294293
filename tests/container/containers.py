"""Running the scenario images on either engine: one-off runs, detached containers, waiting on their output."""

from __future__ import annotations

import os
import select
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from tests.support.seed import generator

if TYPE_CHECKING:
    from tests.container.conftest import Engine

# Where OpenShift puts namespace UID ranges; none of these is in any image's /etc/passwd.
_UID_RANGE = (1_000_000_000, 2_000_000_000)
_UIDS = generator("arbitrary_uid")


def arbitrary_uid() -> int:
    """A random UID as OpenShift or ``runAsUser`` would assign: no passwd entry, group 0 (seeded)."""
    return _UIDS.randrange(*_UID_RANGE)


def as_user(uid: int) -> list[str]:
    """``run`` options for ``uid`` in group 0; no passwd entry is made for it, as under Docker
    and Kubernetes (every run here has :attr:`Engine.run_defaults`)."""
    return ["--user", f"{uid}:0"]


def unique_name(what: str) -> str:
    return f"pyenvboot-test-{what}-{uuid.uuid4().hex[:10]}"


def run_image(
    engine: Engine,
    image: str,
    *command: str,
    options: Sequence[str] = (),
    network: str = "none",
    check: bool = True,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``run --rm`` of ``image`` (its ENTRYPOINT, so ``pyenvboot exec``) with ``command``."""
    return engine(
        "run",
        "--rm",
        *engine.run_defaults,
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
    engine: Engine, image: str, script: str, uid: int, index_url: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``sh -c SCRIPT`` through the entrypoint as ``uid`` with pip pointed at ``index_url``; must succeed."""
    result = run_image(
        engine,
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
    engine: Engine,
    image: str,
    *command: str,
    options: Sequence[str] = (),
    network: str = "none",
    name: str | None = None,
) -> Iterator[str]:
    """A detached container (removed afterwards); yields its name."""
    name = name or unique_name("ctr")
    engine(
        "run", "-d", *engine.run_defaults, f"--network={network}", "--name", name, *options, image, *command, check=True
    )
    try:
        yield name
    finally:
        engine.remove_container(name)


def exec_in(
    engine: Engine, name: str, user: str, *command: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``exec`` into a running container as ``user`` (``UID:GID``), without the entrypoint: never a traceback."""
    options = [f"--env={k}={v}" for k, v in (env or {}).items()]
    result = engine("exec", "--user", user, *options, name, *command, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def wait_for_output(engine: Engine, container: str, text: str, timeout: float = 60) -> str:
    """Follow the container's log until a line contains ``text``; return the log so far.

    Fails the test, with the log, when the container ends or ``timeout`` passes first.
    """
    proc = subprocess.Popen(
        engine.argv("logs", "--follow", container),
        env=dict(engine.env),
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
