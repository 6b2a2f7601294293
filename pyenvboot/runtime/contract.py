"""The exec path's rules, once: each in Python and in the POSIX sh the hook and the launcher run.

The shell hook (:mod:`pyenvboot.runtime.hook`) and the launcher's fast path
(:mod:`pyenvboot.runtime.launcher`) do in sh what ``pyenvboot exec`` does in Python,
so that a ``docker exec`` shell and a container start need no Python process. Both
sides take each rule from here, and tests/integration/test_contract.py runs both on
every case either side branches on, comparing what the app sees: its environment,
umask, exit code and stderr.

=============  ================================================================
rule           both sides
=============  ================================================================
umask          002, whatever the umask was.
PATH           ``VENV/bin`` prepended, unless PATH names it already (then PATH
               stays as the user ordered it, so the hook, sourced at every
               prompt, never undoes a ``PATH=...:$PATH``). Every other entry is
               kept, empty ones too. Set but empty: ``VENV/bin``. Unset: Python
               takes :data:`~pyenvboot.runtime.environment.DEFAULT_PATH`, which
               is dash's built-in PATH.
command        A name with a ``/`` is that file; else each PATH entry in order,
search         an empty one (leading, doubled or trailing ``:``) meaning the
               current directory as in POSIX (XBD 8.3) and ``execvp(3)``: the
               first regular file the real UID may execute. None: exit 127, and
               126 for a file found but not executable, each with one stderr
               line; sh hands these to Python, which words them.
usable HOME    Set, not ``/``, a directory the real UID may write *and* search
               (``access(2)`` ``W_OK|X_OK``: a file cannot be made in a
               directory without search permission; ``test -w``/``-x`` in dash
               and bash are ``access(2)``, so a read-only mount is not writable).
identity       With USER, LOGNAME and a usable HOME all set, identity is left
untouched      alone: no lookup, nothing written.
the UID        The real UID (sh: ``Uid:`` in ``/proc/self/status``, never a
               ``$UID`` from the environment).
its name       The first ``/etc/passwd`` line with that UID (Python asks NSS,
               which for a container's ``passwd: files`` is the same file).
               USER and LOGNAME are set to it only where empty.
HOME           The first usable of: $HOME, the passwd home, the shared home
               ($PYENVBOOT_HOME, else /home/pyenvboot), the private home under
               TMPDIR (made by Python in a started container only; sh uses it
               when the cached identity names it).
nameless UID   Python picks a name and writes it (passwd, nss_wrapper) and the
               identity cache; sh sources that cache (owned by the UID, no
               symlink) when it was made for the same PYENVBOOT_USER,
               PYENVBOOT_NSS_WRAPPER and LD_PRELOAD, and prints its warning.
hand-over      Anything else (no name, no usable HOME): sh runs Python, which
               decides, warns and exits as ``pyenvboot exec`` does.
=============  ================================================================
"""

from __future__ import annotations

import os

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional

UMASK = 0o002
DEFAULT_HOME = "/home/pyenvboot"
IDENTITY_CACHE = "identity.sh"  # in the private runtime dir
# The inputs a cached nameless identity was computed from: another value, another identity.
CACHE_KEYS = ("PYENVBOOT_USER", "PYENVBOOT_NSS_WRAPPER", "LD_PRELOAD")


def activated_path(path: Optional[str], directory: str, default: str) -> str:
    """PATH with ``directory`` (VENV/bin) in it, by the PATH rule above; idempotent."""
    if path is None:
        path = default
    if not path:
        return directory
    return path if directory in path.split(":") else directory + ":" + path


def first_executable(name: str, path: str) -> Optional[str]:
    """The file a search of ``path`` runs for ``name``, by the command search rule above."""
    if "/" in name:
        return name
    for directory in path.split(":"):
        candidate = (directory or ".") + "/" + name
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def usable_home(home: Optional[str]) -> bool:
    """A HOME programs can write to, by the usable HOME rule above."""
    return bool(home) and home != "/" and os.path.isdir(home) and os.access(home, os.W_OK | os.X_OK)  # type: ignore[arg-type]


def identity_untouched(environ: Mapping[str, str]) -> bool:
    """USER, LOGNAME and a usable HOME are all set: identity is left alone."""
    return bool(environ.get("USER")) and bool(environ.get("LOGNAME")) and usable_home(environ.get("HOME"))


def shared_home(environ: Mapping[str, str]) -> str:
    return environ.get("PYENVBOOT_HOME") or DEFAULT_HOME


# -- the same rules in sh ------------------------------------------------------------------------


def sh_indent(text: str, width: int) -> str:
    """``text`` (sh lines) indented by ``width`` spaces, to sit inside a block."""
    return "".join(" " * width + line if line.strip() else line for line in text.splitlines(True))


def sh_usable_home(word: str) -> str:
    """The usable HOME rule as an sh condition on ``word`` (a quoted expansion)."""
    return '[ -n %s ] && [ %s != / ] && [ -d %s ] && [ -w %s ] && [ -x %s ]' % ((word,) * 5)


def sh_activate_path(bin_dir: str) -> str:
    """The PATH rule: ``bin_dir`` (sh-quoted) prepended unless PATH names it."""
    return (
        'case ":${PATH-}:" in\n'
        "  *:%s:*) ;;\n"
        '  *) PATH=%s"${PATH:+:$PATH}"; export PATH ;;\n'
        "esac\n"
    ) % (bin_dir, bin_dir)


# Sets _pyenvboot_fast when the command in $1 is an executable file (the command search rule).
SH_COMMAND_SEARCH = """\
case $1 in
  */*) if [ -f "$1" ] && [ -x "$1" ]; then _pyenvboot_fast=1; fi ;;
  *)
    # "$PATH:" so that a trailing empty entry is a field of its own.
    set -f; _pyenvboot_ifs=$IFS; IFS=:; _pyenvboot_p="$PATH:"
    for _pyenvboot_d in $_pyenvboot_p; do
      if [ -f "${_pyenvboot_d:-.}/$1" ] && [ -x "${_pyenvboot_d:-.}/$1" ]; then _pyenvboot_fast=1; break; fi
    done
    IFS=$_pyenvboot_ifs; set +f; unset _pyenvboot_p ;;
esac
"""

# _pyenvboot_uid: the real UID, or empty without /proc.
SH_REAL_UID = """\
_pyenvboot_uid=
{ while read -r _pyenvboot_k _pyenvboot_v _pyenvboot_r; do
    if [ "$_pyenvboot_k" = Uid: ]; then _pyenvboot_uid=$_pyenvboot_v; break; fi
  done < /proc/self/status; } 2>/dev/null
"""

# _pyenvboot_n, _pyenvboot_ph: name and home of the UID's first /etc/passwd line, or empty.
SH_PASSWD_ENTRY = """\
_pyenvboot_n=; _pyenvboot_ph=
if [ -n "$_pyenvboot_uid" ]; then
  { while IFS=: read -r _pyenvboot_k _pyenvboot_v _pyenvboot_r _pyenvboot_g _pyenvboot_c _pyenvboot_h _pyenvboot_s \\
      || [ -n "$_pyenvboot_k" ]; do
      if [ "$_pyenvboot_r" = "$_pyenvboot_uid" ]; then
        _pyenvboot_n=$_pyenvboot_k; _pyenvboot_ph=$_pyenvboot_h; break
      fi
      _pyenvboot_k=
    done < /etc/passwd; } 2>/dev/null
fi
"""


def sh_cached_identity() -> str:
    """For a nameless UID: source the identity cache Python left (see :func:`cache_text`)."""
    return """\
_pyenvboot_private=; _pyenvboot_x=; _pyenvboot_w=
if [ -z "$_pyenvboot_n" ] && [ -n "$_pyenvboot_uid" ]; then
  _pyenvboot_f="${TMPDIR:-/tmp}/pyenvboot-$_pyenvboot_uid/%s"
  if [ -O "${_pyenvboot_f%%/*}" ] && [ -O "$_pyenvboot_f" ] && [ ! -h "$_pyenvboot_f" ]; then . "$_pyenvboot_f"; fi
fi
""" % IDENTITY_CACHE


# _pyenvboot_h: the first usable of $HOME, the passwd home, the shared home, the cached private home.
SH_CHOOSE_HOME = """\
for _pyenvboot_h in "${HOME-}" "$_pyenvboot_ph" "${PYENVBOOT_HOME:-%s}" "${_pyenvboot_private-}"; do
  if %s; then break; fi
  _pyenvboot_h=
done
""" % (DEFAULT_HOME, sh_usable_home('"$_pyenvboot_h"'))


def cache_text(environ: Mapping[str, str], name: str, private: Optional[str], exports: str, warning: str) -> str:
    """The identity cache: sh that names a nameless UID, for the same :data:`CACHE_KEYS` only.

    It sets sh variables only; the hook exports ``exports`` once it has a HOME too,
    so that a hand-over to Python starts from the untouched environment.
    """
    from pyenvboot.runtime.environment import sh_quote

    keys = " && ".join('[ "${%s-}" = %s ]' % (k, sh_quote(environ.get(k, ""))) for k in CACHE_KEYS)
    return "if %s; then\n  _pyenvboot_n=%s; _pyenvboot_private=%s; _pyenvboot_x=%s; _pyenvboot_w=%s\nfi\n" % (
        keys,
        sh_quote(name),
        sh_quote(private or ""),
        sh_quote(exports),
        sh_quote(warning),
    )
