"""Build tiny, valid pure-Python wheels for tests: real files that real pip installs offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path
from typing import Dict, Iterable, Optional


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    requires: Iterable[str] = (),
    files: Optional[Dict[str, str]] = None,
) -> Path:
    """Write ``name-version-py3-none-any.whl`` into ``dest_dir`` and return its path.

    ``files`` maps paths inside the wheel to their text; by default the package is one
    module ``<name>/__init__.py`` that records its version.
    """
    dist = name.replace("-", "_")
    module = dist.lower()
    contents = dict(files or {module + "/__init__.py": "__version__ = %r\n" % version})
    info = "%s-%s.dist-info" % (dist, version)
    metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    metadata += "".join("Requires-Dist: %s\n" % r for r in requires)
    contents[info + "/METADATA"] = metadata
    contents[info + "/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record_lines = [
        "%s,%s,%d" % (path, _record_hash(text.encode()), len(text.encode())) for path, text in contents.items()
    ]
    record_lines.append(info + "/RECORD,,")
    contents[info + "/RECORD"] = "\n".join(record_lines) + "\n"
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / ("%s-%s-py3-none-any.whl" % (dist, version))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, text in contents.items():
            zf.writestr(member, text)
    return path
