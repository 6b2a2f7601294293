"""A tiny PEP 503 "simple" package index over a directory of distributions.

Derived image builds must install packages without PyPI, and a real index
(rather than ``--find-links`` on a bind mount) exercises the same code path
as production: ``pip install --index-url``. The server binds 127.0.0.1 on a
free port; containers reach it with ``--network host``.

The directory is rescanned on every request, so tests may add wheels after
the server started. Both wheels (``pip download``-ed or built with
``wheels.build_wheel``) and sdists are served; links carry a ``#sha256=``
fragment (pip verifies it) and ``data-requires-python`` when the wheel's
metadata declares it.

    with serve_index(wheel_dir) as url:   # http://127.0.0.1:PORT/simple
        ...
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import HeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

__all__ = ["PackageIndex", "normalize", "serve_index"]

_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz")


def normalize(name: str) -> str:
    """PEP 503 project name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename: str) -> str | None:
    """Normalized project name of a distribution file, or None if not one."""
    if filename.endswith(".whl"):
        parts = filename[: -len(".whl")].split("-")
        return normalize(parts[0]) if len(parts) in (5, 6) else None
    for suffix in _SDIST_SUFFIXES:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, _version = stem.rpartition("-")
            return normalize(name) if sep and name else None
    return None


class _FileInfo:
    """Hash and Requires-Python of one file, cached by (size, mtime)."""

    __slots__ = ("key", "requires_python", "sha256")

    def __init__(self, path: Path, key: tuple[int, int]) -> None:
        self.key = key
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        self.sha256 = digest.hexdigest()
        self.requires_python = _wheel_requires_python(path) if path.suffix == ".whl" else None


def _wheel_requires_python(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                parts = member.split("/")
                if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                    text = archive.read(member).decode("utf-8", "replace")
                    return HeaderParser().parsestr(text).get("Requires-Python")
    except (OSError, zipfile.BadZipFile):
        return None
    return None


class PackageIndex:
    """Serve ``directory`` as a simple index; a context manager.

    The listening socket is bound in ``__init__``, before the
    serving thread starts, so the URL is usable as soon as ``start()`` (or
    ``__enter__``) returns. ``requests`` records the paths requested, for
    tests that assert pip really went through the index.
    """

    def __init__(self, directory: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = Path(directory)
        self.host = host
        self.requests: list[str] = []
        self._cache: dict[str, _FileInfo] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The index URL to pass to ``pip --index-url``."""
        return f"{self.base_url}/simple"

    def start(self) -> PackageIndex:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name=f"package-index-{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> PackageIndex:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- directory scanning ---------------------------------------------------

    def projects(self) -> dict[str, list[Path]]:
        """Map normalized project names to their files, sorted by name."""
        found: dict[str, list[Path]] = {}
        if self.directory.is_dir():
            for path in sorted(self.directory.iterdir()):
                project = project_of(path.name)
                if project and path.is_file():
                    found.setdefault(project, []).append(path)
        return found

    def file_info(self, path: Path) -> _FileInfo:
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            info = self._cache.get(path.name)
        if info is None or info.key != key:
            info = _FileInfo(path, key)
            with self._lock:
                self._cache[path.name] = info
        return info


def _page(title: str, links: list[str]) -> bytes:
    body = "\n".join(f"    {link}<br/>" for link in links)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"{body}\n  </body>\n</html>\n"
    ).encode()


def _make_handler(index: PackageIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pyenvboot-test-index/1.0"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: pytest output should not fill with access logs."""

        def do_HEAD(self) -> None:
            self._dispatch(send_body=False)

        def do_GET(self) -> None:
            self._dispatch(send_body=True)

        def _dispatch(self, send_body: bool) -> None:
            path = urllib.parse.urlsplit(self.path).path
            index.requests.append(path)
            parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
            if parts == ["simple"]:
                if not path.endswith("/"):
                    return self._redirect("/simple/")
                links = [
                    f'<a href="{html.escape(urllib.parse.quote(name))}/">{html.escape(name)}</a>'
                    for name in sorted(index.projects())
                ]
                return self._send_bytes(_page("Simple index", links), "text/html", send_body)
            if len(parts) == 2 and parts[0] == "simple":
                return self._project_page(parts[1], path, send_body)
            if len(parts) == 2 and parts[0] == "files":
                return self._send_file(parts[1], send_body)
            self._error(HTTPStatus.NOT_FOUND)

        def _project_page(self, name: str, path: str, send_body: bool) -> None:
            project = normalize(name)
            if project != name or not path.endswith("/"):
                return self._redirect(f"/simple/{urllib.parse.quote(project)}/")
            files = index.projects().get(project)
            if not files:
                return self._error(HTTPStatus.NOT_FOUND)
            links = []
            for file in files:
                info = index.file_info(file)
                href = f"../../files/{urllib.parse.quote(file.name)}#sha256={info.sha256}"
                attrs = f'href="{html.escape(href)}"'
                if info.requires_python:
                    attrs += f' data-requires-python="{html.escape(info.requires_python)}"'
                links.append(f"<a {attrs}>{html.escape(file.name)}</a>")
            self._send_bytes(_page(f"Links for {project}", links), "text/html", send_body)

        def _send_file(self, filename: str, send_body: bool) -> None:
            # Only names that are listed can be fetched: no path traversal.
            project = project_of(filename)
            files = index.projects().get(project or "", [])
            match = next((f for f in files if f.name == filename), None)
            if match is None:
                return self._error(HTTPStatus.NOT_FOUND)
            with match.open("rb") as fh:
                size = match.stat().st_size
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                # A release file never changes; PyPI says so too, and installers cache it by that.
                self.send_header("Cache-Control", "max-age=365000000, immutable, public")
                self.end_headers()
                if send_body:
                    shutil.copyfileobj(fh, self.wfile)

        def _send_bytes(self, data: bytes, content_type: str, send_body: bool) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if send_body:
                self.wfile.write(data)

        def _redirect(self, location: str) -> None:
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _error(self, status: HTTPStatus) -> None:
            data = f"{status.value} {status.phrase}\n".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler


@contextmanager
def serve_index(directory: str | Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``directory`` for the duration of the block; yield the index URL."""
    with PackageIndex(directory, host=host) as index:
        yield index.url
