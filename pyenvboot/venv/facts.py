"""What the venv's own python sees: ``sys.path``, site directories, marker environment.

The venv's interpreter may be another Python version than the one running
pyenvboot, and ``sys.path`` depends on the environment (``PYTHONPATH``), on
``.pth`` files and on ``pyvenv.cfg``; the only faithful answer is to ask that
interpreter, in a subprocess, in the environment the app runs in.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pyenvboot.runtime.environment import runtime_environment
from pyenvboot.venv.layout import site_dirs

# Runs in the venv's python (3.8+, possibly not the one running pyenvboot). The marker
# environment is PEP 508's, computed as packaging.markers.default_environment() does.
PROBE = r"""
import json, os, platform, site, sys, sysconfig
path = list(sys.path)
if path and path[0] == "":
    path.pop(0)  # the current directory, from -c; an app's script directory is not ours to judge
def full(info):
    v = "%d.%d.%d" % (info[0], info[1], info[2])
    if info[3] != "final":
        v += info[3][0] + str(info[4])
    return v
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": full(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
custom = {}
for name in ("sitecustomize", "usercustomize"):
    mod = sys.modules.get(name)
    custom[name] = getattr(mod, "__file__", None)
print(json.dumps({
    "version": list(sys.version_info[:3]),
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "path": path,
    "site": site.getsitepackages() if hasattr(site, "getsitepackages") else [],
    "user_site": getattr(site, "USER_SITE", None),
    "stdlib": sysconfig.get_path("stdlib"),
    "platstdlib": sysconfig.get_path("platstdlib"),
    "purelib": sysconfig.get_path("purelib"),
    "platlib": sysconfig.get_path("platlib"),
    "markers": markers,
    "pythonpath": os.environ.get("PYTHONPATH", ""),
    "customize": custom,
}))
"""


@dataclass
class VenvFacts:
    """The venv's interpreter's own account of itself."""

    version: List[int]
    base_prefix: str
    path: List[str]
    site: List[str]
    user_site: Optional[str]
    stdlib: str
    platstdlib: str
    purelib: str
    platlib: str
    markers: Dict[str, str]
    pythonpath: str
    customize: Dict[str, Optional[str]] = field(default_factory=dict)

    @property
    def minor(self) -> str:
        return "%d.%d" % (self.version[0], self.version[1])


def app_environment(environ: Mapping[str, str], venv: str) -> Dict[str, str]:
    """What the app runs with: the activation environment (PYTHONPATH kept, as the app would see it).

    The identity fix-ups are left out: they can write ``/etc/passwd``, which a diagnosis must not.
    """
    return runtime_environment(environ, venv, identity=False)


def probe_venv(venv: str, environ: Mapping[str, str]) -> Tuple[Optional[VenvFacts], str]:
    """(facts, "") when ``venv/bin/python`` runs; (None, why not) otherwise."""
    try:
        proc = start_probe(venv, environ)
    except OSError as exc:
        return None, "%s cannot run: %s" % (os.path.join(venv, "bin", "python"), exc.strerror)
    return probe_result(venv, proc)


def start_probe(venv: str, environ: Mapping[str, str]) -> "subprocess.Popen[bytes]":
    """Start asking ``venv/bin/python``; :func:`probe_result` reads the answer. OSError when it cannot start."""
    return subprocess.Popen(
        [os.path.join(venv, "bin", "python"), "-c", PROBE],
        env=app_environment(environ, venv),
        cwd="/",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def probe_result(venv: str, proc: "subprocess.Popen[bytes]") -> Tuple[Optional[VenvFacts], str]:
    """What the probe ``proc`` of ``venv`` answered: (facts, "") or (None, why not)."""
    python = os.path.join(venv, "bin", "python")
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None, "%s did not finish starting within 120 s" % python
    try:
        data: Dict[str, Any] = json.loads(stdout.decode("utf-8", "replace").strip().splitlines()[-1])
        facts = VenvFacts(**{k: data[k] for k in VenvFacts.__dataclass_fields__})
    except (ValueError, KeyError, TypeError, IndexError):
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        return None, "%s does not start: %s" % (python, lines[-1] if lines else "exit status %d" % proc.returncode)
    return facts, ""


def inside(path: str, root: str) -> bool:
    """Is ``path`` ``root`` or under it, symlinks resolved?"""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip("/") + "/")


def venv_site_dirs(venv: str, facts: Optional[VenvFacts], minor: Optional[str]) -> List[str]:
    """The venv's own site-packages directories, de-duplicated through symlinks (lib64 -> lib)."""
    if facts is not None:
        candidates = [facts.purelib, facts.platlib] + list(facts.site)
        candidates = [c for c in candidates if inside(c, venv)]
    else:
        prefix = venv + "/lib/python" + (minor if minor else "3")
        candidates = [s for s in site_dirs(venv) if s.startswith(prefix + ("/" if minor else ""))]
    out: List[str] = []
    seen = set()
    for path in candidates:
        real = os.path.realpath(path)
        if real not in seen and os.path.isdir(path):
            seen.add(real)
            out.append(path)
    return out
