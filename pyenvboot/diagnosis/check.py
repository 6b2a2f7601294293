"""``pyenvboot check``: is the venv isolated, consistent, pinned, runnable and group-writable?

The problem pyenvboot exists for: pip printed "Requirement already satisfied" for
an old OS-packaged Jinja2 and nobody noticed. ``check`` makes such things loud:
every problem is one line ``<check>: <what is wrong>; fix: <what to run>``,
grouped by check, and the exit code is 0 only for a healthy venv.

Each check lives in its own module: isolation, pins (consistency and pins),
interpreter, permissions; report holds the findings and their text. Facts come
from the venv's own python (``sys.path``, marker environment, run in a
subprocess) and from the files in the venv (metadata, modes); requirements are
judged with ``packaging``.
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional, Sequence

from pyenvboot.diagnosis.interpreter import check_interpreter, check_launcher
from pyenvboot.diagnosis.isolation import check_isolation
from pyenvboot.diagnosis.permissions import check_permissions
from pyenvboot.diagnosis.pins import check_requirements, unfinished
from pyenvboot.diagnosis.report import GROUPS, NO_PINS, Report, pip_command
from pyenvboot.packages.dists import Distribution, read_distributions
from pyenvboot.permissions.policy import resolve_group
from pyenvboot.runtime.environment import check_venv
from pyenvboot.venv.config import cfg_version, read_cfg
from pyenvboot.venv.facts import probe_venv, venv_site_dirs


def diagnose(venv: str, requirement_files: Sequence[str], group: Optional[str], environ: Mapping[str, str]) -> Report:
    """Every check on ``venv``, for ``group`` (default: the venv's); raises only for a missing venv, an unknown
    group or an unreadable requirements file."""
    venv = check_venv(venv)
    cfg = read_cfg(venv) or {}
    gid = resolve_group(group) if group else os.stat(venv).st_gid
    report = Report(venv)
    facts, error = probe_venv(venv, environ)
    recorded = cfg_version(cfg)
    minor = facts.minor if facts else ("%d.%d" % recorded[:2] if recorded else None)
    sites = venv_site_dirs(venv, facts, minor)
    dists = [d for site in sites for d in read_distributions(site)]
    report.distributions = len(dists)
    pip = pip_command(venv, environ)
    wanted: Dict[str, str] = {}
    installed: Dict[str, Distribution] = {}
    if facts is not None:
        report.python = ".".join(map(str, facts.version))
        from pyenvboot.packages.withpackaging import import_packaging

        import_packaging(sites)
        from pyenvboot.packages.requirements import canonical

        found, report.pins, wanted = check_requirements(venv, dists, facts, requirement_files, environ, pip)
        report.problems += found
        for dist in dists:
            installed.setdefault(canonical(dist.name), dist)
    else:
        why = "the venv's python does not start"
        report.skipped.update({"consistency": why, "pins": why} if requirement_files else {"consistency": why})
    report.problems += unfinished(sites, dists, pip)
    if not requirement_files:
        report.skipped.setdefault("pins", NO_PINS)
    report.problems += check_isolation(venv, cfg, facts, installed, wanted, pip)
    report.problems += check_interpreter(venv, cfg, facts, error, gid, pip)
    report.problems += check_launcher(venv)
    report.problems += check_permissions(venv, gid)
    order = {g: i for i, g in enumerate(GROUPS)}
    report.problems.sort(key=lambda p: order[p.check])  # stable: keeps each group's own order
    return report
