"""Bring a venv back after its base Python changed under it: the repair stage, in one place.

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
import subprocess
from typing import List, Mapping, Optional, Tuple

from pyenvboot.create import seed
from pyenvboot.create.interpreter import Interpreter
from pyenvboot.errors import VenvError
from pyenvboot.packages.dists import Distribution, abi_bound, read_distributions
from pyenvboot.packages.versions import version_key
from pyenvboot.venv.config import cfg_version, format_version, read_cfg
from pyenvboot.venv.files import remove_emptied


def current_minor(venv: str) -> Optional[str]:
    """The minor version the venv's python runs now, or None when it does not run."""
    try:
        code = "import sys; print('%d.%d' % sys.version_info[:2])"
        proc = subprocess.run(
            [os.path.join(venv, "bin", "python"), "-I", "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def made_for(cfg: Mapping[str, str]) -> Tuple[str, str]:
    """(version, minor) of the Python the venv was made for, as its pyvenv.cfg says; ("", "") when it does not."""
    old = cfg_version(cfg)
    return (format_version(old), format_version(old[:2])) if old else ("", "")


def refuse_minor_change(venv: str, info: Interpreter, explicit_python: bool) -> None:
    """Refuse another minor version while the venv's own base still works; otherwise repair follows.

    An explicit ``--python`` 3.12 for a venv whose 3.11 base still runs is most
    likely a mistake. A base that is gone, or that now is another minor (as
    ``/usr/bin/python3`` after a release upgrade), is what :func:`follow_base` is for.
    """
    old, old_minor = made_for(read_cfg(venv) or {})
    if old and old_minor != info.minor and explicit_python and current_minor(venv) == old_minor:
        raise VenvError(
            "%s was made by Python %s but --python is %s; pass --python for %s, or move the venv"
            " away and run init again" % (venv, old, info.minor, old_minor)
        )


def follow_base(venv: str, info: Interpreter, pip: Optional[seed.PipSource]) -> List[str]:
    """Follow a base Python that changed: patch upgrade, moved or removed interpreter, minor upgrade.

    ``pip``: where a pip older than the new base's comes from (None: the venv has no pip of ours).
    Returns the actions taken, for the summary; none when the base is the one the venv was made for.
    """
    cfg = read_cfg(venv) or {}
    old, old_minor = made_for(cfg)
    new = format_version(info.version)
    link = os.path.join(venv, "bin", "python")
    dangling = os.path.islink(link) and not os.path.exists(link)
    old_exe = os.readlink(link) if os.path.islink(link) else cfg.get("executable", "")
    if old_minor and old_minor != info.minor:
        actions = move_site_packages(venv, old_minor, info.purelib)
        actions += set_aside_incompatible(venv, info.purelib, info.version[1], old_minor)
        remove_stale_links(venv, info.minor)
        if pip is not None:
            actions += refresh_pip(venv, info, pip)
        return ["repaired: base Python %s -> %s (%s)" % (old, new, info.executable)] + actions
    if dangling or (old and old != new) or (old_exe and os.path.realpath(link) != info.realpath):
        return [
            "repaired: base Python %s (%s%s) -> %s (%s)"
            % (old or "?", old_exe or "?", ", missing" if dangling else "", new, info.executable)
        ]
    return []


def refresh_pip(venv: str, info: Interpreter, pip: seed.PipSource) -> List[str]:
    """After a minor upgrade: replace a pip older than the new base's own (old pips break on new Pythons)."""
    current = seed.installed_pip(info.purelib)
    wheel = pip.wheel(info)
    if current is None or wheel is None:
        return []
    if seed.wheel_version(wheel) <= version_key(current.version):
        return []
    seed.remove_distribution(current, venv)
    pip.install(venv, venv, info.purelib, info)
    return ["replaced pip %s with %s" % (current.version, os.path.basename(wheel))]


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
    remove_emptied(os.path.join(dist.location, os.path.dirname(f)) for f in files if "/" in f)


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
