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
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from pyenvboot import __version__
from pyenvboot.environment import hook_path
from pyenvboot.errors import CreateError, InterpreterError, PermissionPolicyError, VenvError
from pyenvboot.hook import render_hook
from pyenvboot.launcher import LIB_RELPATH, copy_runtime, write_launcher
from pyenvboot.lock import locked
from pyenvboot.permissions import fix_tree
from pyenvboot.venvcfg import format_cfg, read_cfg, write_atomic

MIN_VERSION = (3, 8)
STAGING_MARK = ".pyenvboot-staging-"
DEBIAN_WHEELS = "/usr/share/python-wheels"

# Run by the target interpreter: facts about it, and (given a bin directory) the
# stdlib activate scripts rendered for the final venv path by its own venv module,
# and (given a lib directory) pyenvboot's runtime copy byte-compiled for it.
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
if len(sys.argv) > 3:
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
if len(sys.argv) > 4:
    import compileall
    compileall.compile_dir(sys.argv[4], quiet=1)
print(json.dumps(out))
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


def wheel_version(path: str) -> List[int]:
    """The numeric version in a wheel's file name, for picking the newest pip."""
    parts = os.path.basename(path).split("-")
    out: List[int] = []
    for piece in parts[1].split(".") if len(parts) > 1 else []:
        out.append(int(piece) if piece.isdigit() else 0)
    return out


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
    ) -> None:
        if not venv.startswith("/"):
            raise VenvError("venv path %r is relative; use an absolute path" % venv)
        self.venv = venv.rstrip("/") or "/"
        self.python = python or sys.executable
        self.gid = gid
        self.with_pip = with_pip
        self.pip_wheel = pip_wheel
        self.wheelhouse = wheelhouse
        self.prompt = prompt or os.path.basename(self.venv)
        self.log = log

    # -- the whole run --------------------------------------------------------------

    def create(self) -> Result:
        """Make the venv exist, isolated, with pip, hooks and the permission policy."""
        result = Result(self.venv)
        parent = os.path.dirname(self.venv)
        self.ensure_parent(parent)
        with locked(parent, "creating " + self.venv):
            self.remove_stale_staging(parent)
            if os.path.lexists(self.venv):
                self.check_existing()
                with locked(self.venv, "updating it"):
                    self.update(result)
            else:
                self.build_new(result)
        return result

    def build_new(self, result: Result) -> None:
        staging = os.path.join(os.path.dirname(self.venv), "." + os.path.basename(self.venv) + STAGING_MARK + str(os.getpid()))
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
            self.write_scripts(staging)
            self.apply_permissions(staging)
            os.rename(staging, self.venv)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise self.translate(exc) from None
        result.created = True
        result.actions.append("created venv with Python %s (%s)" % (info.minor, info.executable))

    def update(self, result: Result) -> None:
        try:
            self.ensure_directories(self.venv)
            self.copy_runtime(self.venv)
            info = self.probe(self.venv)
            self.ensure_lib_directories(self.venv, info)
            self.check_version(info)
            self.write_config(self.venv, info)
            self.link_interpreter(self.venv, info)
            if self.with_pip and not self.has_pip(self.venv, info):
                self.install_pip(self.venv, info)
                result.actions.append("installed pip")
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

    def remove_stale_staging(self, parent: str) -> None:
        """Left by an ``init`` that was killed; we hold the parent lock, so none is live."""
        prefix = "." + os.path.basename(self.venv) + STAGING_MARK
        for name in os.listdir(parent):
            if name.startswith(prefix):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)

    def check_existing(self) -> None:
        if os.path.islink(self.venv) or not os.path.isdir(self.venv):
            raise VenvError("%s exists and is not a directory; remove it or choose another --venv" % self.venv)
        if read_cfg(self.venv) is None and os.listdir(self.venv):
            raise VenvError(
                "%s exists, is not empty and is not a venv (no pyvenv.cfg); refusing to touch it" % self.venv
            )

    def probe(self, target_dir: str) -> Interpreter:
        """Ask the base interpreter about itself; render the stdlib activate scripts into ``target_dir``."""
        lib = os.path.join(target_dir, LIB_RELPATH)
        argv = [self.python, "-I", "-c", PROBE, self.venv, os.path.join(target_dir, "bin"), self.prompt, lib]
        try:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        except OSError as exc:
            raise InterpreterError(
                "cannot run --python %s: %s; pass a Python >= 3.8 interpreter" % (self.python, exc.strerror)
            ) from None
        try:
            data: Dict[str, Any] = json.loads(proc.stdout)
            info = Interpreter(**{k: data[k] for k in Interpreter.__dataclass_fields__})
        except (ValueError, KeyError, TypeError):
            detail = proc.stderr.decode(errors="replace").strip().splitlines()
            raise InterpreterError(
                "%s is not a usable Python interpreter (%s); pass a Python >= 3.8 with --python"
                % (self.python, detail[-1] if detail else "exit %d" % proc.returncode)
            ) from None
        if data.get("implementation") != "cpython" or tuple(info.version[:2]) < MIN_VERSION:
            raise InterpreterError(
                "%s is Python %s; pyenvboot needs CPython >= 3.8" % (self.python, ".".join(map(str, info.version)))
            )
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
        """Refuse to mix two Python minor versions in one venv (repair is the check issue's)."""
        cfg = read_cfg(self.venv) or {}
        old = cfg.get("version") or cfg.get("version_info") or ""
        if old and ".".join(old.split(".")[:2]) != info.minor:
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

    def pip_wheel_source(self, info: Interpreter) -> str:
        """The pip wheel to seed: --pip-wheel, the interpreter's own, Debian's, a wheelhouse."""
        if self.pip_wheel:
            if not os.path.isfile(self.pip_wheel):
                raise CreateError("--pip-wheel %s: no such file" % self.pip_wheel)
            return self.pip_wheel
        candidates = list(info.pip_wheels)
        for directory in (DEBIAN_WHEELS, self.wheelhouse):
            if directory and os.path.isdir(directory):
                candidates += [
                    os.path.join(directory, n) for n in os.listdir(directory) if n.startswith("pip-") and n.endswith(".whl")
                ]
        if not candidates:
            raise CreateError(
                "no pip for %s: it has no ensurepip; install python3-venv or python3-virtualenv in the image,"
                " pass --pip-wheel FILE or --wheelhouse DIR, or use --without-pip" % self.python
            )
        return max(candidates, key=wheel_version)

    def has_pip(self, root: str, info: Interpreter) -> bool:
        return os.path.isdir(os.path.join(self.relocate(info.purelib, root), "pip"))

    def install_pip(self, root: str, info: Interpreter) -> None:
        """Unpack the pip wheel and write its scripts, without running pip (fast and offline)."""
        from pyenvboot.wheel import install_wheel

        install_wheel(
            self.pip_wheel_source(info),
            purelib=self.relocate(info.purelib, root),
            bin_dir=os.path.join(root, "bin"),
            python=os.path.join(self.venv, "bin", "python"),
            script_names={"pip": ["pip", "pip3", "pip" + info.minor]},
        )

    def copy_runtime(self, root: str) -> None:
        """pyenvboot's own copy for the launcher; the probe byte-compiles it."""
        copy_runtime(os.path.join(root, LIB_RELPATH))

    def write_scripts(self, root: str) -> None:
        """The launcher and the shell hook (BASH_ENV, ENV, PROMPT_COMMAND).

        The activate scripts came with the probe.
        """
        write_launcher(os.path.join(root, "bin"), self.venv)
        path = self.relocate(hook_path(self.venv), root)
        write_atomic(path, render_hook(self.venv, self.prompt, [os.path.join(self.venv, "bin", "pyenvboot")]))

    def apply_permissions(self, root: str) -> int:
        report = fix_tree(root, self.gid)
        if report.skipped:
            raise PermissionPolicyError(
                "cannot apply the permission policy to %s: %s" % (self.venv, report.skipped[0])
            )
        return report.changed

    # -- helpers --------------------------------------------------------------------

    def relocate(self, path: str, root: str) -> str:
        """``path`` (under the final venv) inside ``root`` (the staging dir or the venv)."""
        return root + path[len(self.venv):] if path.startswith(self.venv) else path

    def translate(self, exc: BaseException) -> BaseException:
        """OS errors during a build become one clear line; ours pass through."""
        if isinstance(exc, OSError):
            where = exc.filename or self.venv
            if exc.errno == 28:
                return CreateError("no space left on device while writing %s; free space and run init again" % where)
            if isinstance(exc, PermissionError):
                return PermissionPolicyError("permission denied: %s; run init as root or as the venv's owner" % where)
            return CreateError("cannot create %s: %s (%s)" % (self.venv, exc.strerror, where))
        return exc
