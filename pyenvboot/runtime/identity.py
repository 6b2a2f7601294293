"""Give a UID without a passwd entry a name and a writable HOME.

Arbitrary UIDs (``docker run --user 1000680000:0``, OpenShift, Kubernetes
``runAsUser``) start with no passwd entry and ``HOME=/``: ``whoami`` fails, git and
ssh refuse to run, pip warns about ``/.cache``. In order of preference the fix is an
entry appended to ``/etc/passwd`` (only where the image opted in by making it
group-writable), a private passwd file for nss_wrapper, or at least ``USER``,
``LOGNAME`` and ``HOME``.

Standard library only and cheap: this runs on every container start.
"""

from __future__ import annotations

import os
import pwd

from pyenvboot.errors import IdentityError

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional, Tuple

    from pyenvboot.runtime.environment import Changes

DEFAULT_USER = "default"
DEFAULT_HOME = "/home/pyenvboot"
PASSWD = "/etc/passwd"
IDENTITY_CACHE = "identity.sh"  # in the private runtime dir; sourced by the shell hook
NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz_")
NAME_REST = NAME_FIRST | frozenset("0123456789-.")
NSS_WRAPPER_DIRS = ("/usr/lib64", "/usr/lib", "/lib64", "/lib")


def validate_user_name(name: str, source: str = "PYENVBOOT_USER") -> str:
    """``name`` if it is a safe login name, else :class:`IdentityError`.

    The same rule as Debian's ``useradd`` (lower case, at most 32 characters), which
    excludes ``:`` and newlines, so a name can never add or alter a passwd line.
    """
    if not 0 < len(name) <= 32 or name[0] not in NAME_FIRST or any(c not in NAME_REST for c in name):
        raise IdentityError(
            "refusing user name %r from %s: use 1-32 characters of a-z, 0-9, '_', '-', '.',"
            " starting with a letter or '_'" % (name, source)
        )
    return name


def passwd_line(name: str, uid: int, gid: int, home: str, shell: str = "/bin/sh") -> str:
    """One ``/etc/passwd`` line; refuses uid 0 and any field that could split the line."""
    if uid == 0:
        raise IdentityError("refusing to write a passwd entry for uid 0")
    fields = [name, "x", str(uid), str(gid), "pyenvboot user", home, shell]
    for field in fields:
        if ":" in field or "\n" in field or "\r" in field:
            raise IdentityError(
                "refusing passwd entry: %r contains ':' or a newline; choose another"
                " PYENVBOOT_HOME or user name" % field
            )
    return ":".join(fields) + "\n"


def usable_home(home: Optional[str]) -> bool:
    """A HOME that programs can write to: set, not ``/``, a writable directory."""
    return bool(home) and home != "/" and os.path.isdir(home) and os.access(home, os.W_OK | os.X_OK)  # type: ignore[arg-type]


def runtime_dir(uid: int, environ: Mapping[str, str]) -> Optional[str]:
    """A private per-UID directory under TMPDIR for files the identity needs.

    Refuses a pre-existing path that is a symlink or not ours, so another user
    cannot redirect what we write.
    """
    base = environ.get("TMPDIR") or "/tmp"
    path = "%s/pyenvboot-%d" % (base.rstrip("/") or "", uid)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not (st.st_uid == uid and (st.st_mode & 0o170000) == 0o040000):
        return None
    return path


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
    if not persist:
        return None
    private = runtime_dir(uid, environ)
    if private is None:
        return None
    home = private + "/home"
    try:
        os.mkdir(home, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    return home if usable_home(home) else None


def check_shared_library(path: str) -> str:
    """``path`` if it is an ELF file that LD_PRELOAD can take whole (a hostile value is not)."""
    try:
        with open(path, "rb") as f:
            elf = f.read(4) == b"\x7fELF"
    except OSError as exc:
        elf, why = False, exc.strerror
    else:
        why = "not a shared library"
    if not elf or not path.startswith("/") or any(c in path for c in " \t\n:"):
        raise IdentityError(
            "PYENVBOOT_NSS_WRAPPER=%r: %s; give the absolute path of libnss_wrapper.so, or set it empty"
            " to not use nss_wrapper" % (path, why if not elf else "not an absolute path without spaces or ':'")
        )
    return path


def find_nss_wrapper(environ: Mapping[str, str]) -> Optional[str]:
    """Path of ``libnss_wrapper.so`` ($PYENVBOOT_NSS_WRAPPER, else the usual lib dirs)."""
    explicit = environ.get("PYENVBOOT_NSS_WRAPPER")
    if explicit is not None:
        return check_shared_library(explicit) if explicit else None
    dirs = list(NSS_WRAPPER_DIRS)
    try:
        dirs[1:1] = ["/usr/lib/" + d for d in os.listdir("/usr/lib") if d.endswith("-linux-gnu")]
    except OSError:
        pass
    for directory in dirs:
        candidate = directory + "/libnss_wrapper.so"
        if os.path.isfile(candidate):
            return candidate
    return None


def _read_fd(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 65536, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _has_uid_or_name(content: bytes, uid: int, name: str) -> Optional[str]:
    """Which of uid or name already has an entry in passwd ``content``, if any."""
    for raw in content.splitlines():
        parts = raw.split(b":")
        if len(parts) < 3:
            continue
        if parts[2] == str(uid).encode():
            return "uid"
        if parts[0] == name.encode():
            return "name"
    return None


def append_passwd_entry(path: str, line: str, uid: int, name: str) -> bool:
    """Append ``line`` to the passwd file at ``path`` under an exclusive lock.

    Returns False when an entry for ``uid`` appeared meanwhile (a concurrent
    ``docker exec``); refuses when ``name`` is taken.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        content = _read_fd(fd)
        clash = _has_uid_or_name(content, uid, name)
        if clash == "uid":
            return False
        if clash == "name":
            raise IdentityError(
                "refusing passwd entry: user name %r already exists in %s; set PYENVBOOT_USER"
                " to an unused name" % (name, path)
            )
        data = line.encode()
        if content and not content.endswith(b"\n"):
            data = b"\n" + data
        os.write(fd, data)
        return True
    finally:
        os.close(fd)


def write_nss_passwd(directory: str, line: str) -> str:
    """A private copy of /etc/passwd plus ``line``, written atomically, for nss_wrapper."""
    try:
        with open(PASSWD, "rb") as f:
            content = f.read()
    except OSError:
        content = b""
    if content and not content.endswith(b"\n"):
        content += b"\n"
    target = directory + "/passwd"
    tmp = "%s.%d" % (target, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, content + line.encode())
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return target


def started_marker(environ: Mapping[str, str]) -> Optional[str]:
    """The file that says "a container was started here", for this container only.

    Build steps must not write identity into the image (a passwd line, an nss_wrapper
    file, the hook's cache), but a ``RUN bash -c`` step runs the same hook as a
    ``docker exec`` shell. What tells them apart: a started container ran its
    ENTRYPOINT, ``pyenvboot exec``, which leaves this marker. Its name holds the
    kernel's boot id and the start time of the pid namespace's PID 1 (field 22 of
    ``/proc/1/stat``, proc(5)), so a marker left in a layer by an earlier step, or
    copied with ``docker commit``, names another PID 1 and does not count.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        with open("/proc/1/stat") as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
    return "%s/pyenvboot-started-%s-%s" % ((environ.get("TMPDIR") or "/tmp").rstrip("/"), boot, start)


def mark_started(environ: Mapping[str, str]) -> None:
    """``pyenvboot exec`` starts the container: leave :func:`started_marker` (best effort)."""
    marker = started_marker(environ)
    if marker is None or os.path.exists(marker):
        return  # an existing one may be another UID's: O_CREAT on it fails in a sticky /tmp (protected_regular)
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
    except OSError:
        pass


def in_started_container(environ: Mapping[str, str]) -> bool:
    """Did ``pyenvboot exec`` start this container (so this is no build step)?"""
    marker = started_marker(environ)
    return marker is not None and os.path.exists(marker)


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


def name_owner(name: str) -> Optional[int]:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def record_identity(line: str, uid: int, name: str, environ: Mapping[str, str]) -> Tuple[Changes, Optional[str]]:
    """Write ``line`` where it names the UID: /etc/passwd if writable, else nss_wrapper's file.

    Returns the environment changes (nss_wrapper's) and a warning. Every failure
    degrades to the next way, and last to no file at all (USER, LOGNAME, HOME only).
    """
    changes: Changes = {}
    if os.access(PASSWD, os.W_OK):
        try:
            append_passwd_entry(PASSWD, line, uid, name)  # False: a concurrent start added the UID
            return changes, None
        except (IdentityError, OSError):
            pass  # the name was taken meanwhile, or the file cannot be written after all: nss_wrapper
    try:
        lib = find_nss_wrapper(environ)
    except IdentityError as exc:
        return changes, exc.message
    private = runtime_dir(uid, environ) if lib else None
    if lib and private:
        try:
            changes["NSS_WRAPPER_PASSWD"] = write_nss_passwd(private, line)
        except OSError:
            return {}, None
        preload = environ.get("LD_PRELOAD", "")
        if lib not in preload.replace(":", " ").split():
            changes["LD_PRELOAD"] = (lib + " " + preload).strip()
        changes["NSS_WRAPPER_GROUP"] = "/etc/group"
    return changes, None


def fix_identity(environ: Mapping[str, str], persist: bool = True) -> Changes:
    """The environment changes (and, where needed, the passwd entry) for this process's UID.

    Never fails: a refused name, a taken name, an unwritable passwd degrade to the
    next way (see :func:`record_identity`), with at most one line on stderr.

    Without ``persist`` nothing is written: no passwd entry, no nss_wrapper file, no
    cache, no private home. Build steps run that way (``pyenvboot pip``, ``run``, and
    the hook outside a started container, see :func:`started_marker`): anything
    written there would be baked into the layer.
    """
    uid = os.getuid()
    gid = os.getgid()
    try:
        entry: Optional[pwd.struct_passwd] = pwd.getpwuid(uid)
    except KeyError:
        entry = None
    changes: Changes = {}
    shared = environ.get("PYENVBOOT_HOME") or DEFAULT_HOME
    warning = None
    if entry is None:
        user, warning = choose_name(environ, uid)
        home = choose_home(environ.get("HOME"), None, shared, uid, environ, persist)
        if persist:
            try:
                line = passwd_line(user, uid, gid, home or "/")
            except IdentityError as exc:
                warning = warning or exc.message
            else:
                recorded, problem = record_identity(line, uid, user, environ)
                changes.update(recorded)
                warning = warning or problem
    else:
        user = entry.pw_name
        home = choose_home(environ.get("HOME"), entry.pw_dir, shared, uid, environ, persist)
    for var in ("USER", "LOGNAME"):
        if not environ.get(var):
            changes[var] = user
    if home is None:
        # No writable directory at all: at least keep pip from warning about /.cache.
        changes["PIP_NO_CACHE_DIR"] = "1"
    elif environ.get("HOME") != home:
        changes["HOME"] = home
    if warning:
        warn(warning)
    if entry is None and persist:
        cache_identity(uid, environ, {**changes, "USER": user, "LOGNAME": user})
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
    shared = env.get("PYENVBOOT_HOME") or DEFAULT_HOME
    return (
        "no writable HOME for uid %d: %s, %s and %s are not writable (a read-only root filesystem?);"
        " mount a tmpfs on %s (docker run --tmpfs %s; Kubernetes: an emptyDir volume at %s)"
        % (os.getuid(), "HOME=" + home if home else "HOME (unset)", shared, tmp, tmp, tmp, tmp)
    )


def cache_identity(uid: int, environ: Mapping[str, str], changes: Changes) -> None:
    """Leave the identity as sh in the private runtime dir for the shell hook.

    ``docker exec`` shells of a UID without a passwd entry then source it instead of
    starting Python on every ``bash -c``. Best effort: without it the hook runs pyenvboot.
    """
    from pyenvboot.runtime.environment import format_sh

    private = runtime_dir(uid, environ)
    if private is None:
        return
    target = private + "/" + IDENTITY_CACHE
    tmp = "%s.%d" % (target, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, format_sh(changes).encode())
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError:
        pass
