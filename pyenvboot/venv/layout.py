"""Where a venv keeps its libraries: ``lib/pythonX.Y`` and its ``site-packages``, found without ``glob``.

``glob`` imports ``re`` and ``fnmatch``; ``pyenvboot pip`` and ``run`` look here before the
installer starts, so a directory listing does it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List


def lib_dirs(venv: str) -> List[str]:
    """``VENV/lib/pythonX.Y`` (one per Python the venv has had), sorted."""
    try:
        names = os.listdir(venv + "/lib")
    except OSError:
        return []
    return sorted(venv + "/lib/" + name for name in names if name.startswith("python"))


def site_dirs(venv: str) -> List[str]:
    """``VENV/lib/pythonX.Y/site-packages`` that exist (what ``glob`` would find, without importing it and ``re``)."""
    return [lib + "/site-packages" for lib in lib_dirs(venv) if os.path.isdir(lib + "/site-packages")]
