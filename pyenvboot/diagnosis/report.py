"""What ``check`` found, and the report it prints: one line per problem, or one JSON object.

Every problem is one line ``<check>: <what is wrong>; fix: <what to run>``,
grouped by check; the command's exit code is 0 only for a healthy venv.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from shlex import quote
from typing import Dict, List, Mapping, Optional, Sequence

from pyenvboot.runtime.environment import venv_path

GROUPS = ("isolation", "consistency", "pins", "interpreter", "permissions")
SHOW = 5  # offenders listed by name; the rest are counted
NO_PINS = "no -r file given"


@dataclass
class Problem:
    """One finding: which check, what is wrong, what to run about it."""

    check: str
    message: str
    fix: str

    def line(self) -> str:
        return "%s: %s; fix: %s" % (self.check, self.message, self.fix)


@dataclass
class Report:
    venv: str
    problems: List[Problem] = field(default_factory=list)
    skipped: Dict[str, str] = field(default_factory=dict)  # check -> why it did not run
    python: Optional[str] = None
    distributions: int = 0
    pins: int = 0

    @property
    def healthy(self) -> bool:
        return not self.problems

    def status(self) -> Dict[str, str]:
        out = {}
        for group in GROUPS:
            if any(p.check == group for p in self.problems):
                out[group] = "problems"
            elif group in self.skipped:
                out[group] = "skipped"
            else:
                out[group] = "ok"
        return out


def pip_command(venv: str, environ: Mapping[str, str]) -> str:
    """``pyenvboot pip``, with ``--venv`` only when the venv is not the default one."""
    return "pyenvboot pip" if venv == venv_path(None, environ) else "pyenvboot pip --venv %s" % quote(venv)


def shown(names: Sequence[str]) -> str:
    """The first SHOW of ``names``, and how many more there are."""
    more = " and %d more" % (len(names) - SHOW) if len(names) > SHOW else ""
    return ", ".join(names[:SHOW]) + more


def format_text(report: Report) -> str:
    if report.healthy:
        pins = ", %d requirement(s) met" % report.pins if report.pins else ""
        skipped = "".join("; %s skipped (%s)" % (g, why) for g, why in report.skipped.items())
        return "pyenvboot: %s is healthy: Python %s, %d distribution(s)%s%s\n" % (
            report.venv,
            report.python,
            report.distributions,
            pins,
            skipped,
        )
    lines = [p.line() for p in report.problems]
    lines += ["%s: not checked: %s" % (g, why) for g, why in report.skipped.items() if why != NO_PINS]
    lines.append("pyenvboot: %d problem(s) in %s" % (len(report.problems), report.venv))
    return "\n".join(lines) + "\n"


def format_json(report: Report) -> str:
    data = {
        "venv": report.venv,
        "healthy": report.healthy,
        "python": report.python,
        "distributions": report.distributions,
        "pins": report.pins,
        "checks": report.status(),
        "skipped": report.skipped,
        "problems": [{"check": p.check, "message": p.message, "fix": p.fix} for p in report.problems],
    }
    return json.dumps(data, indent=2) + "\n"


def render(report: Report, as_json: bool) -> str:
    """The report as ``check`` prints it: one line per problem, or one JSON object."""
    return format_json(report) if as_json else format_text(report)
