"""Build tiny pure-Python wheels for tests, with the standard library only.

Tests need installable distributions (and dependency chains between them)
without reaching PyPI or depending on a build backend, so this writes the
wheel archive directly: ``Wheel-Version: 1.0``, ``Root-Is-Purelib: true``,
``Tag: py3-none-any`` and a RECORD with sha256 hashes, which is everything
pip checks. Archives are byte-for-byte reproducible (fixed timestamps and
file order), so tests can rely on stable hashes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

__all__ = ["build_wheel", "wheel_filename"]

# PEP 508 distribution names.
_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _escape(component: str) -> str:
    """Escape a name or version for use in a wheel file name (PEP 491)."""
    return re.sub(r"[-_.]+", "_", component).lower()


def wheel_filename(name: str, version: str) -> str:
    """Return the file name ``build_wheel`` uses for ``name`` ``version``."""
    return f"{_escape(name)}-{version.replace('-', '_')}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def build_wheel(
    dest_dir: str | Path,
    name: str,
    version: str,
    requires: Iterable[str] = (),
    files: Mapping[str, str | bytes] | None = None,
    *,
    requires_python: str | None = None,
    console_scripts: Mapping[str, str] | None = None,
) -> Path:
    """Write a pure-Python wheel into ``dest_dir`` and return its path.

    ``requires`` become ``Requires-Dist`` lines (PEP 508 strings).
    ``files`` maps paths inside site-packages (``pkg/mod.py``) to contents;
    the default is ``<name>/__init__.py`` defining ``__version__``, with
    ``name`` turned into an importable identifier (``my-pkg`` -> ``my_pkg``).
    ``console_scripts`` maps script names to ``module:function`` entry points.
    """
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid distribution name: {name!r}")
    if not version or re.search(r"[\s/,]", version):
        raise ValueError(f"invalid version: {version!r}")

    dist_info = f"{_escape(name)}-{version.replace('-', '_')}.dist-info"
    if files is None:
        package = _escape(name)
        files = {f"{package}/__init__.py": f'__version__ = "{version}"\n'}

    contents: dict[str, bytes] = {}
    for path, content in files.items():
        parts = PurePosixPath(path).parts
        if not parts or path.startswith("/") or ".." in parts or parts[0].endswith((".dist-info", ".data")):
            raise ValueError(f"file path not allowed in a test wheel: {path!r}")
        contents[str(PurePosixPath(path))] = _as_bytes(content)

    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        "Summary: Test distribution",
    ]
    if requires_python:
        metadata.append(f"Requires-Python: {requires_python}")
    metadata.extend(f"Requires-Dist: {req}" for req in requires)
    contents[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: pyenvboot-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if console_scripts:
        lines = ["[console_scripts]"]
        lines.extend(f"{script} = {target}" for script, target in console_scripts.items())
        contents[f"{dist_info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode()

    record_path = f"{dist_info}/RECORD"
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in contents.items()]
    record.append(f"{record_path},,")
    contents[record_path] = ("\n".join(record) + "\n").encode()

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    wheel_path = dest / wheel_filename(name, version)
    tmp_path = wheel_path.with_name(wheel_path.name + ".tmp")
    with zipfile.ZipFile(tmp_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
    # Rename into place so an index serving dest_dir never sees a partial file.
    tmp_path.replace(wheel_path)
    return wheel_path
