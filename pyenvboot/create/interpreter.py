"""The probe: what the base interpreter is, asked of the interpreter itself. It only asks.

The base may be another Python version than the one running pyenvboot, so the
paths a venv for it has (``lib/python3.X/site-packages``) and the pip wheels it
carries come from a run of that interpreter, in isolated mode.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from pyenvboot.errors import InterpreterError

MIN_VERSION = (3, 8)

# Run by the target interpreter (argv: the final venv path): facts about it, one JSON line.
PROBE = r"""
import importlib.util, json, os, sys, sysconfig
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
wheels = []
spec = importlib.util.find_spec("ensurepip")
if spec is not None and spec.origin:
    d = os.path.join(os.path.dirname(spec.origin), "_bundled")
    if os.path.isdir(d):
        wheels += [os.path.join(d, n) for n in os.listdir(d) if n.startswith("pip-") and n.endswith(".whl")]
out["pip_wheels"] = wheels
out["has_virtualenv"] = importlib.util.find_spec("virtualenv") is not None
print(json.dumps(out))
"""


@dataclass
class Interpreter:
    """What the probe found out about the base interpreter."""

    version: List[int]
    executable: str  # what bin/python links to
    realpath: str
    purelib: str  # in the final venv
    platlib: str
    pip_wheels: List[str]  # ensurepip's bundled pip wheels
    has_virtualenv: bool

    @property
    def minor(self) -> str:
        return "%d.%d" % (self.version[0], self.version[1])


def probe(python: str, venv: str) -> Interpreter:
    """Ask ``python`` about itself and about the paths of a venv at ``venv``; refuse what is not CPython >= 3.8."""
    try:
        proc = subprocess.run([python, "-I", "-c", PROBE, venv], capture_output=True, check=False)
    except OSError as exc:
        raise InterpreterError(
            "cannot run --python %s: %s; pass a Python >= 3.8 interpreter" % (python, exc.strerror)
        ) from None
    try:
        # The last line: whatever the interpreter's start-up prints (a sitecustomize) comes before it.
        data: Dict[str, Any] = json.loads((proc.stdout.strip().splitlines() or [b""])[-1])
        too_old = tuple(data["version"][:2]) < MIN_VERSION  # it may lack what the rest reports
        info = None if too_old else Interpreter(**{k: data[k] for k in Interpreter.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InterpreterError(
            "%s is not a usable Python interpreter (%s); pass a Python >= 3.8 with --python"
            % (python, detail[-1] if detail else "exit %d" % proc.returncode)
        ) from None
    if info is None or data.get("implementation") != "cpython":
        raise InterpreterError(
            "%s is Python %s; pyenvboot needs CPython >= 3.8" % (python, ".".join(map(str, data["version"])))
        )
    return info


def run_code(python: str, code: str, args: Sequence[str]) -> Optional[str]:
    """Run ``code`` in ``python -I`` with ``args``: None when it succeeds, else why not (its last line of output)."""
    argv = [python, "-I", "-c", code, *args]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if proc.returncode == 0:
        return None
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "exit status %d" % proc.returncode
