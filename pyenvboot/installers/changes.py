"""What an installer changed in a venv, so that the permission policy afterwards costs what changed.

A tracker is taken before the command runs and read after it (:meth:`Tracker.scope`):
a :class:`Scope` names the directories whose direct entries are checked and the trees
checked in full; None means unknown, and the caller walks the whole venv.

Why a scope is enough: an entry can break the policy after the command only if the
command created it, replaced it, or changed its mode or group. So the scope must hold
every entry the command created or replaced (and the directories on the way to
them). The two trackers below derive that set from what installers leave behind:

- A wheel installer writes every file of a distribution, its scripts and its
  dist-info at the paths that the ``RECORD`` of the new ``.dist-info`` lists (PEP 376,
  the binary distribution format spec; pip's ``install_wheel``, uv's
  ``uv-install-wheel``, the ``installer`` library that poetry uses), creating the
  directories on the way (their parents are scanned too: :func:`fix_dirs` adds
  every ancestor). The dist-info is new, or replaced (another inode, or its ctime
  moved: an upgrade or a reinstall).
- Byte code an installer compiles for what it installed goes to the ``__pycache__``
  beside each ``.py`` file RECORD lists; pip and ``installer`` record it, uv does not
  (``uv pip install --compile-bytecode`` compiles the files of the distributions it
  installed, astral-sh/uv#19914), so those ``__pycache__`` directories are scanned.
- Uninstalls and upgrades remove files: removals leave nothing to fix.

Not in the scope: byte code that a process of the venv writes lazily when it
imports a module that has none (PEP 3147; pip seeded without byte code writes its
own when it runs). importlib's ``_write_atomic`` creates it with the source's mode
under the process's umask, which the venv's start-up guard keeps group-writable;
``fix-permissions`` is for a venv whose guard a later ``.pth`` undoes.
"""

from __future__ import annotations

import os
import stat

from pyenvboot.packages.record import record_paths
from pyenvboot.venv.layout import lib_dirs, site_dirs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Set, Tuple

    Listing = Dict[str, Tuple[int, int, bool]]  # name: (inode, ctime, is a directory)


class Scope:
    """Directories (relative to the venv) whose direct entries to check, and trees (absolute) to check in full."""

    __slots__ = ("dirs", "trees")

    def __init__(self) -> None:
        self.dirs: Set[str] = set()
        self.trees: Set[str] = set()


class Tracker:
    """Taken before the command; :meth:`scope` after it succeeded."""

    def __init__(self, venv: str) -> None:
        self.venv = os.path.realpath(venv)

    def sites(self) -> List[str]:
        return site_dirs(self.venv)

    def scope(self) -> Optional[Scope]:
        raise NotImplementedError

    def add_record(self, dist_info: str, scope: Scope) -> bool:
        """Add what the RECORD of ``dist_info`` lists to ``scope``; False when there is no readable RECORD."""
        try:
            with open(dist_info + "/RECORD", encoding="utf-8") as f:
                paths = record_paths(f.read())
        except (OSError, UnicodeDecodeError, ValueError):
            return False
        site = os.path.dirname(dist_info)
        scope.dirs.add(os.path.relpath(dist_info, self.venv))  # its own files, listed in RECORD or not
        for path in paths:
            target = os.path.normpath(os.path.join(site, path))
            if not target.startswith(self.venv + "/"):
                continue
            parent = os.path.relpath(os.path.dirname(target), self.venv)
            scope.dirs.add(parent)
            if target.endswith(".py"):
                scope.dirs.add(parent + "/__pycache__")  # byte code an installer compiled but did not record
        return True


def identity(st: os.stat_result) -> Tuple[int, int]:
    """What tells an entry replaced or changed: its inode, and its ctime (any change to it or to its entries)."""
    return st.st_ino, st.st_ctime_ns


def metadata_dirs(sites: List[str]) -> Dict[str, Tuple[int, int]]:
    """The .dist-info, .egg-info and .egg entries of ``sites``, with their :func:`identity`."""
    found: Dict[str, Tuple[int, int]] = {}
    for site in sites:
        with os.scandir(site) as it:
            for entry in it:
                if entry.name.endswith((".dist-info", ".egg-info", ".egg")):
                    found[entry.path] = identity(entry.stat(follow_symlinks=False))
    return found


class Installed(Tracker):
    """What a pip install or uninstall changed, from the .dist-info directories it left.

    pip creates files only at the paths its RECORD lists (its wheel installer writes
    each file, after unlinking any old one, then chmods that same file; scripts and
    byte code are recorded too) and the directories on the way to them. It changes
    no other entry's mode or group. A new .egg-info (a legacy ``setup.py install``,
    which writes no RECORD) or a .dist-info without RECORD makes the scope unknown,
    as does a VCS editable checkout under ``VENV/src``. When pip fails, it rolls moves
    back (recreating directories), and what a killed pip left is unknown: the caller
    walks the whole venv then, and for options that send files elsewhere. Entries pip
    did not touch keep whatever mode they had: this step fixes what the command
    changed, ``fix-permissions`` fixes a whole tree.
    """

    def __init__(self, venv: str) -> None:
        super().__init__(venv)
        self.before = metadata_dirs(self.sites())
        self.src = self._src_state()

    def _src_state(self) -> Optional[Tuple[int, int]]:
        try:
            return identity(os.lstat(self.venv + "/src"))
        except OSError:
            return None

    def scope(self) -> Optional[Scope]:
        scope = Scope()
        if self._src_state() != self.src:
            return None  # a VCS editable checkout under VENV/src: files no RECORD lists
        for path, ident in metadata_dirs(self.sites()).items():
            if self.before.get(path) == ident:
                continue
            if not path.endswith(".dist-info") or not self.add_record(path, scope):
                return None
        return scope


def listing(directory: str) -> Optional[Tuple[Tuple[int, int], Listing]]:
    """The :func:`identity` of ``directory`` and of each of its entries (lstat); None when it is no directory."""
    try:
        st = os.lstat(directory)
        if not stat.S_ISDIR(st.st_mode):
            return None
        entries: Listing = {}
        with os.scandir(directory) as it:
            for entry in it:
                est = entry.stat(follow_symlinks=False)
                entries[entry.name] = (est.st_ino, est.st_ctime_ns, stat.S_ISDIR(est.st_mode))
    except OSError:
        return None
    return identity(st), entries


class Touched(Tracker):
    """What an installer that ``pyenvboot run`` knows (uv, poetry, pipenv, pip) changed in the venv.

    Besides the dist-info rule (the module's docstring), installers write a few
    entries no RECORD lists, all of them at the top of the venv's own directories:
    uv's ``.lock`` at the venv's root (mode 0666, world-writable whatever the umask),
    a ``.pth`` or a package of their own in site-packages, a script in ``bin``. So
    the directories an installer writes into by itself are listed before and after
    (``watched``: the root, ``bin``, ``lib``, ``lib/pythonX.Y``, each site-packages and
    its ``__pycache__``; a few hundred entries, whatever the venv's size):

    - a new or replaced entry (another inode) is checked in full, a directory as a
      tree: everything in it is new;
    - an existing directory whose ctime moved (entries added or removed in it, or
      its own mode changed) has its direct entries checked;
    - a new or replaced .dist-info adds what its RECORD lists; an .egg-info or a
      dist-info without RECORD makes the scope unknown, as does a change of the
      venv's root, of a watched directory's inode, or of ``VENV/src`` (a VCS
      editable checkout);
    - ``sites_compiled``: the command compiles the byte code of all of site-packages
      (``uv sync --compile-bytecode``; only ``uv pip install`` compiles just what it
      installed, astral-sh/uv#19914), in processes of the venv's python, whose
      umask a ``.pth`` may change: every site-packages is checked in full, at a
      fraction of what compiling it cost.

    What stays outside: a command that changes an existing entry deeper than one
    level without a new dist-info listing it. ``run`` gives this scope only to the
    installers named in :data:`pyenvboot.installers.run.SCOPED`, whose writes are the
    above; any other command has the whole venv walked.
    """

    def __init__(self, venv: str, sites_compiled: bool = False) -> None:
        super().__init__(venv)
        self.sites_compiled = sites_compiled
        self.before = {d: listing(d) for d in self.watched()}
        self.src = listing(self.venv + "/src")

    def watched(self) -> List[str]:
        libs = lib_dirs(self.venv)
        sites = self.sites()
        dirs = [self.venv, self.venv + "/bin", self.venv + "/lib", *libs, *sites]
        return dirs + [site + "/__pycache__" for site in sites]

    def scope(self) -> Optional[Scope]:
        root = self.before[self.venv]
        if root is None or listing(self.venv + "/src") != self.src:
            return None
        scope = Scope()
        sites = set(self.sites())
        if self.sites_compiled:
            scope.trees.update(sites)
        for directory in set(self.watched()) | set(self.before):
            before, after = self.before.get(directory), listing(directory)
            if after is None:
                continue  # removed, or never there
            if before is None or before[0][0] != after[0][0]:
                if directory == self.venv or before is not None:
                    return None  # the venv or one of its own directories replaced: unknown
                scope.trees.add(directory)  # new (a site-packages of another Python): all of it
                continue
            if before == after:
                continue
            scope.dirs.add(os.path.relpath(directory, self.venv))
            for name, (ino, ctime, is_dir) in after[1].items():
                old = before[1].get(name)
                if old is not None and old[:2] == (ino, ctime):
                    continue
                path = directory + "/" + name
                if directory in sites and name.endswith((".dist-info", ".egg-info", ".egg")):
                    if not name.endswith(".dist-info") or not self.add_record(path, scope):
                        return None
                elif is_dir and (old is None or old[0] != ino):
                    scope.trees.add(path)  # new or replaced: everything in it is new
                elif is_dir:
                    scope.dirs.add(os.path.relpath(path, self.venv))  # entries added or removed in it
        return scope
