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
the UID        The real UID (sh: bash's own ``$UID``, else ``Uid:`` in
               ``/proc/self/status``; never a ``$UID`` from the environment).
its name       The first ``/etc/passwd`` line with that UID (Python asks NSS,
               which for a container's ``passwd: files`` is the same file).
               USER and LOGNAME are set to it only where empty.
HOME           The first usable of: $HOME, the passwd home, the shared home
               ($PYENVBOOT_HOME, else /home/pyenvboot), the private home under
               TMPDIR (made by Python in a started container only; sh uses it
               when the cached identity names it).
nameless UID   Python picks a name and writes it (passwd, nss_wrapper) and the
               identity cache; sh sources that cache (owned by the UID, no
               symlink) when it was made in this container (see *this
               container*) for the same PYENVBOOT_USER, PYENVBOOT_NSS_WRAPPER
               and LD_PRELOAD, and prints its warning.
               The launcher's sh makes a first start itself where that takes
               no lock and no quoting (see :data:`SH_FIRST_START`).
               nss_wrapper's passwd, once made, stays while it differs from
               what a start would write at most in the home field (sh never
               rewrites it; Python keeps it then).
this container The kernel's boot id and the start time of the pid namespace's
               PID 1 (field 22 of ``/proc/1/stat``, proc(5)): it names the
               started-container marker and keys the identity cache. A cache
               that a build step's ``pyenvboot exec`` left in an image layer,
               or ``docker commit`` kept, names another PID 1, and with it a
               copy of /etc/passwd that a later layer may have changed.
runtime files  nss_wrapper's passwd and the identity cache: in a sticky TMPDIR
               (/tmp: only a file's owner may replace it, unlink(2)) the files
               ``TMPDIR/pyenvboot-UID-NAME``, made with O_EXCL; elsewhere
               (an emptyDir volume is 0777) ``NAME`` in the private dir
               ``TMPDIR/pyenvboot-UID`` (0700, the UID's). TMPDIR without its
               trailing slashes; unset or empty: /tmp.
hand-over      Anything else (no name, no usable HOME): sh runs Python, which
               decides, warns and exits as ``pyenvboot exec`` does.
=============  ================================================================
"""

from __future__ import annotations

import os

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Mapping, Optional

UMASK = 0o002
DEFAULT_USER = "default"
# A name pyenvboot writes into a passwd file: Debian useradd's rule (lower case, at most 32 characters),
# which excludes ':' and newlines, so a name can never add or alter a passwd line.
NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz_")
NAME_REST = NAME_FIRST | frozenset("0123456789-.")
NAME_MAX = 32
PASSWD_GECOS = "pyenvboot user"
PASSWD_SHELL = "/bin/sh"
# Where libnss_wrapper.so is looked for, with /usr/lib/*-linux-gnu (Debian's multiarch dirs) after the first.
NSS_WRAPPER_DIRS = ("/usr/lib64", "/usr/lib", "/lib64", "/lib")
DEFAULT_HOME = "/home/pyenvboot"
IDENTITY_CACHE = "identity.sh"  # a runtime file (see runtime files below)
NSS_PASSWD = "passwd"  # a runtime file: nss_wrapper's copy of /etc/passwd
# The inputs a cached nameless identity was computed from: another value, another identity.
CACHE_KEYS = ("PYENVBOOT_USER", "PYENVBOOT_NSS_WRAPPER", "LD_PRELOAD")


def activated_path(path: Optional[str], directory: str, default: str) -> str:
    """PATH with ``directory`` (VENV/bin) in it, by the PATH rule above; idempotent."""
    if path is None:
        path = default
    if not path:
        return directory
    return path if directory in path.split(":") else directory + ":" + path


def search_order(name: str, path: str) -> List[str]:
    """The files a search of ``path`` tries for ``name``, in order, by the command search rule above."""
    if "/" in name:
        return [name]
    return [(directory or ".") + "/" + name for directory in path.split(":")]


def first_executable(name: str, path: str) -> Optional[str]:
    """The file a search of ``path`` runs for ``name``, by the command search rule above."""
    if "/" in name:
        return name
    for candidate in search_order(name, path):
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
    return "[ -n %s ] && [ %s != / ] && [ -d %s ] && [ -w %s ] && [ -x %s ]" % ((word,) * 5)


def sh_activate_path(bin_dir: str) -> str:
    """The PATH rule: ``bin_dir`` (sh-quoted) prepended unless PATH names it."""
    return ('case ":${PATH-}:" in\n  *:%s:*) ;;\n  *) PATH=%s"${PATH:+:$PATH}"; export PATH ;;\nesac\n') % (
        bin_dir,
        bin_dir,
    )


def sh_bracket(chars: frozenset[str], negate: bool = False) -> str:
    """An sh bracket expression matching one of ``chars`` (or, ``negate``, any other character).

    The characters are listed one by one, never as a range: ``[a-z]`` follows the
    locale's collation in some shells, the explicit list does not. ``-`` goes last,
    where it is literal.
    """
    listed = "".join(sorted(chars - {"-"})) + ("-" if "-" in chars else "")
    return "[%s%s]" % ("!" if negate else "", listed)


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

# _pyenvboot_uid: the real UID, or empty without /proc. Not $UID as such: dash does not set it, and
# bash takes a UID from the environment over its own. bash's own is readonly and not exported
# (attributes "ir"): that one is taken, as reading /proc/self/status costs bash ~0.3 ms. The test of
# the attributes is bash syntax, so it runs where BASH_VERSION is set and $- has bash's "B".
# _pyenvboot_gid: the real GID when /proc was read (the next line: proc(5)), for a first start.
SH_REAL_UID = """\
_pyenvboot_uid=; _pyenvboot_gid=
case ${BASH_VERSION-}:$- in ?*:*B*) eval 'case ${UID@a} in ir) _pyenvboot_uid=$UID ;; esac' 2>/dev/null ;; esac
if [ -z "$_pyenvboot_uid" ]; then
  { while read -r _pyenvboot_k _pyenvboot_v _pyenvboot_r; do
      case $_pyenvboot_k in Uid:) _pyenvboot_uid=$_pyenvboot_v ;; Gid:) _pyenvboot_gid=$_pyenvboot_v; break ;; esac
    done < /proc/self/status; } 2>/dev/null
fi
"""

# _pyenvboot_n, _pyenvboot_ph: name and home of the UID's first /etc/passwd line, or empty.
# _pyenvboot_t: set when a line before it (all of them, for a nameless UID) has the name a first start
# would give (Python asks NSS: for a container, this file). One pass: dash's read builtin reads a
# byte per read(2), so each pass over the file costs ~1 ms. The launcher (_pyenvboot_fast, dash) also
# keeps the lines for nss_wrapper's copy in _pyenvboot_all, each ending in a newline, so a first start
# needs no second pass; so it takes fields by expansion, which leaves the line whole (colons are
# appended so that every field exists), up to PASSWD_KEPT lines (concatenation is quadratic; then
# _pyenvboot_kept is "x" and a first start reads the file again). Elsewhere read splits the fields:
# bash runs that loop ~0.2 ms faster on Debian's passwd, on every `bash -c` of a nameless UID.
# A field has no ':', so "UID:NAME" splits one way only. _pyenvboot_nl is SH_NEWLINE's: that text is
# not indented, as sh_indent would indent the line with its closing quote.
PASSWD_KEPT = 1000
SH_NEWLINE = "_pyenvboot_nl='\n'\n"
SH_PASSWD_ENTRY = """\
_pyenvboot_n=; _pyenvboot_ph=; _pyenvboot_t=; _pyenvboot_all=; _pyenvboot_kept=0
_pyenvboot_f=${PYENVBOOT_USER:-%(user)s}
if [ -z "$_pyenvboot_uid" ]; then :
elif [ -z "${_pyenvboot_fast-}" ]; then
  { while IFS=: read -r _pyenvboot_k _pyenvboot_v _pyenvboot_r _pyenvboot_g _pyenvboot_c _pyenvboot_h _pyenvboot_s \\
      || [ -n "$_pyenvboot_k" ]; do
      case $_pyenvboot_r:$_pyenvboot_k in
        "$_pyenvboot_uid":*) _pyenvboot_n=$_pyenvboot_k; _pyenvboot_ph=$_pyenvboot_h; break ;;
        *:"$_pyenvboot_f") _pyenvboot_t=1 ;;
      esac
      _pyenvboot_k=
    done < /etc/passwd; } 2>/dev/null
  _pyenvboot_kept=x
else
  { while IFS= read -r _pyenvboot_l || [ -n "$_pyenvboot_l" ]; do
      _pyenvboot_r=$_pyenvboot_l::::::
      _pyenvboot_k=${_pyenvboot_r%%%%:*}
      _pyenvboot_r=${_pyenvboot_r#*:*:}
      case ${_pyenvboot_r%%%%:*}:$_pyenvboot_k in
        "$_pyenvboot_uid":*)
          _pyenvboot_n=$_pyenvboot_k; _pyenvboot_ph=${_pyenvboot_r#*:*:*:}; _pyenvboot_ph=${_pyenvboot_ph%%%%:*}
          break ;;
        *:"$_pyenvboot_f") _pyenvboot_t=1 ;;
      esac
      case $_pyenvboot_kept in
        %(kept)d) _pyenvboot_all=; _pyenvboot_kept=x ;;
        [0-9]*) _pyenvboot_all=$_pyenvboot_all$_pyenvboot_l$_pyenvboot_nl; _pyenvboot_kept=$((_pyenvboot_kept + 1)) ;;
      esac
      _pyenvboot_l=
    done < /etc/passwd; } 2>/dev/null
fi
""" % {"user": DEFAULT_USER, "kept": PASSWD_KEPT}


# This container, as :func:`pyenvboot.runtime.state.container_id` reads it, in _pyenvboot_ctr (empty when
# /proc cannot tell). The 19 fields between the command name's last ") " and the start time are dropped
# by prefix patterns, not split, so the IFS of the interactive shell that sources the hook does not
# matter: three at a time (dash backtracks on a pattern of many "*": 19 at once took 39 ms; these take
# what splitting into a function's arguments took, ~0.1 ms).
SH_CONTAINER = """\
_pyenvboot_ctr=
if read -r _pyenvboot_cb 2>/dev/null < /proc/sys/kernel/random/boot_id \\
  && read -r _pyenvboot_cs 2>/dev/null < /proc/1/stat; then
  _pyenvboot_cs="${_pyenvboot_cs##*) } "
  _pyenvboot_cs=${_pyenvboot_cs#* * * }; _pyenvboot_cs=${_pyenvboot_cs#* * * }; _pyenvboot_cs=${_pyenvboot_cs#* * * }
  _pyenvboot_cs=${_pyenvboot_cs#* * * }; _pyenvboot_cs=${_pyenvboot_cs#* * * }; _pyenvboot_cs=${_pyenvboot_cs#* * * }
  _pyenvboot_cs=${_pyenvboot_cs#* }; _pyenvboot_cs=${_pyenvboot_cs%% *}
  case $_pyenvboot_cb$_pyenvboot_cs in
    *[!0-9a-f-]*) ;;
    *) if [ -n "$_pyenvboot_cb" ] && [ -n "$_pyenvboot_cs" ]; then _pyenvboot_ctr=$_pyenvboot_cb-$_pyenvboot_cs; fi ;;
  esac
fi
unset _pyenvboot_cb _pyenvboot_cs
"""


def sh_cached_identity() -> str:
    """For a nameless UID: source the identity cache Python or a first start left (see :func:`cache_text`)."""
    return """\
_pyenvboot_private=; _pyenvboot_x=; _pyenvboot_w=
if [ -z "$_pyenvboot_n" ] && [ -n "$_pyenvboot_uid" ]; then
  _pyenvboot_f=${TMPDIR:-/tmp}
  if [ -k "$_pyenvboot_f" ]; then _pyenvboot_f=$_pyenvboot_f/pyenvboot-$_pyenvboot_uid-%(cache)s
  else
    _pyenvboot_f=$_pyenvboot_f/pyenvboot-$_pyenvboot_uid
    if [ -O "$_pyenvboot_f" ]; then _pyenvboot_f=$_pyenvboot_f/%(cache)s; else _pyenvboot_f=; fi
  fi
  if [ -n "$_pyenvboot_f" ] && [ -O "$_pyenvboot_f" ] && [ ! -h "$_pyenvboot_f" ]; then
    if [ -z "${_pyenvboot_ctr-}" ]; then
%(container)s    fi
    . "$_pyenvboot_f"
  fi
fi
""" % {"cache": IDENTITY_CACHE, "container": sh_indent(SH_CONTAINER, 6)}


# A nameless UID's first start, a function the launcher defines (it starts the container, so identity
# may be written) and the hook calls when it has no name for the UID: what Python does, where that
# needs no Python. That is: not uid 0 (which Python never writes an entry for), /etc/passwd not
# writable, a free and valid name, $HOME or the shared home usable, no LD_PRELOAD, no
# PYENVBOOT_NSS_WRAPPER but an empty one, this container known (_pyenvboot_ctr, the cache's key), paths
# of plain characters (no quoting needed), and the runtime files this start makes (in a private dir,
# mkdir(1) from the shell's default PATH, where TMPDIR is not sticky). Then it writes nss_wrapper's
# passwd (where nss_wrapper is installed) and the cache, as Python would.
SH_FIRST_START = """\
_pyenvboot_first_start() {
if [ -z "$_pyenvboot_gid" ]; then
  { while read -r _pyenvboot_k _pyenvboot_v _pyenvboot_r; do
      if [ "$_pyenvboot_k" = Gid: ]; then _pyenvboot_gid=$_pyenvboot_v; break; fi
    done < /proc/self/status; } 2>/dev/null
fi
if [ -z "$_pyenvboot_t" ] && [ -n "$_pyenvboot_gid" ] && [ -n "$_pyenvboot_uid" ] && [ "$_pyenvboot_uid" != 0 ] \\
  && [ -n "${_pyenvboot_ctr-}" ] && [ -z "${LD_PRELOAD-}" ] && [ ! -w /etc/passwd ] \\
  && [ -z "${PYENVBOOT_NSS_WRAPPER-}" ]; then
  _pyenvboot_n=${PYENVBOOT_USER:-%(user)s}
  case $_pyenvboot_n in %(name_first)s*) ;; *) _pyenvboot_n= ;; esac
  case ${_pyenvboot_n#?} in *%(name_other)s*) _pyenvboot_n= ;; esac
  [ "${#_pyenvboot_n}" -le %(name_max)d ] || _pyenvboot_n=
  for _pyenvboot_h in "${HOME-}" "${PYENVBOOT_HOME:-%(home)s}"; do
    if %(usable)s; then break; fi
    _pyenvboot_h=
  done
  _pyenvboot_lib=
  if [ -z "${PYENVBOOT_NSS_WRAPPER+set}" ]; then
    for _pyenvboot_lib in %(nss_dirs)s ''; do
      if [ -n "$_pyenvboot_lib" ] && [ -f "$_pyenvboot_lib/libnss_wrapper.so" ]; then
        _pyenvboot_lib=$_pyenvboot_lib/libnss_wrapper.so; break
      fi
    done
  fi
  # The runtime files: _pyenvboot_p is their path less NAME; _pyenvboot_rd the private dir to make, if any.
  _pyenvboot_rd=${TMPDIR:-/tmp}
  while case $_pyenvboot_rd in */) true ;; *) false ;; esac; do _pyenvboot_rd=${_pyenvboot_rd%%/}; done
  if [ -k "${_pyenvboot_rd:-/}" ]; then _pyenvboot_p=$_pyenvboot_rd/pyenvboot-$_pyenvboot_uid-; _pyenvboot_rd=
  else _pyenvboot_rd=$_pyenvboot_rd/pyenvboot-$_pyenvboot_uid; _pyenvboot_p=$_pyenvboot_rd/
  fi
  case $_pyenvboot_p$_pyenvboot_h$_pyenvboot_lib in *[!A-Za-z0-9/._-]*) _pyenvboot_n= ;; esac
  if [ -n "$_pyenvboot_n" ] && [ -n "$_pyenvboot_h" ] \\
    && { [ -z "$_pyenvboot_rd" ] || command -p mkdir -m 700 "$_pyenvboot_rd" 2>/dev/null; }; then
    # O_EXCL (noclobber): a file that exists already, a symlink above all, is Python's to deal with.
    umask 077; set -C
    if [ -n "$_pyenvboot_lib" ]; then
      # nss_wrapper's passwd: /etc/passwd, each line ending in a newline, and this UID's line.
      if { { if [ "$_pyenvboot_kept" != x ]; then printf '%%s' "$_pyenvboot_all"
             else
               { while IFS= read -r _pyenvboot_l || [ -n "$_pyenvboot_l" ]; do
                   printf '%%s\\n' "$_pyenvboot_l"; _pyenvboot_l=
                 done < /etc/passwd; } 2>/dev/null
             fi
             printf '%%s:x:%%s:%%s:%(gecos)s:%%s:%(shell)s\\n' \\
               "$_pyenvboot_n" "$_pyenvboot_uid" "$_pyenvboot_gid" "$_pyenvboot_h"
           } > "${_pyenvboot_p}%(passwd)s"; } 2>/dev/null; then
        _pyenvboot_x="export NSS_WRAPPER_PASSWD=${_pyenvboot_p}%(passwd)s LD_PRELOAD=$_pyenvboot_lib"
        _pyenvboot_x="$_pyenvboot_x NSS_WRAPPER_GROUP=/etc/group"
      else
        _pyenvboot_n=
      fi
    fi
    if [ -n "$_pyenvboot_n" ] && ! { printf '%%s\\n' "if [ \\"\\${_pyenvboot_ctr-}\\" = '$_pyenvboot_ctr' ] \\\\" \\
        "  && [ \\"\\${PYENVBOOT_USER-}\\" = '${PYENVBOOT_USER-}' ] \\\\" \\
        "  && [ \\"\\${PYENVBOOT_NSS_WRAPPER-}\\" = '' ] && [ \\"\\${LD_PRELOAD-}\\" = '' ]; then" \\
        "  _pyenvboot_n='$_pyenvboot_n'; _pyenvboot_private=''; _pyenvboot_x='$_pyenvboot_x'; _pyenvboot_w=''" \\
        fi > "${_pyenvboot_p}%(cache)s"; } 2>/dev/null; then
      _pyenvboot_n=; _pyenvboot_x=
    fi
    set +C; umask %(umask)03o
  else
    _pyenvboot_n=
  fi
fi
}
""" % {
    "user": DEFAULT_USER,
    "home": DEFAULT_HOME,
    "name_first": sh_bracket(NAME_FIRST),
    "name_other": sh_bracket(NAME_REST, negate=True),
    "name_max": NAME_MAX,
    "gecos": PASSWD_GECOS,
    "shell": PASSWD_SHELL,
    "usable": sh_usable_home('"$_pyenvboot_h"'),
    "nss_dirs": " ".join(NSS_WRAPPER_DIRS[:1] + ("/usr/lib/*-linux-gnu",) + NSS_WRAPPER_DIRS[1:]),
    "cache": IDENTITY_CACHE,
    "passwd": NSS_PASSWD,
    "umask": UMASK,
}


# _pyenvboot_h: the first usable of $HOME, the passwd home, the shared home, the cached private home.
SH_CHOOSE_HOME = """\
for _pyenvboot_h in "${HOME-}" "$_pyenvboot_ph" "${PYENVBOOT_HOME:-%s}" "${_pyenvboot_private-}"; do
  if %s; then break; fi
  _pyenvboot_h=
done
""" % (DEFAULT_HOME, sh_usable_home('"$_pyenvboot_h"'))


def cache_text(
    container: str, environ: Mapping[str, str], name: str, private: Optional[str], exports: str, warning: str
) -> str:
    """The identity cache: sh that names a nameless UID, in this ``container`` and for the same :data:`CACHE_KEYS` only.

    It sets sh variables only; the hook exports ``exports`` once it has a HOME too,
    so that a hand-over to Python starts from the untouched environment.
    """
    from pyenvboot.runtime.environment import sh_quote

    keys = " && ".join(
        ['[ "${_pyenvboot_ctr-}" = %s ]' % sh_quote(container)]
        + ['[ "${%s-}" = %s ]' % (k, sh_quote(environ.get(k, ""))) for k in CACHE_KEYS]
    )
    return "if %s; then\n  _pyenvboot_n=%s; _pyenvboot_private=%s; _pyenvboot_x=%s; _pyenvboot_w=%s\nfi\n" % (
        keys,
        sh_quote(name),
        sh_quote(private or ""),
        sh_quote(exports),
        sh_quote(warning),
    )
