"""``init``: create or update the venv, in stages you can read top to bottom and override.

Like ``venv.EnvBuilder.create()``. First the guards (nothing of the operating system,
a usable shared home), then the stages: probe -> directories -> config -> interpreter
links -> pip -> guard -> launcher -> byte code -> scripts -> policy. A new venv is
built in a hidden sibling directory and published by one rename, so an ``init``
killed at any moment leaves either nothing or the previous venv. An existing venv is
updated in place (repaired first when its base Python changed) and nothing installed
in it is removed. Each stage lives in its own module: interpreter (probe), location
(where the venv is built), seed (pip), scripts (activate scripts, hook, launcher),
bytecode, repair, provision (the shared home, the passwd opt-in).

Every stage raises the audit event ``pyenvboot.init.stage`` (PEP 578) with its name
and ``"before"`` or ``"after"``: a hook (``sys.addaudithook``) can watch init's
progress, and the atomicity tests kill init there. Without a hook it costs nothing.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, TypeVar, cast

from pyenvboot import __version__
from pyenvboot.create import CREATORS, bytecode, interpreter, location, scripts
from pyenvboot.create.interpreter import Interpreter
from pyenvboot.create.provision import check_home, ensure_home, make_passwd_writable
from pyenvboot.create.repair import follow_base, refuse_minor_change
from pyenvboot.create.seed import PipSource, has_pip
from pyenvboot.errors import CreateError, PermissionPolicyError, VenvError
from pyenvboot.permissions.policy import fix_tree, refuse_system_path
from pyenvboot.runtime import guard
from pyenvboot.runtime.environment import check_venv
from pyenvboot.runtime.launcher import choose_form, shebang_problem
from pyenvboot.venv.config import format_cfg, format_version, read_cfg
from pyenvboot.venv.files import symlink_atomic, write_atomic
from pyenvboot.venv.lock import locked

STAGE_EVENT = "pyenvboot.init.stage"
Stage = TypeVar("Stage", bound=Callable[..., Any])


def stage(method: Stage) -> Stage:
    """Mark ``method`` as a stage of init: it raises STAGE_EVENT before and after it runs."""
    name = method.__name__

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        sys.audit(STAGE_EVENT, name, "before")
        out = method(*args, **kwargs)
        sys.audit(STAGE_EVENT, name, "after")
        return out

    return cast(Stage, run)


@dataclass
class Result:
    """What ``init`` did, for the summary it prints."""

    venv: str
    actions: List[str] = field(default_factory=list)


class VenvBuilder:
    """Create or update an isolated, group-writable venv. Override any stage."""

    def __init__(
        self,
        venv: str,
        python: Optional[str] = None,
        gid: int = 0,
        with_pip: bool = True,
        pip_wheel: Optional[str] = None,
        wheelhouse: Optional[str] = None,
        prompt: Optional[str] = None,
        creator: str = "auto",
        launcher: str = "auto",
        home: Optional[str] = None,
        writable_passwd: bool = False,
    ) -> None:
        """``home``: the shared home for UIDs without one (None: none); ``writable_passwd``: SECURITY.md's opt-in."""
        self.venv = check_venv(venv, existing=False)
        self.location = self.venv  # the directory itself, when the venv path is a symlink (resolve_location)
        self.python = python or sys.executable
        self.explicit_python = python is not None
        self.gid = gid
        self.with_pip = with_pip
        if creator not in CREATORS:
            raise CreateError("--creator %s: want one of %s" % (creator, ", ".join(CREATORS)))
        if wheelhouse and not os.path.isdir(wheelhouse):
            raise CreateError(
                "--wheelhouse %s: no such directory; pass the directory that holds pip's wheel" % wheelhouse
            )
        self.creator = creator  # where pip comes from: auto, venv (a pip wheel), virtualenv
        self.pip_wheel = pip_wheel
        self.wheelhouse = wheelhouse
        self.prompt = prompt or os.path.basename(self.venv)
        self.launcher = choose_form(launcher)  # sh, or python for an image without /bin/sh
        problem = shebang_problem(self.venv) if self.launcher == "python" else None
        if problem:
            raise VenvError(
                "cannot write a launcher without /bin/sh: %s; choose a shorter --venv without blanks" % problem
            )
        self.home = home
        self.writable_passwd = writable_passwd

    # -- the whole run --------------------------------------------------------------

    def create(self) -> Result:
        """Make the venv exist, isolated, with pip, hooks and the permission policy; then the image-wide set-up."""
        self.check_guards()
        result = Result(self.venv)
        self.location = location.resolve_location(self.venv)
        if self.location != self.venv:
            result.actions.append("%s is a symlink: the venv's files are in %s" % (self.venv, self.location))
        self.build_or_update(result)
        if self.launcher == "python":
            result.actions.append(
                "%s/bin/pyenvboot runs on %s/bin/python: it needs no /bin/sh (one Python start more per exec)"
                % (self.venv, self.venv)
            )
        if self.home is not None:
            result.actions.append(ensure_home(self.home, self.gid))
        if self.writable_passwd:
            result.actions.append(make_passwd_writable(self.gid))
        return result

    def check_guards(self) -> None:
        """Before anything changes: refuse a bad shared home, and a venv path of the operating system."""
        if self.home is not None:
            check_home(self.home)
        refuse_system_path(self.venv)

    def build_or_update(self, result: Result) -> None:
        """Under the parent's lock: a new venv (also over an empty directory), else an update under the venv's."""
        parent = os.path.dirname(self.location)
        created = location.missing_parents(self.location)  # removed again if init fails: nothing left behind
        location.ensure_parent(self.venv, parent)
        try:
            with locked(parent, "creating " + self.venv):
                location.remove_stale_staging(self.location)
                if os.path.lexists(self.location) and not location.empty_target(self.location):
                    location.check_existing(self.venv, self.location)
                    with locked(self.venv, "updating it"):
                        self.update(result)
                else:
                    self.build_new(result)
        except BaseException:
            location.remove_created(created)
            raise

    def build_new(self, result: Result) -> None:
        staging = location.staging_path(self.location)
        try:
            info = self.probe()
            os.mkdir(staging)
            self.ensure_directories(staging, info)
            self.write_config(staging, info)
            self.link_interpreter(staging, info)
            if self.with_pip:
                self.install_pip(staging, info)
            self.write_guard(staging, info)
            self.write_launcher(staging)
            self.compile_bytecode(staging, info)
            self.write_scripts(staging, info)
            self.apply_permissions(staging)
            self.publish(staging)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise translate(exc, self.venv) from None
        result.actions.append("created venv with Python %s (%s)" % (info.minor, info.executable))

    def update(self, result: Result) -> None:
        root = self.venv
        try:
            self.prepare_update()
            info = self.probe()
            self.check_version(info)  # before anything is written
            self.ensure_directories(root, info)
            result.actions += self.repair(info)
            self.write_config(root, info)
            self.link_interpreter(root, info)
            if self.with_pip and not has_pip(info.purelib):
                self.install_pip(root, info)
                result.actions.append("installed pip")
            self.write_guard(root, info)
            self.write_launcher(root)
            self.compile_bytecode(root, info)
            self.write_scripts(root, info)
            report = self.apply_permissions(root)
        except BaseException as exc:
            raise translate(exc, self.venv) from None
        result.actions.append("updated venv in place; %d entries needed the permission policy" % report)

    # -- stages: ``root`` is the tree being built, the staging directory or the venv itself --

    @stage
    def prepare_update(self) -> None:
        """Without --python, keep the venv's own base while it exists; clear a killed run's scratch files."""
        link = os.path.join(self.venv, "bin", "python")
        if not self.explicit_python and os.path.islink(link):
            target = os.path.join(os.path.dirname(link), os.readlink(link))
            if os.path.exists(target):
                self.python = target
        location.remove_leftovers(self.venv)

    @stage
    def probe(self) -> Interpreter:
        """Ask the base interpreter about itself and the paths of the venv; nothing is written."""
        return interpreter.probe(self.python, self.venv)

    @stage
    def check_version(self, info: Interpreter) -> None:
        refuse_minor_change(self.venv, info, self.explicit_python)

    @stage
    def ensure_directories(self, root: str, info: Interpreter) -> None:
        for sub in ("bin", "include", "share/pyenvboot"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        for path in {info.purelib, info.platlib}:
            os.makedirs(self.relocate(path, root), exist_ok=True)
        # Like the stdlib: lib64 -> lib on 64-bit Linux.
        lib64 = os.path.join(root, "lib64")
        if sys.maxsize > 2**32 and not os.path.lexists(lib64) and os.path.isdir(os.path.join(root, "lib")):
            os.symlink("lib", lib64)

    @stage
    def repair(self, info: Interpreter) -> List[str]:
        """A venv whose base Python changed: see :mod:`pyenvboot.create.repair`."""
        return follow_base(self.venv, info, self.pip if self.with_pip else None)

    @stage
    def write_config(self, root: str, info: Interpreter) -> None:
        """pyvenv.cfg; always isolated, whatever an earlier tool wrote."""
        old = read_cfg(root) or {}
        values = dict(old)
        values.update(
            {
                "home": os.path.dirname(info.executable),
                "include-system-site-packages": "false",
                "version": format_version(info.version),
                "executable": info.realpath,
                "pyenvboot": __version__,
            }
        )
        values.setdefault("prompt", repr(self.prompt))
        if values != old:
            write_atomic(os.path.join(root, "pyvenv.cfg"), format_cfg(values))

    @stage
    def link_interpreter(self, root: str, info: Interpreter) -> None:
        """bin/python -> the base interpreter; python3 and python3.X -> python."""
        links = {"python": info.executable, "python3": "python", "python" + info.minor: "python"}
        for name, target in links.items():
            path = os.path.join(root, "bin", name)
            try:
                if os.readlink(path) == target:
                    continue
            except OSError:
                pass
            symlink_atomic(target, path)

    @stage
    def install_pip(self, root: str, info: Interpreter) -> None:
        """Seed pip: unpack a wheel without running pip (fast, offline), else through the base's virtualenv."""
        self.pip.install(self.venv, root, self.relocate(info.purelib, root), info)

    @stage
    def write_guard(self, root: str, info: Interpreter) -> None:
        """The start-up guard in site-packages: group-writable umask, SIGTERM for PID 1 (see guard.py)."""
        guard.write_guard(self.relocate(info.purelib, root))

    @stage
    def write_launcher(self, root: str) -> None:
        """``bin/pyenvboot`` and the runtime copy of pyenvboot it runs."""
        scripts.install_runtime(self.venv, root)
        scripts.install_launcher(self.venv, root, self.launcher)

    @stage
    def compile_bytecode(self, root: str, info: Interpreter) -> None:
        """Byte-compile everything seeded (pip, the guard, the runtime copy) in one run of the base interpreter."""
        paths = bytecode.seeded_code(self.venv, info.purelib, self.with_pip)
        bytecode.compile_seeded(self.python, self.venv, root, paths)

    @stage
    def write_scripts(self, root: str, info: Interpreter) -> None:
        """The stdlib activate scripts and the shell hook (BASH_ENV, ENV, PROMPT_COMMAND)."""
        scripts.write_activate_scripts(self.python, self.venv, root, self.prompt, info)
        scripts.write_hook(self.venv, root, self.prompt)

    @stage
    def apply_permissions(self, root: str) -> int:
        report = fix_tree(self.location if root == self.venv else root, self.gid)
        if report.skipped:
            raise PermissionPolicyError("cannot apply the permission policy to %s: %s" % (self.venv, report.skipped[0]))
        return report.changed

    @stage
    def publish(self, staging: str) -> None:
        """The one step that makes a new venv appear, complete: a rename (over an empty directory too)."""
        os.rename(staging, self.location)

    # -- helpers --------------------------------------------------------------------

    @property
    def pip(self) -> PipSource:
        """Where pip comes from, for the base interpreter as it stands (an update keeps the venv's own)."""
        return PipSource(self.python, self.creator, self.pip_wheel, self.wheelhouse)

    def relocate(self, path: str, root: str) -> str:
        return location.relocate(path, self.venv, root)


def translate(exc: BaseException, venv: str) -> BaseException:
    """OS errors during a build become one clear line; ours pass through."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        # copytree gathers its failures as (src, dst, "[Errno N] reason") triples, with no errno of its own.
        _, dst, why = exc.args[0][0]
        code = re.match(r"\[Errno (\d+)\] (.*?)(?::|$)", str(why))
        if code:
            exc = OSError(int(code.group(1)), code.group(2), dst)
    if isinstance(exc, OSError):
        where = exc.filename or venv
        if exc.errno == 28:
            return CreateError("no space left on device while writing %s; free space and run init again" % where)
        if isinstance(exc, PermissionError):
            return PermissionPolicyError("permission denied: %s; run init as root or as the venv's owner" % where)
        return CreateError("cannot create %s: %s (%s)" % (venv, exc.strerror, where))
    return exc
