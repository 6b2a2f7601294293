"""The activation environment, computed as pure functions: environment in, environment out.

Nothing here touches the file system or the process: the CLI, ``exec``, ``shell``
and the shell hook all derive their environment from these functions.
"""

from __future__ import annotations

import os

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Mapping, Optional

    # A change set: name -> new value, or None to unset the variable.
    Changes = Dict[str, Optional[str]]

DEFAULT_VENV = "/opt/venv"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOOK_RELPATH = "share/pyenvboot/hook.sh"


def venv_path(explicit: str | None, environ: Mapping[str, str]) -> str:
    """The venv directory: ``--venv``, else ``$PYENVBOOT_VENV``, else ``/opt/venv``.

    Returned normalised but unchecked; :func:`check_venv_path` validates it.
    """
    raw = explicit if explicit else environ.get("PYENVBOOT_VENV") or DEFAULT_VENV
    return os.path.normpath(raw) if raw.startswith("/") else raw


def hook_path(venv: str) -> str:
    """Where ``init`` writes the shell hook that BASH_ENV, ENV and PROMPT_COMMAND source."""
    return venv + "/" + HOOK_RELPATH


def path_with_first(path: str, directory: str) -> str:
    """``path`` with ``directory`` first and exactly once; empty entries dropped.

    Idempotent, so evaluating the activation twice does not grow PATH.
    """
    rest = [p for p in path.split(":") if p and p != directory]
    return ":".join([directory] + rest)


def activation_changes(environ: Mapping[str, str], venv: str) -> Changes:
    """What activating ``venv`` changes in ``environ``.

    PYTHONHOME is removed (it breaks any venv), the user site is turned off (an
    isolated venv must not see ``~/.local``), and the shell hooks are wired in so
    that ``docker exec`` shells that bypass the entrypoint still activate.
    """
    hook = hook_path(venv)
    return {
        "VIRTUAL_ENV": venv,
        "PYENVBOOT_VENV": venv,
        "PATH": path_with_first(environ.get("PATH", DEFAULT_PATH), venv + "/bin"),
        "PYTHONHOME": None,
        "PYTHONNOUSERSITE": "1",
        "BASH_ENV": hook,
        "ENV": hook,
        "PROMPT_COMMAND": ". " + sh_quote(hook),
    }


def apply_changes(environ: Mapping[str, str], changes: Changes) -> Dict[str, str]:
    """A new environment: ``environ`` with ``changes`` applied."""
    result = dict(environ)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def sh_quote(value: str) -> str:
    """Single-quote for POSIX sh (stdlib ``shlex`` would pull ``re`` into the fast path)."""
    return "'" + value.replace("'", "'\\''") + "'"


# Characters a Dockerfile ``ENV`` value may carry unquoted: no space, quote, ``$`` or ``\\``.
DOCKERFILE_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-:+,=@%")


def dockerfile_quote(value: str) -> str:
    """A value for a Dockerfile ``ENV`` line: as is when plain, else double-quoted (``$`` and ``\\`` escaped)."""
    if value and all(c in DOCKERFILE_PLAIN for c in value):
        return value
    return '"' + _dockerfile_escape(value) + '"'


def _dockerfile_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")


def dockerfile_value(name: str, value: str) -> str:
    """``ENV`` extends the image's environment: PATH is the venv's ``bin`` and then ``${PATH}``.

    Writing out the build host's PATH instead would bake its entries (pyenv shims,
    duplicates) into every image.
    """
    if name == "PATH":
        return '"%s:${PATH}"' % _dockerfile_escape(value.split(":", 1)[0])
    return dockerfile_quote(value)


def format_sh(changes: Changes) -> str:
    """``eval``-able POSIX sh."""
    lines = []
    for name, value in changes.items():
        if value is None:
            lines.append("unset " + name)
        else:
            lines.append("export " + name + "=" + sh_quote(value))
    return "\n".join(lines) + "\n"


def format_dockerfile(changes: Changes) -> str:
    """``ENV`` lines; a Dockerfile cannot unset, so removals become a comment."""
    sets = [(n, v) for n, v in changes.items() if v is not None]
    unsets = [n for n, v in changes.items() if v is None]
    out = []
    if unsets:
        out.append("# keep unset in the image: " + " ".join(unsets))
    out.append("ENV " + " \\\n    ".join(n + "=" + dockerfile_value(n, v) for n, v in sets))
    return "\n".join(out) + "\n"


def image_changes(venv: str) -> Changes:
    """What a Dockerfile sets after ``pyenvboot init``: the activation the image carries.

    Not PYENVBOOT_VENV (the Dockerfile sets it before ``init``, and the venv's
    launcher defaults to its own venv), and no removals (an ``ENV`` line cannot unset).
    """
    changes = activation_changes({}, venv)
    return {n: v for n, v in changes.items() if v is not None and n != "PYENVBOOT_VENV"}


def format_json(changes: Changes) -> str:
    """One JSON object; ``null`` means "unset"."""
    import json

    return json.dumps(changes, indent=2, sort_keys=False) + "\n"


FORMATTERS = {"sh": format_sh, "dockerfile": format_dockerfile, "json": format_json}
