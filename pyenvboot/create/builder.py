"""Create or update the venv, in stages you can read top to bottom and override.

Like ``venv.EnvBuilder.create()``: probe interpreter -> directories -> config ->
interpreter links -> pip -> scripts -> permissions. A new venv is built in a
hidden sibling directory and renamed into place, so an ``init`` killed at any
moment leaves either nothing or the previous venv. An existing venv is updated in
place and nothing installed in it is removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from pyenvboot import __version__
from pyenvboot.errors import CreateError, InterpreterError, PermissionPolicyError, VenvError
from pyenvboot.permissions.policy import fix_tree
from pyenvboot.runtime.environment import hook_path
from pyenvboot.runtime.hook import render_hook
from pyenvboot.runtime.launcher import LIB_RELPATH, choose_form, copy_runtime, shebang_problem, write_launcher
from pyenvboot.venv.config import format_cfg, read_cfg
from pyenvboot.venv.files import write_atomic
from pyenvboot.venv.lock import locked

MIN_VERSION = (3, 8)
STAGING_MARK = ".pyenvboot-staging-"
DEBIAN_WHEELS = "/usr/share/python-wheels"
# Fault injection for the atomicity tests: "before:STAGE", "after:STAGE" or
# "after:STAGE#N" (the Nth call) makes init SIGKILL itself there, a real kill at a known point.
FAULT_VAR = "PYENVBOOT_KILL_AT"

# Run by the target interpreter: facts about it, and (given a bin directory) the
# stdlib activate scripts rendered for the final venv path by its own venv module.
PROBE = r"""
import json, os, sys, sysconfig
final = sys.argv[1]
out = {"version": list(sys.version_info[:3]), "implementation": sys.implementation.name}
exe = sys.executable
if sys.prefix != sys.base_prefix:
    exe = os.path.realpath(exe)
else:
    exe = getattr(sys, "_base_executable", None) or exe
out["executable"] = os.path.abspath(exe)
out["realpath"] = os.path.realpath(exe)
scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
paths = sysconfig.get_paths(scheme=scheme, vars={"base": final, "platbase": final,
    "installed_base": final, "installed_platbase": final})
out["purelib"] = paths["purelib"]
out["platlib"] = paths["platlib"]
import importlib.util
wheels = []
spec = importlib.util.find_spec("ensurepip")
if spec is not None and spec.origin:
    d = os.path.join(os.path.dirname(spec.origin), "_bundled")
    if os.path.isdir(d):
        wheels += [os.path.join(d, n) for n in os.listdir(d) if n.startswith("pip-") and n.endswith(".whl")]
out["pip_wheels"] = wheels
out["has_ensurepip"] = spec is not None
out["has_virtualenv"] = importlib.util.find_spec("virtualenv") is not None
out["scripts"] = False
if len(sys.argv) > 2:
    try:
        import types, venv
    except ImportError:
        pass
    else:
        prompt = sys.argv[3]
        ctx = types.SimpleNamespace(env_dir=final, env_name=os.path.basename(final),
            prompt=("(%s) " % prompt) if sys.version_info < (3, 12) else prompt,
            bin_name="bin", bin_path=sys.argv[2], env_exe=os.path.join(final, "bin", "python"),
            executable=exe, python_dir=os.path.dirname(exe), python_exe=os.path.basename(exe),
            inc_path=os.path.join(final, "include"), lib_path=paths["purelib"],
            cfg_path=os.path.join(final, "pyvenv.cfg"), env_exec_cmd=os.path.join(final, "bin", "python"))
        venv.EnvBuilder(prompt=prompt).setup_scripts(ctx)
        out["scripts"] = True
print(json.dumps(out))
"""

# Run by the target interpreter once everything is seeded: byte-compile what init put
# in the venv, so that no later process (a root ``pip list`` at umask 022 above all)
# writes a __pycache__ there. argv: final venv, the tree it is built in, then paths
# relative to it, each prefixed "t:" or "u:". Each path is compiled as the final
# venv's, so the code objects name the files where they will live (``ddir``);
# directories with one worker per CPU, because compiling pip's ~500 modules is most
# of init's time. "t:" is the usual timestamp-checked byte code (pip: a pip upgrade
# replaces sources and byte code together). "u:" is PEP 552's unchecked-hash byte
# code, for pyenvboot's runtime copy: only init replaces it (and compiles it again),
# and a COPY into another image stage that does not keep mtimes must not make every
# run of the launcher (``python -I -S``, so without the guard) write byte code at
# the caller's umask. It also spares the launcher a stat per module.
COMPILE = r"""
import compileall, os, py_compile, sys
final, root = sys.argv[1], sys.argv[2]
ok = True
for arg in sys.argv[3:]:
    kind, rel = arg.split(":", 1)
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH if kind == "u" else None
    path, dest = os.path.join(root, rel), os.path.join(final, rel)
    if os.path.isdir(path):
        ok &= bool(compileall.compile_dir(path, maxlevels=100, ddir=dest, quiet=1, workers=0, invalidation_mode=mode))
    elif os.path.isfile(path):
        ok &= bool(compileall.compile_file(path, ddir=os.path.dirname(dest), quiet=1, invalidation_mode=mode))
sys.exit(0 if ok else 1)
"""


@dataclass
class Interpreter:
    """What the probe found out about the base interpreter."""

    version: List[int]
    executable: str
    realpath: str
    purelib: str
    platlib: str
    pip_wheels: List[str]
    has_ensurepip: bool
    has_virtualenv: bool
    scripts: bool

    @property
    def minor(self) -> str:
        return "%d.%d" % (self.version[0], self.version[1])


@dataclass
class Result:
    """What ``init`` did, for the summary it prints."""

    venv: str
    created: bool = False
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
        log: Callable[[str], None] = lambda message: None,
        creator: str = "auto",
        launcher: str = "auto",
    ) -> None:
        if not venv.startswith("/"):
            raise VenvError("venv path %r is relative; use an absolute path" % venv)
        self.venv = venv.rstrip("/") or "/"
        self.location = self.venv  # the directory itself, when the venv path is a symlink (resolve_location)
        self.python = python or sys.executable
        self.gid = gid
        self.with_pip = with_pip
        self.pip_wheel = pip_wheel
        if wheelhouse and not os.path.isdir(wheelhouse):
            raise CreateError(
                "--wheelhouse %s: no such directory; pass the directory that holds pip's wheel" % wheelhouse
            )
        self.wheelhouse = wheelhouse
        self.prompt = prompt or os.path.basename(self.venv)
        self.log = log
        self.creator = creator  # where pip comes from: auto, venv (a pip wheel), virtualenv
        self.explicit_python = python is not None
        self.launcher = choose_form(launcher)  # sh, or python for an image without /bin/sh
        problem = shebang_problem(self.venv) if self.launcher == "python" else None
        if problem:
            raise VenvError(
                "cannot write a launcher without /bin/sh: %s; choose a shorter --venv without blanks" % problem
            )
        if os.environ.get(FAULT_VAR):
            self.arm_fault(os.environ[FAULT_VAR])

    # -- the whole run --------------------------------------------------------------

    def create(self) -> Result:
        """Make the venv exist, isolated, with pip, hooks and the permission policy."""
        result = Result(self.venv)
        self.location = self.resolve_location(result)
        parent = os.path.dirname(self.location)
        missing: List[str] = []  # parents we create, removed again if init fails: nothing left behind
        path = parent
        while not os.path.lexists(path):
            missing.append(path)
            path = os.path.dirname(path)
        self.ensure_parent(parent)
        try:
            with locked(parent, "creating " + self.venv):
                self.remove_stale_staging(parent)
                if os.path.lexists(self.location) and not self.empty_target():
                    self.check_existing()
                    with locked(self.venv, "updating it"):
                        self.update(result)
                else:
                    self.build_new(result)
        except BaseException:
            for created in missing:
                try:
                    os.rmdir(created)
                except OSError:
                    break
            raise
        if self.launcher == "python":
            result.actions.append(
                "%s/bin/pyenvboot runs on %s/bin/python: it needs no /bin/sh (one Python start more per exec)"
                % (self.venv, self.venv)
            )
        return result

    def build_new(self, result: Result) -> None:
        name = "." + os.path.basename(self.location) + STAGING_MARK + str(os.getpid())
        staging = os.path.join(os.path.dirname(self.location), name)
        try:
            os.mkdir(staging)
            self.ensure_directories(staging)
            self.copy_runtime(staging)
            info = self.probe(staging)
            self.ensure_lib_directories(staging, info)
            self.write_config(staging, info)
            self.link_interpreter(staging, info)
            if self.with_pip:
                self.install_pip(staging, info)
            self.write_guard(staging, info)
            self.compile_bytecode(staging, info)
            self.write_scripts(staging)
            self.apply_permissions(staging)
            self.publish(staging)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise self.translate(exc) from None
        result.created = True
        result.actions.append("created venv with Python %s (%s)" % (info.minor, info.executable))

    def update(self, result: Result) -> None:
        try:
            self.prepare_update()
            self.check_version(self.probe(self.venv, render=False))  # before anything is written
            self.ensure_directories(self.venv)
            self.copy_runtime(self.venv)
            info = self.probe(self.venv)
            self.ensure_lib_directories(self.venv, info)
            self.check_version(info)
            self.repair(result, info)
            self.write_config(self.venv, info)
            self.link_interpreter(self.venv, info)
            if self.with_pip and not self.has_pip(self.venv, info):
                self.install_pip(self.venv, info)
                result.actions.append("installed pip")
            self.write_guard(self.venv, info)
            self.compile_bytecode(self.venv, info)
            self.write_scripts(self.venv)
            report = self.apply_permissions(self.venv)
        except BaseException as exc:
            raise self.translate(exc) from None
        result.actions.append("updated venv in place; %d entries needed the permission policy" % report)

    # -- stages ---------------------------------------------------------------------

    def ensure_parent(self, parent: str) -> None:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise PermissionPolicyError(
                "cannot create %s: %s; create it or choose a writable --venv" % (parent, exc.strerror)
            ) from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionPolicyError(
                "cannot create %s: %s is not writable by uid %d; run init as root or choose another --venv"
                % (self.venv, parent, os.getuid())
            )

    def resolve_location(self, result: Result) -> str:
        """Where the venv's files go: the venv path, or the directory a symlink there points to.

        Every path written into the venv (pyvenv.cfg, scripts, the hook) still names
        the venv path; only the directory that is created or renamed into place is
        the symlink's target, so the symlink is kept.
        """
        if not os.path.islink(self.venv):
            return self.venv
        target = os.path.realpath(self.venv)
        if not os.path.isdir(target):
            raise VenvError(
                "%s is a symlink to %s, which %s; point it at a directory, or pass --venv the venv's own directory"
                % (self.venv, target, "is not a directory" if os.path.lexists(target) else "does not exist")
            )
        result.actions.append("%s is a symlink: the venv's files are in %s" % (self.venv, target))
        return target

    def remove_stale_staging(self, parent: str) -> None:
        """Left by an ``init`` that was killed; we hold the parent lock, so none is live."""
        prefix = "." + os.path.basename(self.location) + STAGING_MARK
        for name in os.listdir(parent):
            if name.startswith(prefix):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)

    def check_existing(self) -> None:
        if os.path.islink(self.location) or not os.path.isdir(self.location):
            raise VenvError("%s exists and is not a directory; remove it or choose another --venv" % self.venv)
        if read_cfg(self.venv) is None and os.listdir(self.venv):
            raise VenvError(
                "%s exists, is not empty and is not a venv (no pyvenv.cfg); refusing to touch it" % self.venv
            )

    def probe(self, target_dir: str, render: bool = True) -> Interpreter:
        """Ask the base interpreter about itself; render the stdlib activate scripts into ``target_dir``."""
        argv = [self.python, "-I", "-c", PROBE, self.venv]
        if render:
            argv += [self.scripts_dir(target_dir), self.prompt]
        try:
            proc = subprocess.run(argv, capture_output=True, check=False)
        except OSError as exc:
            raise InterpreterError(
                "cannot run --python %s: %s; pass a Python >= 3.8 interpreter" % (self.python, exc.strerror)
            ) from None
        try:
            # The last line: compileall may print (to stdout) before it, e.g. on an old Python.
            data: Dict[str, Any] = json.loads((proc.stdout.strip().splitlines() or [b""])[-1])
            too_old = tuple(data["version"][:2]) < MIN_VERSION  # it may lack what the rest reports
            info = None if too_old else Interpreter(**{k: data[k] for k in Interpreter.__dataclass_fields__})
        except (ValueError, KeyError, TypeError):
            detail = proc.stderr.decode(errors="replace").strip().splitlines()
            raise InterpreterError(
                "%s is not a usable Python interpreter (%s); pass a Python >= 3.8 with --python"
                % (self.python, detail[-1] if detail else "exit %d" % proc.returncode)
            ) from None
        if info is None or data.get("implementation") != "cpython" or tuple(info.version[:2]) < MIN_VERSION:
            raise InterpreterError(
                "%s is Python %s; pyenvboot needs CPython >= 3.8" % (self.python, ".".join(map(str, data["version"])))
            )
        if render:
            self.publish_scripts(target_dir)
        return info

    def ensure_directories(self, root: str) -> None:
        for sub in ("bin", "include", "share/pyenvboot"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)

    def ensure_lib_directories(self, root: str, info: Interpreter) -> None:
        for path in {info.purelib, info.platlib}:
            os.makedirs(self.relocate(path, root), exist_ok=True)
        # Like the stdlib: lib64 -> lib on 64-bit Linux.
        lib64 = os.path.join(root, "lib64")
        if sys.maxsize > 2**32 and not os.path.lexists(lib64) and os.path.isdir(os.path.join(root, "lib")):
            os.symlink("lib", lib64)

    def check_version(self, info: Interpreter) -> None:
        """Refuse another minor version while the venv's own base still works; otherwise repair follows.

        An explicit ``--python`` 3.12 for a venv whose 3.11 base still runs is most
        likely a mistake. A base that is gone, or that now is another minor (as
        ``/usr/bin/python3`` after a release upgrade), is what :meth:`repair` is for.
        """
        cfg = read_cfg(self.venv) or {}
        old = cfg.get("version") or cfg.get("version_info") or ""
        old_minor = ".".join(old.split(".")[:2])
        if old and old_minor != info.minor and self.explicit_python and self.current_minor() == old_minor:
            raise VenvError(
                "%s was made by Python %s but --python is %s; pass --python for %s, or move the venv"
                " away and run init again" % (self.venv, old, info.minor, ".".join(old.split(".")[:2]))
            )

    def write_config(self, root: str, info: Interpreter) -> None:
        """pyvenv.cfg; always isolated, whatever an earlier tool wrote."""
        old = read_cfg(root) or {}
        values = dict(old)
        values.update(
            {
                "home": os.path.dirname(info.executable),
                "include-system-site-packages": "false",
                "version": ".".join(map(str, info.version)),
                "executable": info.realpath,
                "pyenvboot": __version__,
            }
        )
        values.setdefault("prompt", repr(self.prompt))
        if values != old:
            write_atomic(os.path.join(root, "pyvenv.cfg"), format_cfg(values))

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
            tmp = path + ".pyenvboot-tmp"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(target, tmp)
            os.replace(tmp, path)

    def find_wheel(self, info: Interpreter) -> Optional[str]:
        """The pip wheel to seed: --pip-wheel, else the newest that fits of the interpreter's own
        (ensurepip), a --wheelhouse, Debian's and the zipapp's; None when there is none."""
        from pyenvboot.create import seed

        if self.pip_wheel:
            if not os.path.isfile(self.pip_wheel):
                raise CreateError("--pip-wheel %s: no such file" % self.pip_wheel)
            return self.pip_wheel
        others = seed.pip_wheels(self.wheelhouse) + seed.pip_wheels(DEBIAN_WHEELS) + seed.carried_pip_wheels()
        return seed.choose_wheel(info.pip_wheels, others, info.version)

    def no_pip(self, info: Interpreter) -> CreateError:
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

    def has_pip(self, root: str, info: Interpreter) -> bool:
        """A complete pip: INSTALLER is written last, so a seeding cut short (killed, disk full) is redone."""
        import glob

        purelib = glob.escape(self.relocate(info.purelib, root))
        return bool(glob.glob(os.path.join(purelib, "pip-*.dist-info", "INSTALLER")))

    def install_pip(self, root: str, info: Interpreter) -> None:
        """Seed pip: unpack a wheel without running pip (fast, offline), else through the base's virtualenv."""
        from pyenvboot.create import seed

        names = {"pip": ["pip", "pip3", "pip" + info.minor]}
        purelib = self.relocate(info.purelib, root)
        python = os.path.join(self.venv, "bin", "python")
        wheel = None if self.creator == "virtualenv" else self.find_wheel(info)
        if wheel is not None:
            seed.seed_from_wheel(wheel, purelib, os.path.join(root, "bin"), python, names)
        elif info.has_virtualenv and self.creator != "venv":
            seed.seed_from_virtualenv(self.python, root, purelib, python, names)
        else:
            raise self.no_pip(info)

    def copy_runtime(self, root: str) -> None:
        """pyenvboot's own copy for the launcher; the probe byte-compiles it.

        In a live venv the new copy is made beside the old one and swapped in by
        renames: a killed init leaves the old copy or the new one, not half of one
        (but for the instant between two renames; the next init restores it).
        """
        lib = os.path.join(root, LIB_RELPATH)
        if root != self.venv or not os.path.isdir(lib):
            copy_runtime(lib)
            return
        from pyenvboot.create.seed import TMP_PREFIX, remove_path

        scratch = os.path.join(lib, TMP_PREFIX + "new-%d" % os.getpid())
        copy_runtime(scratch)
        for name in sorted(os.listdir(scratch)):
            old = os.path.join(lib, TMP_PREFIX + "old-%d-%s" % (os.getpid(), name))
            if os.path.lexists(os.path.join(lib, name)):
                os.rename(os.path.join(lib, name), old)
            os.rename(os.path.join(scratch, name), os.path.join(lib, name))
            remove_path(old)
        remove_path(scratch)

    def write_guard(self, root: str, info: Interpreter) -> None:
        """The start-up guard in site-packages: group-writable umask, SIGTERM for PID 1 (see guard.py)."""
        from pyenvboot.runtime.guard import write_guard

        write_guard(self.relocate(info.purelib, root))

    def seeded_code(self, info: Interpreter) -> List[str]:
        """What init put in the venv that Python may import, relative to the venv, as COMPILE takes it."""
        from pyenvboot.runtime.guard import PID1_MODULE
        from pyenvboot.runtime.launcher import PACKAGES

        site = os.path.relpath(info.purelib, self.venv)
        paths = ["u:" + os.path.join(LIB_RELPATH, name) for name in PACKAGES]
        paths.append("t:" + os.path.join(site, PID1_MODULE + ".py"))
        if self.with_pip:
            paths.append("t:" + os.path.join(site, "pip"))
        return paths

    def compile_bytecode(self, root: str, info: Interpreter) -> None:
        """Byte-compile everything seeded, in one run of the base interpreter (see COMPILE).

        Up-to-date byte code is left alone, so an update of a compiled venv costs a
        stat per module; a pip that another run upgraded is compiled as it stands.
        """
        argv = [self.python, "-I", "-c", COMPILE, self.venv, root] + self.seeded_code(info)
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
            raise CreateError(
                "cannot byte-compile what init seeded into %s (%s); free space or fix the files and run init again"
                % (self.venv, lines[-1] if lines else "exit status %d" % proc.returncode)
            )

    def write_scripts(self, root: str) -> None:
        """The launcher and the shell hook (BASH_ENV, ENV, PROMPT_COMMAND).

        The activate scripts came with the probe.
        """
        write_launcher(os.path.join(root, "bin"), self.venv, self.launcher)
        path = self.relocate(hook_path(self.venv), root)
        write_atomic(path, render_hook(self.venv, self.prompt, [os.path.join(self.venv, "bin", "pyenvboot")]))

    def apply_permissions(self, root: str) -> int:
        report = fix_tree(self.location if root == self.venv else root, self.gid)
        if report.skipped:
            raise PermissionPolicyError(
                "cannot apply the permission policy to %s: %s" % (self.venv, report.skipped[0])
            )
        return report.changed

    # -- atomicity and repair ---------------------------------------------------------

    def empty_target(self) -> bool:
        """An empty directory (not a mount point) at the venv path: built anew and renamed over."""
        try:
            return (
                os.path.isdir(self.location)
                and not os.path.islink(self.location)
                and not os.path.ismount(self.location)
                and not os.listdir(self.location)
            )
        except OSError:
            return False

    def publish(self, staging: str) -> None:
        """The one step that makes a new venv appear, complete: a rename (over an empty directory too)."""
        os.rename(staging, self.location)

    def prepare_update(self) -> None:
        """Without --python, keep the venv's own base while it exists; clear a killed run's scratch files."""
        link = os.path.join(self.venv, "bin", "python")
        if not self.explicit_python and os.path.islink(link):
            target = os.path.join(os.path.dirname(link), os.readlink(link))
            if os.path.exists(target):
                self.python = target
        self.remove_leftovers()

    def remove_leftovers(self) -> None:
        """Scratch entries an interrupted init or seeding left in the venv (we hold its lock: none is live)."""
        import glob

        from pyenvboot.create.seed import TMP_PREFIX, remove_path

        root = glob.escape(self.venv)
        patterns = [
            os.path.join(root, TMP_PREFIX + "*"),
            os.path.join(root, "lib", "python*", TMP_PREFIX + "*"),
            os.path.join(root, "lib", "python*", "site-packages", "*" + TMP_PREFIX + "tmp*"),
            os.path.join(root, "*" + TMP_PREFIX + "tmp*"),
            os.path.join(root, "bin", "*" + TMP_PREFIX + "tmp*"),
            os.path.join(root, "share", "pyenvboot", "*" + TMP_PREFIX + "tmp*"),
            os.path.join(root, glob.escape(LIB_RELPATH), TMP_PREFIX + "*"),
        ]
        for pattern in patterns:
            for path in glob.glob(pattern):
                remove_path(path)

    def scripts_dir(self, target_dir: str) -> str:
        """Where the probe writes the activate scripts: straight into a staging dir, via scratch in a live venv."""
        if target_dir != self.venv:
            return os.path.join(target_dir, "bin")
        scratch = os.path.join(self.venv, ".pyenvboot-scripts-%d" % os.getpid(), "bin")
        os.makedirs(scratch, exist_ok=True)
        return scratch

    def publish_scripts(self, target_dir: str) -> None:
        """Rename freshly rendered activate scripts over the old ones, each in one step."""
        if target_dir != self.venv:
            return
        scratch = os.path.join(self.venv, ".pyenvboot-scripts-%d" % os.getpid())
        rendered = os.path.join(scratch, "bin")
        for name in sorted(os.listdir(rendered)) if os.path.isdir(rendered) else []:
            os.replace(os.path.join(rendered, name), os.path.join(self.venv, "bin", name))
        shutil.rmtree(scratch, ignore_errors=True)

    def current_minor(self) -> Optional[str]:
        """The minor version the venv's python runs now, or None when it does not run."""
        try:
            code = "import sys; print('%d.%d' % sys.version_info[:2])"
            proc = subprocess.run(
                [os.path.join(self.venv, "bin", "python"), "-I", "-c", code],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def repair(self, result: Result, info: Interpreter) -> None:
        """Follow a base Python that changed: patch upgrade, moved or removed interpreter, minor upgrade."""
        from pyenvboot.create import repair

        cfg = read_cfg(self.venv) or {}
        old = ".".join((cfg.get("version") or cfg.get("version_info") or "").split(".")[:3])
        old_minor = ".".join(old.split(".")[:2])
        new = ".".join(map(str, info.version))
        link = os.path.join(self.venv, "bin", "python")
        dangling = os.path.islink(link) and not os.path.exists(link)
        old_exe = os.readlink(link) if os.path.islink(link) else cfg.get("executable", "")
        if old_minor and old_minor != info.minor:
            actions = repair.move_site_packages(self.venv, old_minor, info.purelib)
            actions += repair.set_aside_incompatible(self.venv, info.purelib, info.version[1], old_minor)
            repair.remove_stale_links(self.venv, info.minor)
            if self.with_pip:
                actions += self.refresh_pip(info)
            result.actions.append("repaired: base Python %s -> %s (%s)" % (old, new, info.executable))
            result.actions += actions
        elif dangling or (old and old != new) or (old_exe and os.path.realpath(link) != info.realpath):
            result.actions.append(
                "repaired: base Python %s (%s%s) -> %s (%s)"
                % (old or "?", old_exe or "?", ", missing" if dangling else "", new, info.executable)
            )

    def refresh_pip(self, info: Interpreter) -> List[str]:
        """After a minor upgrade: replace a pip older than the new base's own (old pips break on new Pythons)."""
        from pyenvboot.create import seed
        from pyenvboot.packages.versions import version_key

        current = seed.installed_pip(info.purelib)
        wheel = self.find_wheel(info) if self.creator != "virtualenv" else None
        if current is None or wheel is None:
            return []
        if seed.wheel_version(wheel) <= version_key(current.version):
            return []
        seed.remove_distribution(current, self.venv)
        self.install_pip(self.venv, info)
        return ["replaced pip %s with %s" % (current.version, os.path.basename(wheel))]

    def arm_fault(self, spec: str) -> None:
        """Make ``init`` SIGKILL itself before or after a stage (see FAULT_VAR); for the tests only."""
        import signal

        when, _, rest = spec.partition(":")
        name, _, nth = rest.partition("#")
        method = getattr(self, name, None)
        if when not in ("before", "after") or not callable(method):
            raise VenvError("%s=%s: want before:STAGE or after:STAGE[#N] with a VenvBuilder method" % (FAULT_VAR, spec))
        calls = [0]

        def armed(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            hit = calls[0] == int(nth or 1)
            if hit and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            out = method(*args, **kwargs)
            if hit and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        setattr(self, name, armed)

    # -- helpers --------------------------------------------------------------------

    def relocate(self, path: str, root: str) -> str:
        """``path`` (under the final venv) inside ``root`` (the staging dir or the venv)."""
        return root + path[len(self.venv):] if path.startswith(self.venv) else path

    def translate(self, exc: BaseException) -> BaseException:
        """OS errors during a build become one clear line; ours pass through."""
        if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
            # copytree gathers its failures as (src, dst, "[Errno N] reason") triples, with no errno of its own.
            _, dst, why = exc.args[0][0]
            code = re.match(r"\[Errno (\d+)\] (.*?)(?::|$)", str(why))
            if code:
                exc = OSError(int(code.group(1)), code.group(2), dst)
        if isinstance(exc, OSError):
            where = exc.filename or self.venv
            if exc.errno == 28:
                return CreateError("no space left on device while writing %s; free space and run init again" % where)
            if isinstance(exc, PermissionError):
                return PermissionPolicyError("permission denied: %s; run init as root or as the venv's owner" % where)
            return CreateError("cannot create %s: %s (%s)" % (self.venv, exc.strerror, where))
        return exc
