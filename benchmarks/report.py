"""The markdown report: a summary of the targets, the machine, then one part per section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence


@dataclass
class Table:
    headers: List[str]
    rows: List[List[str]]
    caption: str = ""

    def render(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        out = []
        if self.caption:
            out.append(self.caption + "\n")
        out.append(line(self.headers))
        out.append("|" + "|".join(" --- " for _ in self.headers) + "|")
        out.extend(line(r) for r in self.rows)
        return "\n".join(out) + "\n"


@dataclass
class Target:
    """One speed target and whether this run met it (None: not measured)."""

    what: str
    target: str
    measured: str
    met: Optional[bool]


@dataclass
class Section:
    title: str
    intro: str = ""
    tables: List[Table] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    targets: List[Target] = field(default_factory=list)
    seconds: float = 0.0

    def render(self) -> str:
        out = ["## %s\n" % self.title]
        if self.intro:
            out.append(self.intro.strip() + "\n")
        for table in self.tables:
            out.append(table.render())
        if self.notes:
            out.append("\n".join("- " + n for n in self.notes) + "\n")
        out.append("_Section time: %.0f s._\n" % self.seconds)
        return "\n".join(out)


def verdict(met: Optional[bool]) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[met]


def render(title: str, preface: str, machine: Table, sections: Sequence[Section]) -> str:
    targets = [t for s in sections for t in s.targets]
    summary = Table(
        ["target", "wanted", "measured", "verdict"],
        [[t.what, t.target, t.measured, verdict(t.met)] for t in targets],
    )
    parts = ["# %s\n" % title, preface.strip() + "\n", "## Summary\n", summary.render(), "## Machine\n"]
    parts.append(machine.render())
    parts.extend(s.render() for s in sections)
    return "\n".join(parts)
