"""An environment for running real pip isolated from this machine's global pip configuration."""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional


def isolated_environ(base: Optional[Mapping[str, str]] = None, **extra: str) -> Dict[str, str]:
    """``base`` (default: os.environ) without PIP_* and PYENVBOOT_* variables, with pip's config files off."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(("PIP_", "PYENVBOOT_", "VIRTUAL_ENV", "PYTHON"))
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.update(extra)
    return env
