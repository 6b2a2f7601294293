"""The permission policy and the walk that applies it.

Policy: group GROUP owns every entry; group read+write everywhere; group execute
wherever the owner has execute; setgid on directories so new files inherit the
group; nothing world-writable. Apart from removing world-write, permissions are
only ever added.

The walk is minimal (an entry already right costs one ``lstat`` and no syscall
that changes it, so a second run leaves every ctime alone and copies nothing into
a new image layer) and never follows a symlink: directories are opened with
``O_NOFOLLOW`` relative to their parent's descriptor, and other entries are changed
through an ``O_PATH`` descriptor that is checked to be the inode we looked at.
"""

from __future__ import annotations

import errno
import os
import stat

from pyenvboot.errors import PermissionPolicyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Iterator, List, Optional, Tuple

DEFAULT_GROUP = "0"


def resolve_group(group: Optional[str]) -> int:
    """A gid from a group name or number; unknown names are an error."""
    value = group if group not in (None, "") else DEFAULT_GROUP
    assert value is not None
    if value.isascii() and value.isdigit():
        if int(value) >= 2**32 - 1:  # (gid_t)-1 means "leave the group alone" to chown
            raise PermissionPolicyError("gid %s is out of range: use 0 to 4294967294" % value)
        return int(value)
    import grp

    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise PermissionPolicyError(
            "unknown group %r: create it first (groupadd) or pass a numeric gid with --group" % value
        ) from None


# The operating system's own directories: group write on any of them lets every
# UID in the group become root, so no PATH, --venv or --home may put the policy there.
SYSTEM_TREES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin", "/sys",
    "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec", "/usr/libx32",
    "/usr/sbin", "/usr/share", "/var/lib/apt", "/var/lib/dpkg",
)  # fmt: skip
SYSTEM_DIRS = (
    "/", "/home", "/media", "/mnt", "/opt", "/root", "/run", "/srv", "/tmp", "/usr", "/usr/local",
    "/usr/local/bin", "/usr/local/lib", "/usr/local/sbin", "/usr/src", "/var", "/var/lib", "/var/log", "/var/tmp",
)  # fmt: skip


def system_path(path: str) -> bool:
    """Is the absolute, resolved ``path`` the OS's: in or under a ``SYSTEM_TREES`` entry, or a ``SYSTEM_DIRS`` one?"""
    return path in SYSTEM_DIRS or any(path == tree or path.startswith(tree + "/") for tree in SYSTEM_TREES)


def refuse_system_path(path: str) -> None:
    """:class:`PermissionPolicyError` when ``path`` resolves to a directory of the OS."""
    real = os.path.realpath(path)
    if system_path(real):
        raise PermissionPolicyError(
            "refusing to apply the permission policy to %s: it belongs to the operating system, and group write"
            " there would let any UID in the group become root; pass the app's or the venv's own directory" % real
        )


def wanted_mode(mode: int) -> int:
    """The permission bits ``mode`` should have under the policy (pure)."""
    perm = stat.S_IMODE(mode) | stat.S_IRGRP | stat.S_IWGRP
    if stat.S_ISDIR(mode):
        perm |= stat.S_ISGID | stat.S_IXGRP
    elif perm & stat.S_IXUSR:
        perm |= stat.S_IXGRP
    return perm & ~stat.S_IWOTH


def needed(st: os.stat_result, gid: int) -> Tuple[Optional[int], Optional[int]]:
    """(gid to set or None, mode to set or None) for an entry; (None, None) when compliant."""
    if stat.S_ISLNK(st.st_mode):
        return None, None
    new_gid = gid if st.st_gid != gid else None
    mode = wanted_mode(st.st_mode)
    new_mode = mode if mode != stat.S_IMODE(st.st_mode) else None
    return new_gid, new_mode


# Plain classes, not dataclasses: ``dataclasses`` imports ``inspect``, a fifth of the start-up of
# ``pyenvboot fix-permissions``, whose no-op pass is measured against a shell pipeline.
class Report:
    """What a walk saw and did."""

    def __init__(self) -> None:
        self.scanned = 0
        self.changed = 0
        self.skipped: List[str] = []
        self.special: List[str] = []  # "PATH: what it is", left alone (see special_kind)

    def add(self, other: "Report") -> None:
        """Count ``other``'s walk in this one (a walk in parts: workers, or a step's trees)."""
        self.scanned += other.scanned
        self.changed += other.changed
        self.skipped += other.skipped
        self.special += other.special


# Device nodes, FIFOs and sockets are left alone, never made group-writable: group write on a
# device node (a disk, /dev/mem, a tty copied into a tree) hands the group the device itself,
# and a FIFO or socket belongs to the program that made it, whose own mode is what it meant.
_SPECIAL = {
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
}


def special_kind(mode: int) -> Optional[str]:
    """What a device node, FIFO or socket is ("FIFO", ...); None for files, directories and symlinks."""
    return _SPECIAL.get(stat.S_IFMT(mode))


class Entry:
    """One entry found by :func:`walk`: its parent's descriptor, its name and its lstat."""

    __slots__ = ("dir_fd", "fd", "name", "path", "st")

    def __init__(self, dir_fd: int, name: str, path: str, st: os.stat_result, fd: Optional[int] = None) -> None:
        self.dir_fd = dir_fd
        self.name = name
        self.path = path
        self.st = st
        self.fd = fd  # set for directories: an O_NOFOLLOW descriptor of the entry itself


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def compliant(st: os.stat_result, gid: int) -> bool:
    """``needed(st, gid) == (None, None)``, inlined for the walk's hot loop."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return True
    if st.st_gid != gid or mode & stat.S_IWOTH:
        return False
    if stat.S_ISDIR(mode):
        return mode & _DIR_NEEDS == _DIR_NEEDS
    return mode & 0o060 == 0o060 and (not mode & stat.S_IXUSR or bool(mode & stat.S_IXGRP))


_DIR_NEEDS = stat.S_ISGID | stat.S_IRGRP | stat.S_IWGRP | stat.S_IXGRP
_S_IFMT, _S_IFDIR, _S_IFLNK = 0o170000, stat.S_IFDIR, stat.S_IFLNK


def walk(root: str, report: Report, gid: int) -> Iterator[Entry]:
    """Every entry under ``root`` (root included) that breaks the policy, never following symlinks.

    Depth first; every entry counts in ``report.scanned``, but only offenders are
    yielded, so a compliant tree costs one ``fstatat`` per entry and little Python.
    Directories we cannot open are recorded in ``report.skipped``.
    """
    st, pfd, name = _open_root(root)
    try:
        if stat.S_ISDIR(st.st_mode):
            yield from walk_dir(pfd, name, root.rstrip("/") or "/", st, report, gid)
        else:
            report.scanned += 1
            if not compliant(st, gid):
                yield from _offender(Entry(pfd, name, root, st), report)
    finally:
        os.close(pfd)


def _open_root(root: str) -> Tuple[os.stat_result, int, str]:
    """(lstat of ``root``, a descriptor of its parent, its name there) for a walk; the caller closes the descriptor."""
    try:
        st = os.lstat(root)
    except OSError as exc:
        raise PermissionPolicyError("cannot read %s: %s" % (root, exc.strerror)) from None
    if stat.S_ISLNK(st.st_mode):
        raise PermissionPolicyError("%s is a symlink; pass the directory it points to" % root)
    parent = os.path.dirname(os.path.abspath(root)) or "/"
    return st, os.open(parent, _DIR_FLAGS & ~os.O_NOFOLLOW), os.path.basename(os.path.abspath(root)) or "."


def walk_dir(dir_fd: int, name: str, path: str, st: os.stat_result, report: Report, gid: int) -> Iterator[Entry]:
    """The offenders of the directory ``name`` in ``dir_fd`` (``path``, lstat ``st``) and of everything under it."""
    opened = open_dir(dir_fd, name, path, st, report, gid)
    if opened is None:
        return
    fd, offenders, subdirs = opened
    try:
        yield from offenders
        for child, cst in subdirs:
            yield from walk_dir(fd, child, path + "/" + child, cst, report, gid)
    finally:
        os.close(fd)


def open_dir(
    dir_fd: int, name: str, path: str, st: os.stat_result, report: Report, gid: int
) -> Optional[Tuple[int, List[Entry], List[Tuple[str, os.stat_result]]]]:
    """Open one directory of a walk and scan it: (its descriptor, its offenders, its subdirectories).

    The directory itself is the first offender when it breaks the policy, and each
    subdirectory comes with its ``lstat`` for the walk to descend into. None (and a
    line in ``report.skipped``) when it cannot be opened; otherwise the caller closes
    the descriptor, which the offenders' changes go through.
    """
    report.scanned += 1
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        report.skipped.append("%s: cannot open directory (%s)" % (path, exc.strerror))
        return None
    try:
        # O_NOFOLLOW relative to the parent keeps the walk inside the tree. Only a directory to change is
        # checked to be the one we looked at: an fstat for every directory is 5% of a no-op pass.
        offenders = []
        if not compliant(st, gid):
            if not _same(os.fstat(fd), st):
                report.skipped.append("%s: changed while walking" % path)
                os.close(fd)
                return None
            offenders.append(Entry(dir_fd, name, path, st, fd))
        found, subdirs = _scan(fd, path, report, gid)
    except BaseException:
        os.close(fd)
        raise
    for child, cst in found:
        offenders.extend(_offender(Entry(fd, child, path + "/" + child, cst), report))
    return fd, offenders, subdirs


def _scan(
    fd: int, path: str, report: Report, gid: int
) -> Tuple[List[Tuple[str, os.stat_result]], List[Tuple[str, os.stat_result]]]:
    """(offending entries, subdirectories) of an open directory, each with its lstat; subdirectories not counted."""
    offenders = []
    subdirs = []
    scanned = 0
    # The hot loop, one iteration per entry: scandir's DirEntry.stat() is one fstatat() relative to
    # fd, and compliant() is inlined for files (the same test: group, g+rw, no o+w, g+x if u+x).
    try:
        with os.scandir(fd) as children:
            for found in children:
                try:
                    cst = found.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                mode = cst.st_mode
                kind = mode & _S_IFMT
                if kind == _S_IFDIR:
                    subdirs.append((found.name, cst))
                    continue
                scanned += 1
                if kind != _S_IFLNK and (
                    cst.st_gid != gid or mode & 0o062 != 0o060 or (mode & 0o100 and not mode & 0o010)
                ):
                    offenders.append((found.name, cst))
    except OSError as exc:
        report.skipped.append("%s: cannot list directory (%s)" % (path, exc.strerror))
    report.scanned += scanned
    return offenders, subdirs


def _offender(entry: Entry, report: Report) -> Iterator[Entry]:
    """``entry`` breaks the policy: yield it, or record it as left alone when it is a device node, FIFO or socket."""
    kind = special_kind(entry.st.st_mode)
    if kind is None:
        yield entry
    else:
        report.special.append("%s: %s" % (entry.path, kind))


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def apply(entry: Entry, gid: Optional[int], mode: Optional[int]) -> None:
    """Change one entry through a descriptor, so a symlink swapped in is never followed."""
    if entry.fd is not None:
        if gid is not None:
            os.fchown(entry.fd, -1, gid)
        if mode is not None:
            os.fchmod(entry.fd, mode)
        return
    fd = os.open(entry.name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=entry.dir_fd)
    try:
        st = os.fstat(fd)
        if not _same(st, entry.st) or stat.S_ISLNK(st.st_mode):
            raise FileNotFoundError(0, "replaced while walking")
        # An O_PATH descriptor cannot be fchmod-ed; its /proc link reaches the same inode.
        proc = "/proc/self/fd/%d" % fd
        if gid is not None:
            os.chown(proc, -1, gid)
        if mode is not None:
            os.chmod(proc, mode)
    finally:
        os.close(fd)


def foreign_hardlink(st: os.stat_result) -> bool:
    """A multiply-linked file we do not own: it may be a link to a file outside the tree."""
    return stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and st.st_uid != os.geteuid()


def fix_tree(root: str, gid: int, only_owned: bool = False, workers: Optional[int] = None) -> Report:
    """Apply the policy under ``root``; with ``only_owned``, touch only our own entries.

    ``only_owned`` is for ``pyenvboot pip`` run by an arbitrary UID: it can fix what it
    installed but not what root or another UID owns. A directory is walked by
    ``workers`` processes (default: one per CPU we may use, see ``parallel``). The
    lines of the report are sorted, whoever walked them.
    """
    refuse_system_path(root)
    report = Report()
    if not _fixed_by_workers(root, report, gid, only_owned, workers):
        fix_entries(walk(root, report, gid), report, gid, only_owned)
    report.skipped.sort()
    report.special.sort()
    return report


def _fixed_by_workers(root: str, report: Report, gid: int, only_owned: bool, workers: Optional[int]) -> bool:
    """Fix the directory ``root`` with worker processes; False when it is not one, one CPU, or a worker failed.

    After a failure ``report`` keeps only what was changed: the caller walks it all again.
    """
    if workers is not None and workers < 2:
        return False
    from pyenvboot.permissions import parallel

    count = parallel.default_workers() if workers is None else workers
    if count < 2:
        return False  # before opening the root, which walk() then opens: one CPU is the common container
    st, pfd, name = _open_root(root)
    try:
        if not stat.S_ISDIR(st.st_mode):
            return False
        if parallel.fix_spread(pfd, name, root.rstrip("/") or "/", st, report, gid, only_owned, count):
            return True
    finally:
        os.close(pfd)
    report.scanned, report.skipped, report.special = 0, [], []
    return False


def fix_dirs(root: str, dirs: Iterable[str], gid: int, only_owned: bool = False) -> Report:
    """Apply the policy to ``root`` itself and to the direct entries of ``dirs`` (paths relative to ``root``).

    The cost is the size of those directories, not of the tree. Every ancestor of a
    directory in ``dirs`` is scanned too, so a directory created deep inside an
    existing tree is seen as an entry of its parent. Directories are opened one
    component at a time from ``root`` with ``O_NOFOLLOW``, as :func:`walk` does; a
    directory that is gone, or replaced by a symlink, is skipped.
    """
    refuse_system_path(root)
    report = Report()
    wanted = {""}
    for rel in dirs:
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if ".." in parts:
            continue
        for i in range(len(parts) + 1):
            wanted.add("/".join(parts[:i]))
    rels = sorted(wanted, key=lambda r: r.split("/") if r else [])
    fix_entries(_walk_dirs(root.rstrip("/") or "/", rels, report, gid), report, gid, only_owned)
    return report


def _walk_dirs(root: str, rels: List[str], report: Report, gid: int) -> Iterator[Entry]:
    """Offenders among ``root`` and the direct entries of ``rels`` (depth-first order, ``""`` first)."""
    st = os.lstat(root)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise PermissionPolicyError("%s is not a directory" % root)
    parent = os.open(os.path.dirname(os.path.abspath(root)) or "/", _DIR_FLAGS & ~os.O_NOFOLLOW)
    name = os.path.basename(os.path.abspath(root)) or "."
    stack: List[Tuple[List[str], int]] = []  # the open directories on the way to the current one
    try:
        report.scanned += 1
        if not compliant(st, gid):
            yield Entry(parent, name, root, st)
        for rel in rels:
            parts = rel.split("/") if rel else []
            while stack and stack[-1][0] != parts[: len(stack[-1][0])]:
                os.close(stack.pop()[1])
            fd = _open_below(root, parent, name, parts, stack, report)
            if fd is None:
                continue
            path = root + "/" + rel if rel else root
            try:
                names = os.listdir(fd)
            except OSError as exc:
                report.skipped.append("%s: cannot list directory (%s)" % (path, exc.strerror))
                continue
            for child in names:
                try:
                    cst = os.stat(child, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                report.scanned += 1
                if not compliant(cst, gid):
                    yield from _offender(Entry(fd, child, path + "/" + child, cst), report)
    finally:
        while stack:
            os.close(stack.pop()[1])
        os.close(parent)


def _open_below(
    root: str, parent: int, name: str, parts: List[str], stack: List[Tuple[List[str], int]], report: Report
) -> Optional[int]:
    """A descriptor of ``root/parts``, opening the components not yet on ``stack`` with ``O_NOFOLLOW``."""
    while len(stack) <= len(parts):
        depth = len(stack)
        at, child = (parent, name) if depth == 0 else (stack[-1][1], parts[depth - 1])
        try:
            fd = os.open(child, _DIR_FLAGS, dir_fd=at)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                where = "/".join([root, *parts[:depth]])
                report.skipped.append("%s: cannot open directory (%s)" % (where, exc.strerror))
            return None
        stack.append((parts[:depth], fd))
    return stack[-1][1]


def fix_entries(entries: Iterable[Entry], report: Report, gid: int, only_owned: bool) -> None:
    """Bring each of ``entries`` (a walk's offenders) in line with the policy, counting what changed."""
    euid = os.geteuid()
    for entry in entries:
        new_gid, new_mode = needed(entry.st, gid)
        if only_owned and entry.st.st_uid != euid:
            continue
        if foreign_hardlink(entry.st):
            report.skipped.append("%s: hard-linked file owned by uid %d, left alone" % (entry.path, entry.st.st_uid))
            continue
        try:
            apply(entry, new_gid, new_mode)
        except FileNotFoundError:
            report.skipped.append("%s: changed while walking" % entry.path)
            continue
        except PermissionError as exc:
            report.skipped.append("%s: %s" % (entry.path, exc.strerror))
            continue
        report.changed += 1
