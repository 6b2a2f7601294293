"""Where the venv's pip comes from, on every base image.

The fast way needs no pip run: unpack a pip wheel (the interpreter's own from
``ensurepip``, Debian's ``/usr/share/python-wheels``, a wheelhouse, the ones the
zipapp carries, or the one ``--pip-wheel`` names). A base without any (Debian/Ubuntu minimal images without
``python3-venv``) may still have ``virtualenv``, which carries or finds a pip: it
makes a throw-away environment inside the venv and pyenvboot moves that pip in.

Either way pip arrives in the venv by renames, the ``.dist-info`` last, so an
``init`` killed half-way leaves either no pip (the next run seeds it) or a
complete one, never a pip that looks installed but is not.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pyenvboot.create.interpreter import Interpreter
from pyenvboot.create.wheel import console_scripts, install_wheel, open_wheel, write_console_scripts
from pyenvboot.errors import CreateError
from pyenvboot.packages.dists import Distribution, read_distributions
from pyenvboot.packages.versions import version_key
from pyenvboot.venv.files import remove_emptied, remove_path, scratch_name

CARRIED_DIR = "seed-wheels"  # where scripts/build-zipapp puts the pip wheels the zipapp carries
DEBIAN_WHEELS = "/usr/share/python-wheels"


def wheel_version(path: str) -> Tuple[int, Any]:
    """The version in a wheel's file name (PEP 427: ``NAME-VERSION-...``) as a sort key, for picking the newest pip."""
    parts = os.path.basename(path).split("-")
    return version_key(parts[1] if len(parts) > 1 else "")


def wheel_requires_python(path: str) -> Optional[str]:
    """The ``Requires-Python`` of a wheel, read from its METADATA; None when absent or unreadable."""
    try:
        with open_wheel(path) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if not names:
                return None
            text = zf.read(names[0]).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, KeyError):
        return None
    value = HeaderParser().parsestr(text).get("Requires-Python")
    return value.strip() if value else None


def fits(requires_python: Optional[str], version: Sequence[int]) -> bool:
    """Does a Python ``version`` meet ``requires_python``? Judged by ``packaging`` when it is there.

    ``init`` must work without packaging; then every wheel is taken to fit, and the
    interpreter's own wheel (always made for it) is preferred by the caller.
    """
    if not requires_python:
        return True
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:
        return True
    try:
        return SpecifierSet(requires_python).contains(".".join(map(str, version)), prereleases=True)
    except InvalidSpecifier:
        return True


def pip_wheels(directory: Optional[str]) -> List[str]:
    if not directory or not os.path.isdir(directory):
        return []
    return sorted(
        os.path.join(directory, n) for n in os.listdir(directory) if n.startswith("pip-") and n.endswith(".whl")
    )


def carried_pip_wheels() -> List[str]:
    """The pip wheels the zipapp carries (``ARCHIVE/seed-wheels/pip-*.whl``); none when not run from one."""
    from pyenvboot.runtime.launcher import running_archive

    archive = running_archive()
    if not archive:
        return []
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return []
    prefix = CARRIED_DIR + "/pip-"
    return sorted(os.path.join(archive, n) for n in names if n.startswith(prefix) and n.endswith(".whl"))


def choose_wheel(own: Sequence[str], others: Sequence[str], version: Sequence[int]) -> Optional[str]:
    """The newest pip wheel that fits ``version``; the interpreter's own wins a tie.

    Newest first, so only the wheels newer than the one taken have their metadata read.
    """
    for path in sorted(list(own) + list(others), key=wheel_version, reverse=True):  # stable: own first in a tie
        if fits(wheel_requires_python(path), version):
            return path
    return None


def installed_pip(purelib: str) -> Optional[Distribution]:
    """pip as installed in ``purelib``: its .dist-info with a RECORD, and the package itself."""
    if not os.path.isfile(os.path.join(purelib, "pip", "__init__.py")):
        return None
    for dist in read_distributions(purelib):
        if dist.name.lower() == "pip" and dist.files:
            return dist
    return None


def move_in(source_site: str, purelib: str) -> None:
    """Move what ``source_site`` holds into ``purelib``, each ``.dist-info`` last.

    Whatever stood in the way (a pip half-written by a killed run) is removed first.
    """
    names = sorted(os.listdir(source_site), key=lambda n: (n.endswith(".dist-info"), n))
    for name in names:
        if name == "__pycache__":
            continue
        target = os.path.join(purelib, name)
        remove_path(target)
        os.rename(os.path.join(source_site, name), target)


def scripts_for(dist_info: str, bin_dir: str, python: str, names: Dict[str, List[str]]) -> None:
    """pip's console scripts from its entry_points.txt, pointing at the venv's final python."""
    try:
        with open(os.path.join(dist_info, "entry_points.txt"), encoding="utf-8") as f:
            entry_points = f.read()
    except FileNotFoundError:
        return
    write_console_scripts(console_scripts(entry_points), names, bin_dir, python)


def seed_from_wheel(wheel: str, purelib: str, bin_dir: str, python: str, names: Dict[str, List[str]]) -> None:
    """Unpack ``wheel`` next to ``purelib`` (same depth, so RECORD's ``../`` paths hold), then move it in."""
    scratch = scratch_name(os.path.join(os.path.dirname(purelib), ""), "pip")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
        install_wheel(wheel, purelib=scratch, bin_dir=bin_dir, python=python, script_names=names)
        move_in(scratch, purelib)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def seed_from_virtualenv(base: str, root: str, purelib: str, python: str, names: Dict[str, List[str]]) -> str:
    """Have ``base -m virtualenv`` make a throw-away environment in ``root``; move its pip in. Returns pip's version.

    ``--no-download``: offline, from the wheels virtualenv carries or the distro's
    (Debian's python3-virtualenv uses /usr/share/python-wheels). Its app-data cache
    goes into the scratch directory, so nothing is left in HOME or the image.
    """
    scratch = scratch_name(os.path.join(root, ""), "virtualenv")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
        dest = os.path.join(scratch, "env")
        argv = [
            base, "-I", "-m", "virtualenv", "--no-download", "--no-periodic-update", "--no-setuptools",
            "--app-data", os.path.join(scratch, "app-data"), "-q", dest,
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUALENV_", "PIP_", "PYTHON"))}
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        found = sorted(glob.glob(os.path.join(dest, "lib", "python*", "site-packages", "pip-*.dist-info")))
        if proc.returncode != 0 or not found:
            lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
            raise CreateError(
                "virtualenv could not make pip for %s (%s); pass --pip-wheel FILE, or --creator venv with a wheelhouse"
                % (base, lines[-1] if lines else "exit status %d, no pip" % proc.returncode)
            )
        site = os.path.dirname(found[0])
        staged = os.path.join(scratch, "pip")
        os.mkdir(staged)
        pip_dist = read_distributions(site)
        for dist in pip_dist:
            if dist.name.lower() != "pip":
                continue
            for name in {f.split("/")[0] for f in dist.files if not f.startswith("..")} | {os.path.basename(dist.path)}:
                if os.path.lexists(os.path.join(site, name)):
                    os.rename(os.path.join(site, name), os.path.join(staged, name))
            scripts_for(os.path.join(staged, os.path.basename(dist.path)), os.path.join(root, "bin"), python, names)
            move_in(staged, purelib)
            return dist.version
        raise CreateError("virtualenv made no pip for %s; pass --pip-wheel FILE" % base)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def remove_distribution(dist: Distribution, root: str) -> None:
    """Uninstall ``dist`` by its RECORD, staying inside ``root``; the .dist-info goes first.

    Removing the metadata first means a run killed half-way leaves something that
    no longer counts as installed, and the next ``init`` installs it afresh.
    """
    files = list(dist.files)
    top = os.path.realpath(root)
    shutil.rmtree(dist.path, ignore_errors=True)
    dirs = set()
    for rel in files:
        path = os.path.normpath(os.path.join(dist.location, rel))
        if not os.path.realpath(path).startswith(top + "/"):
            continue
        try:
            os.unlink(path)
        except OSError:
            pass
        parent = os.path.dirname(path)
        while parent.startswith(dist.location + "/"):
            dirs.add(parent)
            parent = os.path.dirname(parent)
    remove_emptied(dirs)


def has_pip(purelib: str) -> bool:
    """A complete pip: INSTALLER is written last, so a seeding cut short (killed, disk full) is redone."""
    return bool(glob.glob(os.path.join(glob.escape(purelib), "pip-*.dist-info", "INSTALLER")))


@dataclass
class PipSource:
    """Where ``init`` takes pip from: ``--creator``, ``--pip-wheel``, ``--wheelhouse``, for the base ``python``."""

    python: str
    creator: str = "auto"  # auto, venv (a pip wheel), virtualenv (the base's virtualenv module)
    pip_wheel: Optional[str] = None
    wheelhouse: Optional[str] = None

    def wheel(self, info: Interpreter) -> Optional[str]:
        """The pip wheel to seed: --pip-wheel, else the newest that fits of the interpreter's own
        (ensurepip), a --wheelhouse, Debian's and the zipapp's; None for --creator virtualenv or when there is none."""
        if self.creator == "virtualenv":
            return None
        if self.pip_wheel:
            if not os.path.isfile(self.pip_wheel):
                raise CreateError("--pip-wheel %s: no such file" % self.pip_wheel)
            return self.pip_wheel
        others = pip_wheels(self.wheelhouse) + pip_wheels(DEBIAN_WHEELS) + carried_pip_wheels()
        return choose_wheel(info.pip_wheels, others, info.version)

    def install(self, venv: str, root: str, purelib: str, info: Interpreter) -> None:
        """Seed pip into ``purelib``: unpack a wheel without running pip (fast, offline), else through virtualenv.

        ``root`` is the tree being built (the staging directory or the venv), ``purelib``
        is in it; pip's scripts go to ``root/bin`` and name ``venv``'s python.
        """
        bin_dir = os.path.join(root, "bin")
        names = {"pip": ["pip", "pip3", "pip" + info.minor]}
        python = os.path.join(venv, "bin", "python")
        wheel = self.wheel(info)
        if wheel is not None:
            seed_from_wheel(wheel, purelib, bin_dir, python, names)
        elif info.has_virtualenv and self.creator != "venv":
            seed_from_virtualenv(self.python, root, purelib, python, names)
        else:
            raise self.missing(info)

    def missing(self, info: Interpreter) -> CreateError:
        """One message naming every remedy, for a base that offers no way to pip."""
        if self.creator == "virtualenv":
            return CreateError(
                "--creator virtualenv: %s has no virtualenv module; install python3-virtualenv (Debian, Ubuntu) or"
                " virtualenv for that Python, or use --creator venv with --pip-wheel FILE" % self.python
            )
        if self.creator == "venv":
            return CreateError(
                "--creator venv: no pip wheel for %s (no ensurepip wheel, none in %s%s); pass --pip-wheel FILE or"
                " --wheelhouse DIR, install python3-venv%s"
                % (
                    self.python,
                    DEBIAN_WHEELS,
                    " or " + self.wheelhouse if self.wheelhouse else "",
                    ", or use --creator virtualenv" if info.has_virtualenv else "",
                )
            )
        return CreateError(
            "no pip for %s: it has no ensurepip wheel and no virtualenv module; install python3-venv or"
            " python3-virtualenv in the image, pass --pip-wheel FILE or --wheelhouse DIR, or use --without-pip"
            % self.python
        )
