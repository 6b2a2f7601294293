"""What a missing prerequisite does: skips a test on a developer's machine, fails it in CI.

CI (``CI=true``) must run every tier on every supported interpreter: there a missing
interpreter, engine or tool is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> NoReturn:
    """``what`` (a prerequisite, and how to get it) is not on this machine."""
    if in_ci():
        pytest.fail("missing in CI: %s" % what, pytrace=False)
    pytest.skip(what)
