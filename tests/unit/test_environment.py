"""The activation environment as pure functions."""

from __future__ import annotations

import json

import pytest

from pyenvboot.runtime.contract import activated_path
from pyenvboot.runtime.environment import (
    DEFAULT_PATH,
    activation_changes,
    apply_changes,
    format_dockerfile,
    format_json,
    format_sh,
    hook_path,
    image_changes,
    venv_path,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/usr/bin:/bin", "/v/bin:/usr/bin:/bin"),
        ("/v/bin:/usr/bin", "/v/bin:/usr/bin"),
        # Named already: the user's order stays (the hook, sourced at every prompt, must not undo it).
        ("/usr/bin:/v/bin:/bin:/v/bin", "/usr/bin:/v/bin:/bin:/v/bin"),
        ("", "/v/bin"),
        # Empty entries are the current directory (POSIX XBD 8.3): kept, as a shell's PATH=/v/bin:$PATH keeps them.
        ("/usr/bin::/bin:", "/v/bin:/usr/bin::/bin:"),
        (":/usr/bin", "/v/bin::/usr/bin"),
        (None, "/v/bin:" + DEFAULT_PATH),
    ],
)
def test_venv_bin_is_prepended_unless_named(path: str, expected: str) -> None:
    assert activated_path(path, "/v/bin", DEFAULT_PATH) == expected


def test_activation_is_idempotent() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONHOME": "/junk", "HOME": "/root"}
    once = apply_changes(env, activation_changes(env, "/opt/venv"))
    twice = apply_changes(once, activation_changes(once, "/opt/venv"))
    assert once == twice
    assert once["PATH"].split(":").count("/opt/venv/bin") == 1


def test_activation_isolates_and_wires_hooks() -> None:
    env = {"PATH": "/usr/bin", "PYTHONHOME": "/usr"}
    changes = activation_changes(env, "/opt/venv")
    result = apply_changes(env, changes)
    assert "PYTHONHOME" not in result
    assert result["VIRTUAL_ENV"] == "/opt/venv"
    assert result["PYTHONNOUSERSITE"] == "1"
    assert result["BASH_ENV"] == result["ENV"] == hook_path("/opt/venv")
    assert hook_path("/opt/venv") in result["PROMPT_COMMAND"]
    assert env == {"PATH": "/usr/bin", "PYTHONHOME": "/usr"}, "input must not be modified"


def test_missing_path_gets_a_default() -> None:
    result = activation_changes({}, "/v")
    assert result["PATH"] is not None
    assert result["PATH"].startswith("/v/bin:") and "/usr/bin" in result["PATH"]


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        (None, {}, "/opt/venv"),
        (None, {"PYENVBOOT_VENV": "/srv/env/"}, "/srv/env"),
        ("/a//b/", {"PYENVBOOT_VENV": "/srv/env"}, "/a/b"),
    ],
)
def test_venv_path_precedence(explicit: str, environ: dict, expected: str) -> None:  # type: ignore[type-arg]
    assert venv_path(explicit, environ) == expected


def test_sh_format_quotes_and_unsets() -> None:
    text = format_sh({"A": "it's $HOME", "B": None})
    assert "export A='it'\\''s $HOME'" in text
    assert "unset B" in text


def test_dockerfile_format_escapes_and_comments_unset() -> None:
    text = format_dockerfile({"P": 'a"$b\\', "U": None})
    assert text.startswith("# keep unset in the image: U\n")
    assert 'ENV P="a\\"\\$b\\\\"' in text


def test_dockerfile_format_quotes_only_what_needs_it() -> None:
    text = format_dockerfile({"A": "/opt/venv", "B": "1", "C": "a b", "D": ""})
    assert text == 'ENV A=/opt/venv \\\n    B=1 \\\n    C="a b" \\\n    D=""\n'


def test_dockerfile_path_extends_the_images_path() -> None:
    """Not the build's PATH: an ENV line builds on the image's own ``${PATH}``."""
    changes = activation_changes({"PATH": "/root/.pyenv/shims:/usr/bin:/usr/bin"}, "/opt/my venv")
    assert format_dockerfile({"PATH": changes["PATH"]}) == 'ENV PATH="/opt/my venv/bin:${PATH}"\n'


def test_image_changes_are_what_the_image_sets_after_init() -> None:
    assert image_changes("/opt/venv") == {
        "VIRTUAL_ENV": "/opt/venv",
        "PATH": "/opt/venv/bin:" + DEFAULT_PATH,
        "PYTHONNOUSERSITE": "1",
        "BASH_ENV": "/opt/venv/share/pyenvboot/hook.sh",
        "ENV": "/opt/venv/share/pyenvboot/hook.sh",
        "PROMPT_COMMAND": ". '/opt/venv/share/pyenvboot/hook.sh'",
    }


def test_json_format_is_one_object_with_null_for_unset() -> None:
    data = json.loads(format_json({"A": "1", "B": None}))
    assert data == {"A": "1", "B": None}
