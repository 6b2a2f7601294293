"""Bring a venv back after its base Python changed under it.

A patch upgrade or a moved interpreter only needs new links and a new
``pyvenv.cfg``. A minor upgrade (3.11 -> 3.12, e.g. a Debian release upgrade
behind ``/usr/bin/python3``) also moves what is installed: the new interpreter
looks in ``lib/python3.12/site-packages``. Pure-Python distributions move there
and keep working; distributions compiled for the old ABI are set aside in the old
directory (so pip does not call them "already satisfied") and reported with the
command that reinstalls them.

Every step can be interrupted and run again: the move of the whole directory is
one rename, and a distribution is set aside file by file with its ``.dist-info``
last, so a rerun finishes what is left.
"""

from __future__ import annotations

import os
import shutil
from typing import List

from pyenvboot.packages.dists import Distribution, abi_bound, read_distributions


def site_for(venv: str, minor: str) -> str:
    return os.path.join(venv, "lib", "python" + minor, "site-packages")


def move_site_packages(venv: str, old_minor: str, new_site: str) -> List[str]:
    """Rename the old minor's site-packages to ``new_site`` when that holds nothing yet."""
    old_site = site_for(venv, old_minor)
    if not os.path.isdir(old_site) or os.path.realpath(old_site) == os.path.realpath(new_site):
        return []
    if os.path.isdir(new_site):
        if os.listdir(new_site):
            return []  # moved by an earlier, interrupted run; what is left in old_site stays aside
        os.rmdir(new_site)
    os.makedirs(os.path.dirname(new_site), exist_ok=True)
    count = len(read_distributions(old_site))
    os.rename(old_site, new_site)
    try:
        os.rmdir(os.path.dirname(old_site))  # lib/python3.X, now empty
    except OSError:
        pass
    lib = os.path.join(venv, "lib")
    return [
        "moved %d distribution(s) from %s to %s"
        % (count, os.path.relpath(old_site, lib), os.path.relpath(new_site, lib))
    ]


def set_aside(dist: Distribution, target_site: str) -> None:
    """Move ``dist``'s files (as RECORD lists them) from its site-packages to ``target_site``, metadata last."""
    files = [f for f in dist.files if not f.startswith("..") and not f.startswith("/")]
    meta = os.path.basename(dist.path)
    for rel in sorted(files, key=lambda f: f.split("/")[0] == meta):
        if rel.split("/")[0] == meta:
            continue
        source = os.path.join(dist.location, rel)
        if not os.path.lexists(source):
            continue
        dest = os.path.join(target_site, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(source, dest)
    dest_meta = os.path.join(target_site, meta)
    if os.path.lexists(dest_meta):
        shutil.rmtree(dest_meta, ignore_errors=True)
    os.makedirs(target_site, exist_ok=True)
    os.rename(dist.path, dest_meta)
    # Remove directories the move emptied (a package's own, and its __pycache__).
    for rel in sorted({os.path.dirname(f) for f in files if "/" in f}, key=len, reverse=True):
        directory = os.path.join(dist.location, rel)
        shutil.rmtree(os.path.join(directory, "__pycache__"), ignore_errors=True)
        try:
            os.rmdir(directory)
        except OSError:
            pass


def set_aside_incompatible(venv: str, site: str, minor: int, old_minor: str) -> List[str]:
    """Set aside what cannot run on 3.``minor``; one action line per distribution, with its fix."""
    actions = []
    aside = site_for(venv, old_minor)
    for dist in read_distributions(site):
        reason = abi_bound(dist, minor)
        if reason is None:
            continue
        set_aside(dist, aside)
        actions.append(
            "set aside %s (%s) in lib/python%s/site-packages; reinstall it: pyenvboot pip install '%s==%s'"
            % (dist, reason, old_minor, dist.name, dist.version)
        )
    return actions


def remove_stale_links(venv: str, minor: str) -> None:
    """``bin/python3.X`` links for a minor the venv no longer has."""
    bin_dir = os.path.join(venv, "bin")
    try:
        names = os.listdir(bin_dir)
    except OSError:
        return
    for name in names:
        if name.startswith("python3.") and name != "python" + minor and os.path.islink(os.path.join(bin_dir, name)):
            os.unlink(os.path.join(bin_dir, name))
