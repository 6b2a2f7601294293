"""``exec --init``: stay as PID 1 for apps that spawn children (issue 6, point 4)."""

from __future__ import annotations

from typing import Mapping, NoReturn, Sequence

from pyenvboot.errors import UsageError


def run_init(venv: str, command: Sequence[str], environ: Mapping[str, str]) -> NoReturn:
    raise UsageError("exec --init is not available yet; use tini in front of 'pyenvboot exec'")
