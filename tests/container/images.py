"""Images for the scenario tests, built once and reused while their inputs are unchanged.

Each engine builds its own. Every image is tagged ``localhost/pyenvboot-test-NAME:KEY``, where KEY hashes all
that goes into it: the base image's ID, the Dockerfile, every file of the build
context (the zipapp by its members, since its timestamps change on every build),
the build arguments and the wheels the build-time index serves. A warm run finds
the tag and builds nothing; a changed input gives a new tag, and the previous
image of that NAME is removed, so the store holds one image per NAME. A build
that runs long prints a line at least every 15 s.

Builds reach the session's package index (``PIP_INDEX_URL``, a build argument the
derived Dockerfiles declare) on loopback with ``--network host``; the index's port
is not part of the key.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.container.index_server import PackageIndex
from tests.container.progress import report, run_reporting
from tests.container.wheelcache import REPO_ROOT, WheelCacheError, binary_wheels, fetch, zipapp_wheels
from tests.support.wheels import build_wheel

if TYPE_CHECKING:
    from tests.container.conftest import Engine

TEST_IMAGE_PREFIX = "localhost/pyenvboot-test-"
DOCKERFILE_EXAMPLE = REPO_ROOT / "Dockerfile.example"
DERIVED_EXAMPLE = REPO_ROOT / "examples" / "derived"
BUILD_TIMEOUT = 600.0
# Real wheels for the shadowing scenario: newer than Debian 12's python3-jinja2 (3.1.2).
JINJA2_REQUIREMENT = "jinja2==3.1.6"
# A real server that handles its own signals, for the stop scenarios (pure Python, with packaging).
GUNICORN_REQUIREMENT = "gunicorn==23.0.0"
# The Python of each base image, for picking binary wheels (markupsafe) that fit it.
PYTHON_VERSIONS: Mapping[str, str] = {
    "debian12": "3.11",
    "debian12-plain": "3.11",
    "debian13": "3.13",
    "debian13-venv": "3.13",
}
# Build arguments that change per session without changing the image.
TRANSIENT_ARGS = frozenset({"PIP_INDEX_URL"})
SHELL_LESS_EXAMPLE = REPO_ROOT / "examples" / "shell-less" / "Dockerfile"
# Every shell of a Debian minbase, under /bin and /usr/bin (merged-/usr or not).
SHELLS = [d + s for s in ("sh", "dash", "bash", "rbash") for d in ("/bin/", "/usr/bin/")]
EXEC_FORM_SHELLS = ", ".join('"%s"' % s for s in SHELLS)
# Debian's busybox-static: one static binary, so it runs in any image (scripts/container-setup installs it).
BUSYBOX = Path("/bin/busybox")
STRIP_SHELLS = """\
ARG BASE
FROM ${{BASE}}
USER 0
RUN ["/bin/rm", "-f", {shells}]
USER {user}
"""
BUSYBOX_SH = """\
ARG BASE
FROM ${{BASE}}
USER 0
COPY busybox /usr/bin/busybox
RUN ["/usr/bin/busybox", "rm", "-f", {shells}]
RUN ["/usr/bin/busybox", "ln", "-s", "/usr/bin/busybox", "/bin/sh"]
RUN ["/usr/bin/busybox", "ln", "-s", "/usr/bin/busybox", "/bin/ash"]
USER {user}
"""
# BuildKit's plain progress prefixes what a step prints with its step number and time.
_BUILDKIT_PREFIX = re.compile(r"^#\d+ \d+\.\d+ ")


def step_output(output: str) -> list[str]:
    """The lines the build's steps printed, without BuildKit's ``#N 0.123`` prefixes."""
    return [_BUILDKIT_PREFIX.sub("", line) for line in output.splitlines()]


def _file_digest(path: Path) -> bytes:
    """Content digest; a zip (the zipapp) by its shebang and members, not its timestamps."""
    data = path.read_bytes()
    if path.suffix != ".pyz":
        return hashlib.sha256(data).digest()
    digest = hashlib.sha256(data.split(b"\n", 1)[0])
    with zipfile.ZipFile(path) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            digest.update(f"{info.filename}\0{info.CRC}\0{info.file_size}\0{info.external_attr}\n".encode())
    return digest.digest()


def tree_digest(root: Path) -> str:
    """Digest of every file below ``root``: relative paths, modes and contents."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        mode = b"%o" % path.stat().st_mode
        digest.update(str(path.relative_to(root)).encode() + b"\0" + mode + b"\0" + _file_digest(path))
    return digest.hexdigest()


@dataclass
class ImageBuilder:
    """``build`` with reuse by content key; see the module docstring."""

    engine: Engine
    config: pytest.Config
    workdir: Path
    index: PackageIndex
    built: dict[str, str] = field(default_factory=dict)

    def image_id(self, ref: str) -> str:
        return self.engine("image", "inspect", "--format", "{{.Id}}", ref, check=True, timeout=60).stdout.strip()

    def context(self, name: str, files: Mapping[str, Path | str | bytes]) -> Path:
        """A fresh build context: ``files`` maps paths in it to a source file or to contents."""
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.workdir))
        for rel, source in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path):
                shutil.copy2(source, target)  # keeps the mode: COPY takes it from the context
            else:
                target.write_bytes(source.encode() if isinstance(source, str) else source)
        return root

    def _command(self, tag: str, context: Path, args: Mapping[str, str], uses_index: bool) -> list[str]:
        cmd = ["build", *self.engine.build_options, "--network", "host" if uses_index else "none", "-t", tag]
        build_args = dict(args)
        if uses_index:
            build_args["PIP_INDEX_URL"] = self.index.url
        for key, value in build_args.items():
            cmd += ["--build-arg", f"{key}={value}"]
        return [*cmd, str(context)]

    def key(self, context: Path, args: Mapping[str, str], bases: Mapping[str, str], uses_index: bool) -> str:
        digest = hashlib.sha256(tree_digest(context).encode())
        for name, value in sorted(args.items()):
            if name not in TRANSIENT_ARGS:
                digest.update(f"arg {name}={value}\n".encode())
        for ref in sorted(bases.values()):
            digest.update(f"base {self.image_id(ref)}\n".encode())
        if uses_index:
            digest.update(f"index {tree_digest(self.index.directory)}\n".encode())
        return digest.hexdigest()[:16]

    def build(
        self,
        name: str,
        files: Mapping[str, Path | str | bytes],
        *,
        bases: Mapping[str, str],
        args: Mapping[str, str] | None = None,
        uses_index: bool = False,
    ) -> str:
        """The image ``localhost/pyenvboot-test-NAME:KEY``, built unless it exists.

        ``files`` must hold a ``Dockerfile``; ``bases`` maps build arguments to the
        images they name (their IDs are part of the key); ``uses_index`` gives the
        build the session's package index and ``--network host``.
        """
        if name in self.built:
            return self.built[name]
        all_args = {**bases, **(args or {})}
        context = self.context(name, files)
        repo = TEST_IMAGE_PREFIX + name
        tag = f"{repo}:{self.key(context, all_args, bases, uses_index)}"
        if not self.engine.image_exists(tag):
            result = self.run_build(tag, self._command(tag, context, all_args, uses_index))
            if result.returncode != 0:
                tail = "\n".join(result.stdout.strip().splitlines()[-30:])
                pytest.fail(f"building {tag} failed (exit {result.returncode}):\n{tail}", pytrace=False)
            self.prune(repo, keep=tag)
        self.built[name] = tag
        return tag

    def build_expecting_failure(
        self,
        name: str,
        files: Mapping[str, Path | str | bytes],
        *,
        bases: Mapping[str, str],
        args: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A build that should fail: always run, never tagged for reuse."""
        context = self.context(name, files)
        tag = f"{TEST_IMAGE_PREFIX}{name}:should-not-exist"
        result = self.run_build(tag, self._command(tag, context, {**bases, **(args or {})}, False))
        if result.returncode == 0:
            self.engine("rmi", tag, timeout=60)
        return result

    def run_build(self, tag: str, command: list[str]) -> subprocess.CompletedProcess[str]:
        """The build, its output (stdout and stderr in order) as ``stdout``, its progress on the terminal."""
        what = f"{self.engine.name} build {tag}"
        report(self.config, f"    {what}")
        return run_reporting(self.config, what, self.engine.argv(*command), self.engine.env, BUILD_TIMEOUT)

    def prune(self, repo: str, keep: str) -> None:
        """Remove the other tags of ``repo``: images of earlier inputs."""
        listed = self.engine("images", "--format", "{{.Repository}}:{{.Tag}}", repo)
        for ref in listed.stdout.split():
            if ref != keep and ref.startswith(repo + ":"):
                self.engine("rmi", ref, timeout=120)  # in use elsewhere: left alone


class Images:
    """The scenario images, by what they are; each built at most once per session."""

    def __init__(self, builder: ImageBuilder, zipapp: Path, base_images: Mapping[str, str]) -> None:
        self.builder = builder
        self.zipapp = zipapp
        self.base_images = base_images

    def example_files(self) -> dict[str, Path | str | bytes]:
        """Dockerfile.example's build context, as a user has it after ``scripts/build-zipapp``."""
        return {"Dockerfile": DOCKERFILE_EXAMPLE, "dist/pyenvboot.pyz": self.zipapp}

    def example(self, base: str, init_flags: str = "") -> str:
        """Dockerfile.example on base image ``base`` (a tag such as ``debian12``)."""
        name = f"example-{base}" + ("-" + init_flags.strip("-").replace(" ", "") if init_flags else "")
        args = {"INIT_FLAGS": init_flags} if init_flags else {}
        return self.builder.build(name, self.example_files(), bases={"BASE_IMAGE": self.base_images[base]}, args=args)

    def example_build_failure(self, base: str, init_flags: str = "") -> subprocess.CompletedProcess[str]:
        args = {"INIT_FLAGS": init_flags} if init_flags else {}
        return self.builder.build_expecting_failure(
            f"example-{base}", self.example_files(), bases={"BASE_IMAGE": self.base_images[base]}, args=args
        )

    def derived_app(self, base: str) -> str:
        """examples/derived, unchanged, on the example image for ``base``: jinja2 from real wheels."""
        files: dict[str, Path | str | bytes] = {p.name: p for p in DERIVED_EXAMPLE.iterdir() if p.is_file()}
        return self.builder.build(f"derived-app-{base}", files, bases={"BASE": self.example(base)}, uses_index=True)

    def without_shells(self, base: str, example: bool) -> str:
        """A base image (or the example image on it) with sh, dash and bash removed, as distroless has none."""
        name = ("example-%s" if example else "%s") % base + "-no-shell"
        ref = self.example(base) if example else self.base_images[base]
        dockerfile = STRIP_SHELLS.format(shells=EXEC_FORM_SHELLS, user="1001:0" if example else "0")
        return self.builder.build(name, {"Dockerfile": dockerfile}, bases={"BASE": ref})

    def shell_less_recipe(self, files: Mapping[str, str]) -> str:
        """examples/shell-less (the README's recipe): built on Debian 12, its final stage Debian 12 without shells.

        ``files`` holds the app the recipe copies (``requirements.txt``, ``app.py``).
        """
        context: dict[str, Path | str | bytes] = {
            "Dockerfile": SHELL_LESS_EXAMPLE,
            "dist/pyenvboot.pyz": self.zipapp,
            **files,
        }
        bases = {"BASE_IMAGE": self.base_images["debian12"], "RUNTIME_IMAGE": self.without_shells("debian12", False)}
        return self.builder.build("shell-less-recipe", context, bases=bases, uses_index=True)

    def busybox_sh(self) -> str:
        """The example image on Debian 12 with busybox as its only shell (/bin/sh and /bin/ash), as on Alpine."""
        if not BUSYBOX.is_file():
            pytest.fail(f"no {BUSYBOX}: scripts/container-setup installs Debian's busybox-static", pytrace=False)
        dockerfile = BUSYBOX_SH.format(shells=EXEC_FORM_SHELLS, user="1001:0")
        files: dict[str, Path | str | bytes] = {"Dockerfile": dockerfile, "busybox": BUSYBOX}
        return self.builder.build("example-debian12-busybox", files, bases={"BASE": self.example("debian12")})

    def derived(self, name: str, dockerfile: str, files: Mapping[str, str], base: str = "debian12") -> str:
        """A derived image from a Dockerfile written by the test (``ARG BASE`` / ``FROM ${BASE}``)."""
        return self.builder.build(
            name, {"Dockerfile": dockerfile, **files}, bases={"BASE": self.example(base)}, uses_index=True
        )


@pytest.fixture(scope="session")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scripts/build-zipapp`` output for this session, from the cached vendored wheels (offline)."""
    try:
        wheels = zipapp_wheels()
    except WheelCacheError as exc:
        pytest.fail(f"the zipapp's vendored wheels: {exc}", pytrace=False)
    output = tmp_path_factory.mktemp("zipapp") / "pyenvboot.pyz"
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-zipapp"), "--output", str(output), "--wheel-dir", str(wheels)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/build-zipapp failed:\n{result.stdout}{result.stderr}", pytrace=False)
    return output


def serve_wheels(directory: Path) -> None:
    """What the session's index serves.

    Tiny wheels (demo 1.0 and 2.0, extra, needs-demo requiring demo>=2) and real
    jinja2 + markupsafe wheels for each base image's Python, and gunicorn.
    """
    build_wheel(directory, "demo", "1.0")
    build_wheel(directory, "demo", "2.0")
    build_wheel(directory, "extra", "1.0")
    build_wheel(directory, "needs-demo", "1.0", requires=["demo>=2"])
    for version in sorted(set(PYTHON_VERSIONS.values())):
        try:
            cached = binary_wheels("jinja2", [JINJA2_REQUIREMENT], version)
        except WheelCacheError as exc:
            pytest.fail(f"real jinja2 wheels: {exc}", pytrace=False)
        _link_wheels(cached, directory)
    try:
        _link_wheels(fetch("gunicorn", ["--only-binary=:all:", GUNICORN_REQUIREMENT]), directory)
    except WheelCacheError as exc:
        pytest.fail(f"real gunicorn wheels: {exc}", pytrace=False)


def _link_wheels(cached: Path, directory: Path) -> None:
    for wheel in cached.glob("*.whl"):
        if not (directory / wheel.name).exists():
            (directory / wheel.name).symlink_to(wheel)


@pytest.fixture(scope="session")
def build_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """The package index that derived builds (and run-time installs) use, for the whole session."""
    directory = tmp_path_factory.mktemp("build-index")
    serve_wheels(directory)
    with PackageIndex(directory) as index:
        yield index


@pytest.fixture(scope="session")
def images(
    request: pytest.FixtureRequest,
    engine: Engine,
    base_images: Mapping[str, str],
    build_index: PackageIndex,
    zipapp: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Images:
    """Builds (or reuses) the scenario images with ``engine``; see :class:`Images`."""
    builder = ImageBuilder(engine, request.config, tmp_path_factory.mktemp("contexts"), build_index)
    return Images(builder, zipapp, base_images)
