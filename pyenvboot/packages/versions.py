"""Version comparison: one sort key, by ``packaging`` where it is importable.

``check`` and the pip verification always have ``packaging`` (the zipapp carries
it, or :mod:`pyenvboot.packages.withpackaging` borrows pip's copy). ``init`` must
work without it, and only needs to pick the newest pip wheel: for that the
fallback compares the release numbers (PEP 440's ``N(.N)*``, trailing zeros
ignored, as PEP 440 compares releases) and nothing after them.
"""

from __future__ import annotations

import re
from typing import Any, Tuple

RELEASE = re.compile(r"v?(\d+(?:\.\d+)*)")  # PEP 440 allows a leading "v"


def version_key(text: str) -> Tuple[int, Any]:
    """A sort key for a version string: PEP 440 order; an unparsable version sorts below every valid one."""
    text = text.strip()
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        m = RELEASE.match(text.lower())
        if m is None:
            return 0, text
        release = [int(part) for part in m.group(1).split(".")]
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        return 1, tuple(release)
    try:
        return 1, Version(text)
    except InvalidVersion:
        return 0, text
