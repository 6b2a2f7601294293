"""What pyenvboot leaves in TMPDIR: the started-container marker, the private runtime dir, the identity cache.

Standard library only and cheap: this runs on every container start.
"""

from __future__ import annotations

import os

from pyenvboot.runtime.contract import IDENTITY_CACHE, cache_text

# typing costs ~5 ms of imports; the exec path only needs it for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional


PRIVATE_HOME = "home"  # in the private dir
_CONTAINER_CHARS = "0123456789abcdef-"  # a boot id (a UUID, lower case) and a decimal start time


def temp_base(environ: Mapping[str, str]) -> str:
    """TMPDIR (else /tmp) without its trailing slashes: "" for "/"."""
    return (environ.get("TMPDIR") or "/tmp").rstrip("/")


def runtime_file(uid: int, environ: Mapping[str, str], name: str) -> Optional[str]:
    """Where the runtime file ``name`` of this UID goes, by the contract's runtime files rule; None: nowhere.

    Directly in a sticky TMPDIR, where no other UID can replace a file of ours, so
    that the launcher's sh makes a first start without forking mkdir(1) (2 ms of
    it); elsewhere in :func:`runtime_dir`.
    """
    base = temp_base(environ)
    try:
        sticky = os.stat(base or "/").st_mode & 0o1000
    except OSError:
        return None
    if sticky:
        return "%s/pyenvboot-%d-%s" % (base, uid, name)
    private = runtime_dir(uid, environ)
    return None if private is None else private + "/" + name


def private_dir_path(uid: int, environ: Mapping[str, str]) -> str:
    """``TMPDIR/pyenvboot-UID``, the name of :func:`runtime_dir` (a path only: nothing is made)."""
    return "%s/pyenvboot-%d" % (temp_base(environ), uid)


def private_home_path(uid: int, environ: Mapping[str, str]) -> str:
    """``TMPDIR/pyenvboot-UID/home``, the path :func:`private_home` makes (nothing is made here)."""
    return private_dir_path(uid, environ) + "/" + PRIVATE_HOME


def runtime_dir(uid: int, environ: Mapping[str, str]) -> Optional[str]:
    """A private per-UID directory under TMPDIR: the private home, and the runtime files where TMPDIR is not sticky.

    Refuses a pre-existing path that is a symlink or not ours, so another user
    cannot redirect what we write.
    """
    path = private_dir_path(uid, environ)
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


def container_id() -> Optional[str]:
    """This container: the kernel's boot id and the start time of the pid namespace's PID 1.

    The start time is field 22 of ``/proc/1/stat`` (proc(5)), counted after the
    command name's last ``)``, which may itself hold blanks. None when /proc cannot
    tell. The launcher and the hook read the same in sh (:data:`pyenvboot.runtime.contract.SH_CONTAINER`).
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        with open("/proc/1/stat") as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
    found = boot + "-" + start
    return found if boot and not found.strip(_CONTAINER_CHARS) else None


def started_marker(environ: Mapping[str, str]) -> Optional[str]:
    """The file that says "a container was started here", for this container only.

    Build steps must not write identity into the image (a passwd line, an nss_wrapper
    file, the hook's cache), but a ``RUN bash -c`` step runs the same hook as a
    ``docker exec`` shell. What tells them apart: a started container ran its
    ENTRYPOINT, ``pyenvboot exec``, which leaves this marker. Its name is
    :func:`container_id`, so a marker left in a layer by an earlier step, or
    copied with ``docker commit``, names another PID 1 and does not count.
    """
    container = container_id()
    return None if container is None else "%s/pyenvboot-started-%s" % (temp_base(environ), container)


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


def private_home(uid: int, environ: Mapping[str, str]) -> Optional[str]:
    """The private home in the runtime dir, made if missing; None when it cannot be."""
    if runtime_dir(uid, environ) is None:
        return None
    home = private_home_path(uid, environ)
    try:
        os.mkdir(home, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    return home


def cache_identity(
    uid: int, environ: Mapping[str, str], name: str, home: Optional[str], exports: str, warning: str
) -> None:
    """Leave a nameless UID's identity as sh in a runtime file for the shell hook.

    ``docker exec`` shells of that UID then source it instead of starting Python on
    every ``bash -c`` (see :func:`pyenvboot.runtime.contract.cache_text`), in this
    container only (:func:`container_id`). Best effort: without it the hook runs pyenvboot.
    """
    container = container_id()
    target = runtime_file(uid, environ, IDENTITY_CACHE)
    if target is None or container is None:
        return
    private = private_home_path(uid, environ)
    text = cache_text(container, environ, name, home if home == private else None, exports, warning)
    from pyenvboot.venv.files import write_atomic

    try:
        write_atomic(target, text, mode=0o600)
    except OSError:
        pass
