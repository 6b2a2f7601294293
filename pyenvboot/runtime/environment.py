"""The app's environment: the venv path, the activation, and their composition with the identity.

The activation is pure functions, environment in, environment out: the CLI, ``exec``,
``shell`` and the shell hook all derive their environment from them. Two functions
here are the one place of their rule for every command: :func:`venv_path` (which
venv, and is it one) and :func:`runtime_changes` (activation plus identity).
"""

from __future__ import annotations

import os

from pyenvboot.errors import VenvError
from pyenvboot.runtime.contract import activated_path

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Mapping, Optional

    # A change set: name -> new value, or None to unset the variable.
    Changes = Dict[str, Optional[str]]

DEFAULT_VENV = "/opt/venv"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOOK_RELPATH = "share/pyenvboot/hook.sh"


def venv_path(explicit: str | None, environ: Mapping[str, str], existing: bool = False) -> str:
    """The venv directory: ``--venv``, else ``$PYENVBOOT_VENV``, else ``/opt/venv``; checked.

    Every command resolves its venv here, so one input fails one way everywhere:
    see :func:`check_venv`. Every command but ``init`` (which makes the venv) asks
    for an ``existing`` one.
    """
    return check_venv(explicit or environ.get("PYENVBOOT_VENV") or DEFAULT_VENV, existing)


def check_venv(venv: str, existing: bool = True) -> str:
    """``venv`` normalised, or :class:`VenvError` (exit 3): relative, or (``existing``) without pyvenv.cfg.

    A relative venv would change meaning with the working directory of every
    process that inherits ``PYENVBOOT_VENV``; a missing one would otherwise surface
    as 127 for ``python``.
    """
    if not venv.startswith("/"):
        raise VenvError("venv path %r is relative; use an absolute path (--venv or PYENVBOOT_VENV)" % venv)
    venv = os.path.normpath(venv)
    if existing and not os.path.isfile(venv + "/pyvenv.cfg"):
        raise VenvError("no venv at %s (pyvenv.cfg missing); run 'pyenvboot init --venv %s'" % (venv, venv))
    return venv


def hook_path(venv: str) -> str:
    """Where ``init`` writes the shell hook that BASH_ENV, ENV and PROMPT_COMMAND source."""
    return venv + "/" + HOOK_RELPATH


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
        "PATH": activated_path(environ.get("PATH"), venv + "/bin", DEFAULT_PATH),
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


def runtime_changes(environ: Mapping[str, str], venv: str, identity: bool = True, persist: bool = True) -> Changes:
    """What the app's environment changes: the activation, then the identity fix-ups for this UID.

    ``identity=False`` leaves the identity out (a diagnosis must not write
    ``/etc/passwd``); ``persist`` as :func:`pyenvboot.runtime.identity.fix_identity` takes it.
    """
    changes = activation_changes(environ, venv)
    if identity:
        from pyenvboot.runtime.identity import fix_identity

        changes.update(fix_identity(apply_changes(environ, changes), persist))
    return changes


def runtime_environment(
    environ: Mapping[str, str], venv: str, identity: bool = True, persist: bool = True
) -> Dict[str, str]:
    """The app's environment: ``environ`` with :func:`runtime_changes` applied."""
    return apply_changes(environ, runtime_changes(environ, venv, identity, persist))


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
