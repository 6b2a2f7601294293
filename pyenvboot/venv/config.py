"""``pyvenv.cfg``: the one place it is read, written and its Python version parsed."""

from __future__ import annotations

import os
import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

from pyenvboot.errors import VenvError


def parse_cfg(text: str) -> Dict[str, str]:
    """``key = value`` lines as a dict (the format ``site.py`` reads)."""
    result: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            result[key.strip().lower()] = value.strip()
    return result


def format_cfg(values: Dict[str, str]) -> str:
    return "".join("%s = %s\n" % (k, v) for k, v in values.items())


def read_cfg(venv: str) -> Optional[Dict[str, str]]:
    """The venv's pyvenv.cfg, or None when there is none."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as f:
            return parse_cfg(f.read())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise VenvError("cannot read %s/pyvenv.cfg: %s" % (venv, exc)) from None


def parse_version(text: str) -> Optional[Tuple[int, int, int]]:
    """``3.11.2`` or virtualenv's ``3.11.2.final.0`` -> (3, 11, 2)."""
    m = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def format_version(version: Sequence[int]) -> str:
    """(3, 11, 2) -> ``3.11.2``, as ``pyvenv.cfg`` has it; (3, 11) -> ``3.11``."""
    return ".".join(map(str, version))


def cfg_version(cfg: Mapping[str, str]) -> Optional[Tuple[int, int, int]]:
    """The Python version the venv was made for: venv writes ``version``, virtualenv ``version_info``."""
    return parse_version(cfg.get("version") or cfg.get("version_info") or "")
