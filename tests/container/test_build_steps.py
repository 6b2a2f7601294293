"""Derived build steps that bypass ``pyenvboot pip``: uv through ``pyenvboot run``, cache mounts, ``RUN bash -c``.

- uv installs at build time as root through ``pyenvboot run``; at run time arbitrary
  UIDs upgrade and uninstall what it installed.
- The README's cache-mount recipes (examples/cache-mount for pip as root and as
  ``USER 1001:0``, examples/uv for uv), built twice: the second build downloads nothing
  (the index counts requests), and no layer of the image holds a byte of the cache.
- In a ``--writable-passwd`` image, a ``RUN bash -c`` step as USER 1001 (which reads the
  hook through BASH_ENV) bakes no identity; then several UIDs, in fresh containers and
  in one container, each get a name, and the app always starts.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, run_image, run_script_as, running, value
from tests.container.wheelcache import REPO_ROOT
from tests.support.wheels import build_wheel

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images
    from tests.container.index_server import PackageIndex

pytestmark = pytest.mark.container

# The test venv's uv (tests/requirements.txt); uv's own Docker recipe copies the binary into the image too.
UV = Path(sys.executable).parent / "uv"
SITE_PACKAGES = "/opt/venv/lib/python3.11/site-packages"
POLICY_CHECK = (
    "bad=$(find /opt/venv ! -type l \\( ! -perm -g=rw -o -perm -o=w -o -type d ! -perm -g+s \\) -print | head -5);"
    ' echo "policy_violations=${bad:-none}"'
)


def uv_binary() -> Path:
    assert UV.exists(), f"{UV} is missing; scripts/test installs uv from tests/requirements.txt"
    return UV


def test_uv_through_run_as_root_then_arbitrary_uids_change_it(
    engine: Engine, images: Images, build_index: PackageIndex
) -> None:
    dockerfile = """\
ARG BASE
FROM ${BASE}
ARG PIP_INDEX_URL
COPY uv /usr/local/bin/uv
USER 0:0
RUN pyenvboot run -- uv pip install --index-url "$PIP_INDEX_URL" demo==1.0 extra==1.0
USER 1001:0
"""
    image = images.builder.build(
        "uv-run", {"Dockerfile": dockerfile, "uv": uv_binary()}, bases={"BASE": images.example("debian12")},
        uses_index=True,
    )  # fmt: skip
    listing = f"ls -d {SITE_PACKAGES}/*.dist-info | xargs -n1 basename; {POLICY_CHECK}"
    built = run_image(engine, image, "sh", "-c", listing)
    assert "demo-1.0.dist-info" in built.stdout and "extra-1.0.dist-info" in built.stdout
    assert value("policy_violations", built.stdout) == "none"
    script = (
        "set -e; pyenvboot pip install -q --upgrade demo; python -c 'import demo; print(\"demo=\" + demo.__version__)'"
    )
    out = run_script_as(engine, image, script, arbitrary_uid(), build_index.url).stdout
    assert value("demo", out) == "2.0"
    script = f"set -e; pip uninstall -q -y extra demo; {POLICY_CHECK}"  # plain pip, a second UID
    out = run_script_as(engine, image, script, arbitrary_uid(), build_index.url).stdout
    assert value("policy_violations", out) == "none"


def layer_paths(engine: Engine, image: str, workdir: Path) -> list[str]:
    """Every path, with its size, in every layer of ``image`` (``save``: a tar of layer tars, maybe compressed)."""
    archive = workdir / "image.tar"
    engine("save", "-o", str(archive), image, check=True, timeout=300)  # podman and Docker: docker-archive
    found = []
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member)
            assert data is not None
            try:
                with tarfile.open(fileobj=data) as layer:
                    found += [f"{m.name} {m.size}" for m in layer.getmembers() if m.isfile()]
            except tarfile.ReadError:
                continue  # the manifest and config, not a layer
    archive.unlink()
    return found


@pytest.mark.parametrize(
    ("dockerfile", "cache"),
    [
        ("examples/cache-mount/Dockerfile.root", ".cache/pip/"),
        ("examples/cache-mount/Dockerfile", ".cache/pip/"),  # as USER 1001:0
        ("examples/uv/Dockerfile", ".cache/uv/"),
    ],
    ids=["pip-root", "pip-user-1001", "uv-root"],
)
def test_a_cache_mount_is_used_on_the_second_build_and_never_baked(
    engine: Engine,
    images: Images,
    package_index: PackageIndex,
    wheel_dir: Path,
    tmp_path: Path,
    dockerfile: str,
    cache: str,
) -> None:
    """The README's cache recipes, built as written from examples/, twice over the same cache mount.

    Only requirements.txt is the test's: a package of a new name, so that the machine-wide
    cache mount has never seen it and the first build must download it, and a comment that
    changes for the second build, so that its install step runs again. The test's index is
    plain http: pip caches what it fetched from there only for a trusted host.
    """
    example = REPO_ROOT / dockerfile
    context = tmp_path / "context"
    shutil.copytree(example.parent, context)
    project = "demo" + uuid.uuid4().hex[:12]  # one word: the same as wheel file name, project and module
    build_wheel(wheel_dir, project, "1.0")
    text = example.read_text()
    if "COPY uv " in text:
        shutil.copy(uv_binary(), context / "uv")
    if "ARG UV_DEFAULT_INDEX" in text:
        index_args = ["--build-arg", f"UV_DEFAULT_INDEX={package_index.url}"]
    else:
        index_args = ["--build-arg", f"PIP_INDEX_URL={package_index.url}", "--build-arg", "PIP_TRUSTED_HOST=127.0.0.1"]
    base = images.example("debian12")
    tag = f"localhost/pyenvboot-test-cache-mount:{project}"
    downloads = []
    try:
        for build in ("1", "2"):  # (``--no-cache`` would not do: BuildKit then ignores cache mounts too)
            (context / "requirements.txt").write_text(f"{project}==1.0\n# build {build}\n")
            package_index.requests.clear()
            engine(
                "build", *engine.build_options, "--network", "host", "-t", tag, "-f", str(context / example.name),
                "--build-arg", f"BASE={base}", *index_args, str(context),
                check=True, timeout=600,
            )  # fmt: skip
            downloads.append([p for p in package_index.requests if p.startswith("/files/")])
        wheel = f"/files/{project}-1.0-py3-none-any.whl"
        assert set(downloads[0]) == {wheel}  # uv may ask more than once (range requests)
        assert downloads[1] == [], "the second build did not use the cache"
        result = run_image(engine, tag, "python", "-c", f"import {project}; print('imported=ok')")
        assert value("imported", result.stdout) == "ok"
        cached = [p for p in layer_paths(engine, tag, tmp_path) if cache in p or "pyenvboot-cache-" in p]
        assert cached == [], "cache bytes in a layer"
    finally:
        engine("rmi", "--force", tag, timeout=120)


def test_a_bash_build_step_bakes_no_identity_and_every_uid_gets_a_name(engine: Engine, images: Images) -> None:
    dockerfile = """\
ARG BASE
FROM ${BASE}
USER 1001:0
RUN bash -c 'echo "build step: USER=$USER HOME=$HOME"'
RUN pyenvboot pip --version && pyenvboot run -- true
"""
    base = images.example("debian12", init_flags="--writable-passwd")
    image = images.builder.build("bash-step-writable-passwd", {"Dockerfile": dockerfile}, bases={"BASE": base})
    script = 'grep -c ":1001:" /etc/passwd; ls -A /tmp | grep -c pyenvboot'
    options = ["--user", "0", "--entrypoint", "/bin/sh"]  # around the ENTRYPOINT, which would write identity
    baked = run_image(engine, image, "-c", script, options=options, check=False)
    assert baked.stdout.split() == ["0", "0"], "the build step left identity in the image"
    report = 'echo "whoami=$(whoami)"; echo "uid=$(id -u)"'
    for uid in (1001, arbitrary_uid()):  # fresh containers: the build's UID too
        out = run_image(engine, image, "sh", "-c", report, options=as_user(uid)).stdout
        assert value("whoami", out) == "default"
    first, second, third = arbitrary_uid(), arbitrary_uid(), arbitrary_uid()
    with running(engine, image, "sleep", "600", options=as_user(first)) as name:
        names = {}
        starts = [(second, ["bash", "-c", report]), (third, ["pyenvboot", "exec", "--", "sh", "-c", report])]
        for uid, command in starts:
            result = engine("exec", "--user", f"{uid}:0", name, *command, timeout=120)
            assert result.returncode == 0, result.stderr
            names[uid] = value("whoami", result.stdout)
        first_name = engine("exec", "--user", f"{first}:0", name, "whoami", timeout=120).stdout.strip()
    assert first_name == "default"
    assert names == {second: f"default-{second}", third: f"default-{third}"}


def test_a_cache_mount_in_the_shared_home_leaves_it_writable_for_every_uid(engine: Engine, images: Images) -> None:
    """The engine makes a mount target's missing parents, root's and 0755: ``init`` made ``.cache`` first."""
    dockerfile = """\
ARG BASE
FROM ${BASE}
USER 1001:0
RUN --mount=type=cache,target=/home/pyenvboot/.cache/pip,uid=1001,gid=0 pyenvboot pip --version
"""
    image = images.builder.build(
        "cache-mount-shared-home", {"Dockerfile": dockerfile}, bases={"BASE": images.example("debian12")}
    )
    script = 'mkdir "$HOME/.cache/other" && echo "made=$HOME/.cache/other"'
    out = run_image(engine, image, "sh", "-c", script, options=as_user(arbitrary_uid())).stdout
    assert value("made", out) == "/home/pyenvboot/.cache/other"
