"""pyenvboot: a group-writable, isolated venv for Python container images."""

from __future__ import annotations

__version__ = "0.1.0"
