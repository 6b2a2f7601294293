"""Scenario 3 (issue 3): ``docker exec`` / ``podman exec`` bypasses the entrypoint, and still gets the venv.

Plain commands see the venv through the image's ``ENV`` lines; ``bash -c``
(``BASH_ENV``), interactive bash (``PROMPT_COMMAND``) and interactive sh (``ENV``)
also run the hook: umask 0002 and a user name for a UID without a passwd entry,
and never a second activation (venv ``bin`` once in PATH, one prompt marker).

Each check runs as the container's own arbitrary UID (whose identity the
entrypoint already worked out) and as another one that exec alone brings in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, running, value, wait_for_output
from tests.support.pty import interact

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images

pytestmark = pytest.mark.container

VENV_BIN = "/opt/venv/bin"
REPORT = (
    'echo "path=$PATH"; echo "umask=$(umask)"; echo "whoami=$(whoami 2>&1)"; echo "user=${USER-}";'
    ' echo "home=$HOME"; echo "python=$(command -v python)"'
)


@pytest.fixture(scope="module")
def container(engine: Engine, images: Images) -> Iterator[tuple[str, int]]:
    """A running example image as an arbitrary UID: (name, uid)."""
    uid = arbitrary_uid()
    app = "echo ready; exec sleep infinity"
    with running(engine, images.example("debian12"), "sh", "-c", app, options=as_user(uid)) as name:
        wait_for_output(engine, name, "ready")
        yield name, uid


@pytest.fixture(params=["same-uid", "other-uid"])
def exec_user(request: pytest.FixtureRequest, container: tuple[str, int]) -> list[str]:
    """``exec`` options: the container's UID, or another arbitrary one in group 0."""
    if request.param == "same-uid":
        return []
    return ["--user", f"{arbitrary_uid()}:0"]


def engine_exec(engine: Engine, container: tuple[str, int], user: list[str], *command: str) -> str:
    result = engine("exec", *user, container[0], *command, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout


def assert_venv_once(path: str) -> None:
    entries = path.split(":")
    assert entries[0] == VENV_BIN, path
    assert entries.count(VENV_BIN) == 1, f"activated twice: {path}"


def test_python_sees_the_venv(engine: Engine, container: tuple[str, int], exec_user: list[str]) -> None:
    out = engine_exec(engine, container, exec_user, "python", "-c", "import sys; print('prefix=' + sys.prefix)")
    assert value("prefix", out) == "/opt/venv"


def test_bash_c_gets_venv_umask_and_name(engine: Engine, container: tuple[str, int], exec_user: list[str]) -> None:
    out = engine_exec(engine, container, exec_user, "bash", "-c", REPORT)
    assert_venv_once(value("path", out))
    assert value("python", out) == f"{VENV_BIN}/python"
    assert value("umask", out) == "0002"
    assert value("whoami", out) == "default"
    assert value("user", out) == "default"
    assert value("home", out) == "/home/pyenvboot"


def test_nested_bash_c_does_not_activate_twice(
    engine: Engine, container: tuple[str, int], exec_user: list[str]
) -> None:
    out = engine_exec(engine, container, exec_user, "bash", "-c", "bash -c 'bash -c \"echo path=\\$PATH\"'")
    assert_venv_once(value("path", out))


def test_sh_c_sees_the_venv(engine: Engine, container: tuple[str, int], exec_user: list[str]) -> None:
    """A non-interactive sh reads no hook: the venv comes from the image's ENV lines alone."""
    out = engine_exec(
        engine, container, exec_user, "sh", "-c", REPORT + "; python -c 'import sys; print(\"prefix=\" + sys.prefix)'"
    )
    assert_venv_once(value("path", out))
    assert value("python", out) == f"{VENV_BIN}/python"
    assert value("prefix", out) == "/opt/venv"


def interactive_session(engine: Engine, container: tuple[str, int], user: list[str], shell: str, name: str) -> str:
    """``exec -it CTR SHELL`` on a pty with a nested ``SHELL -i``: venv once, umask 0002, a name, one marker.

    ``name`` is what the session echoes as its user name (``$(whoami)``, ``$USER``). Returns the output.
    """
    typed = 'echo "P=$PATH"\necho "U=$(umask)"\necho "W=%s"\n%s -i\necho "Q=$PATH"\nexit\nexit\n' % (name, shell)
    out = interact(engine.argv("exec", "-it", *user, container[0], shell), dict(engine.env), typed, timeout=120)
    # Answers follow a prompt and terminal escapes; the terminal's echo of the typed
    # lines ("P=$PATH") never matches a value starting with "/" or a digit.
    paths = re.findall(r"\b[PQ]=(/[^\s\x1b]*)", out)
    assert len(paths) == 2, out
    for path in paths:
        assert_venv_once(path)
    assert re.search(r"\bU=0002\b", out), out
    assert re.search(r"\bW=default\b", out), out
    assert "(venv) " in out, out
    assert "(venv) (venv)" not in out, "the prompt marker was added twice:\n" + out
    return out


# Interactive bash reads its user name before PROMPT_COMMAND runs the hook, so the
# hook must rewrite PS1's \u, whether it found the name in the entrypoint's cache
# (same UID) or by running pyenvboot (another UID).
@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_interactive_shell_activates_once(
    engine: Engine, container: tuple[str, int], exec_user: list[str], shell: str
) -> None:
    """``docker exec -it CTR bash`` (or sh, or podman's) on a real terminal, typed at like a person would."""
    out = interactive_session(engine, container, exec_user, shell, "$(whoami)")
    assert "I have no name!" not in out, out
    assert "bad substitution" not in out, out
