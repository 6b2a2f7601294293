"""Give a UID without a passwd entry a name and a writable HOME.

Arbitrary UIDs (``docker run --user 1000680000:0``, OpenShift, Kubernetes
``runAsUser``) start with no passwd entry and ``HOME=/``: ``whoami`` fails, git and
ssh refuse to run, pip warns about ``/.cache``. In order of preference the fix is an
entry appended to ``/etc/passwd`` (only where the image opted in by making it
group-writable), a private passwd file for nss_wrapper, or at least ``USER``,
``LOGNAME`` and ``HOME``. The rules the shell hook shares are in
:mod:`pyenvboot.runtime.contract`; the files written, in :mod:`pyenvboot.runtime.passwd`
and :mod:`pyenvboot.runtime.state`.

Standard library only and cheap: this runs on every container start.
"""

from __future__ import annotations

import os
import pwd

from pyenvboot.errors import IdentityError
from pyenvboot.runtime.contract import DEFAULT_HOME as DEFAULT_HOME
from pyenvboot.runtime.contract import DEFAULT_USER, NSS_PASSWD, identity_untouched, shared_home, usable_home
from pyenvboot.runtime.passwd import PASSWD as PASSWD
from pyenvboot.runtime.passwd import (
    append_passwd_entry,
    find_nss_wrapper,
    name_owner,
    passwd_line,
    validate_user_name,
    write_nss_passwd,
)
from pyenvboot.runtime.state import cache_identity, private_home, runtime_file

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional, Tuple

    from pyenvboot.runtime.environment import Changes


def choose_home(
    current: Optional[str],
    pw_dir: Optional[str],
    shared: str,
    uid: int,
    environ: Mapping[str, str],
    persist: bool = True,
) -> Optional[str]:
    """The first usable of: $HOME, the passwd home, the shared home from ``init``, a private temp one.

    Without ``persist`` no private home is made.
    """
    for candidate in (current, pw_dir, shared):
        if usable_home(candidate):
            return candidate
    home = private_home(uid, environ) if persist else None
    return home if usable_home(home) else None


def warn(message: str) -> None:
    """The one line identity may print: it degrades, it never stops the app."""
    import sys

    print("pyenvboot: " + message, file=sys.stderr)


def choose_name(environ: Mapping[str, str], uid: int) -> Tuple[str, Optional[str]]:
    """(login name for ``uid``, a warning or None).

    ``PYENVBOOT_USER``, else ``default``. A hostile value is refused (never written)
    and replaced by the default. A name another UID has already is not shared (a
    second UID in the same container, or a name baked into the image): this UID gets
    ``NAME-UID`` instead, so any number of nameless UIDs each get their own name.
    """
    requested = environ.get("PYENVBOOT_USER")
    name, refused = DEFAULT_USER, None
    if requested:
        try:
            name = validate_user_name(requested)
        except IdentityError as exc:
            refused = exc.message
    owner = name_owner(name)
    chosen = name
    if owner is not None and owner != uid:
        suffix = "-%d" % uid
        chosen = name[: 32 - len(suffix)] + suffix
    if refused:
        return chosen, "%s; uid %d is %r" % (refused, uid, chosen)
    if requested and chosen != name:
        return chosen, "user name %r belongs to uid %s; uid %d is %r (set PYENVBOOT_USER to an unused name)" % (
            name,
            owner,
            uid,
            chosen,
        )
    return chosen, None


def record_identity(
    uid: int, name: str, home: Optional[str], environ: Mapping[str, str]
) -> Tuple[Changes, Optional[str]]:
    """Write ``name``'s passwd line where it names the UID: /etc/passwd if writable, else nss_wrapper's file.

    Returns the environment changes (nss_wrapper's) and a warning. Every failure
    degrades to the next way, and last to no file at all (USER, LOGNAME, HOME only).
    """
    try:
        line = passwd_line(name, uid, os.getgid(), home or "/")
    except IdentityError as exc:
        return {}, exc.message
    if os.access(PASSWD, os.W_OK):
        try:
            append_passwd_entry(PASSWD, line, uid, name)  # False: a concurrent start added the UID
            return {}, None
        except (IdentityError, OSError):
            pass  # the name was taken meanwhile, or the file cannot be written after all: nss_wrapper
    try:
        lib = find_nss_wrapper(environ)
    except IdentityError as exc:
        return {}, exc.message
    target = runtime_file(uid, environ, NSS_PASSWD) if lib else None
    if not (lib and target):
        return {}, None
    try:
        changes: Changes = {"NSS_WRAPPER_PASSWD": write_nss_passwd(target, line)}
    except OSError:
        return {}, None
    preload = environ.get("LD_PRELOAD", "")
    if lib not in preload.replace(":", " ").split():
        changes["LD_PRELOAD"] = (lib + " " + preload).strip()
    changes["NSS_WRAPPER_GROUP"] = "/etc/group"
    return changes, None


def identity_changes(environ: Mapping[str, str], name: str, home: Optional[str]) -> Changes:
    """USER and LOGNAME where empty, and HOME; no HOME at all: at least keep pip from warning about /.cache."""
    changes: Changes = {var: name for var in ("USER", "LOGNAME") if not environ.get(var)}
    if home is None:
        changes["PIP_NO_CACHE_DIR"] = "1"
    elif environ.get("HOME") != home:
        changes["HOME"] = home
    return changes


def fix_identity(environ: Mapping[str, str], persist: bool = True) -> Changes:
    """The environment changes (and, where needed, the passwd entry) for this process's UID.

    Never fails: a refused name, a taken name, an unwritable passwd degrade to the
    next way (see :func:`record_identity`), with at most one line on stderr.

    Without ``persist`` nothing is written: no passwd entry, no nss_wrapper file, no
    cache, no private home. Build steps run that way (``pyenvboot pip``, ``run``, and
    the hook outside a started container, see :func:`pyenvboot.runtime.state.started_marker`):
    anything written there would be baked into the layer.
    """
    if identity_untouched(environ):
        return {}
    uid = os.getuid()
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return nameless_identity(uid, environ, persist)
    home = choose_home(environ.get("HOME"), entry.pw_dir, shared_home(environ), uid, environ, persist)
    return identity_changes(environ, entry.pw_name, home)


def nameless_identity(uid: int, environ: Mapping[str, str], persist: bool) -> Changes:
    """:func:`fix_identity` for a UID without a passwd entry: a name, recorded and cached where ``persist``."""
    name, warning = choose_name(environ, uid)
    home = choose_home(environ.get("HOME"), None, shared_home(environ), uid, environ, persist)
    changes = identity_changes(environ, name, home)
    recorded: Changes = {}
    if persist:
        recorded, problem = record_identity(uid, name, home, environ)
        changes.update(recorded)
        warning = warning or problem
    if warning:
        warn(warning)
    if persist:
        from pyenvboot.runtime.environment import format_sh

        cache_identity(uid, environ, name, home, format_sh(recorded) if recorded else "", warning or "")
    return changes


def missing_home(env: Mapping[str, str]) -> Optional[str]:
    """What is missing when the app's environment ``env`` has no writable HOME, else None.

    :func:`fix_identity` tried $HOME, the passwd home, the shared home and a private
    one under TMPDIR; on a read-only root without a tmpfs none is writable. The app
    still starts (identity is best effort), but tools that write to HOME fail.
    """
    home = env.get("HOME")
    if usable_home(home):
        return None
    tmp = env.get("TMPDIR") or "/tmp"
    shared = shared_home(env)
    return (
        "no writable HOME for uid %d: %s, %s and %s are not writable (a read-only root filesystem?);"
        " mount a tmpfs on %s (docker run --tmpfs %s; Kubernetes: an emptyDir volume at %s)"
        % (os.getuid(), "HOME=" + home if home else "HOME (unset)", shared, tmp, tmp, tmp, tmp)
    )
