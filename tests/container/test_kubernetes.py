"""Scenario 7 (issue 3): examples/kubernetes/pod.yaml's restricted security context.

The manifest's restricted security context (arbitrary ``runAsUser``,
``runAsNonRoot``, ``readOnlyRootFilesystem``, all capabilities dropped, an
emptyDir on /tmp) runs the derived example app. On podman the test plays the
manifest as written (``podman kube play``), changing only the image (the one
this session built), the pod name (unique) and the UID (a random one, as
OpenShift would assign). Docker has no pod player: there the same context is
given as ``docker run`` options, as a kubelet hands it to the runtime.

Unlike a kubelet, ``podman kube play`` writes a passwd entry named after the UID
(there is no ``--passwd=false`` for it), so the name the app sees is that one;
under Docker, as under a kubelet, the UID stays nameless.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, running, unique_name, value
from tests.container.wheelcache import REPO_ROOT

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images

pytestmark = pytest.mark.container

MANIFEST = REPO_ROOT / "examples" / "kubernetes" / "pod.yaml"
RESTRICTED = ("runAsNonRoot: true", "readOnlyRootFilesystem: true", 'drop: ["ALL"]', "allowPrivilegeEscalation: false")


def substitute(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{MANIFEST} no longer has exactly one {old!r}"
    return text.replace(old, new)


# The manifest's security context as ``docker run`` options.
DOCKER_RESTRICTED = [
    "--read-only",
    "--tmpfs",
    "/tmp:rw,mode=1777",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
]


def outcome(engine: Engine, container: str, confinement: str) -> tuple[str, str, str]:
    """(exit code, log, ``inspect --format confinement``) of a container once it has ended."""
    exit_code = engine("wait", container, check=True, timeout=120).stdout.strip()
    logs = engine("logs", container, check=True)
    confined = engine("inspect", "--format", confinement, container, check=True).stdout.strip()
    return exit_code, logs.stdout + logs.stderr, confined


def play(engine: Engine, manifest: Path, pod: str) -> tuple[str, str, str]:
    """``podman kube play`` the manifest; the :func:`outcome` of its app container."""
    engine("kube", "play", "--network", "none", str(manifest), check=True, timeout=180)
    try:
        return outcome(engine, f"{pod}-app", "{{.BoundingCaps}} {{.HostConfig.ReadonlyRootfs}}")
    finally:
        engine("kube", "down", str(manifest), timeout=120)


def run_restricted(engine: Engine, image: str, uid: int, name: str) -> tuple[str, str, str]:
    """The same context through ``docker run``; its :func:`outcome`."""
    with running(engine, image, options=[*as_user(uid), *DOCKER_RESTRICTED], name=name):
        return outcome(engine, name, "{{.HostConfig.CapDrop}} {{.HostConfig.ReadonlyRootfs}}")


def test_restricted_pod_runs_the_app(engine: Engine, images: Images, tmp_path: Path) -> None:
    text = MANIFEST.read_text()
    for line in RESTRICTED:
        assert line in text, f"the manifest lost {line!r}"
    uid, pod = arbitrary_uid(), unique_name("pod")
    image = images.derived_app("debian12")
    if engine.name == "podman":
        text = substitute(text, "image: pyenvboot-example-app:latest", f"image: {image}")
        text = substitute(text, "runAsUser: 1000680000", f"runAsUser: {uid}")
        text = substitute(text, "name: pyenvboot-example\n", f"name: {pod}\n")
        manifest = tmp_path / "pod.yaml"
        manifest.write_text(text)
        exit_code, out, confined = play(engine, manifest, pod)
        name, expected_confinement = str(uid), "[] true"
    else:
        exit_code, out, confined = run_restricted(engine, image, uid, pod)
        name, expected_confinement = "default", "[ALL] true"
    assert exit_code == "0", out
    assert value("user", out) == f"{name} uid={uid} gid=0 umask=0002"
    assert value("home", out) == f"/tmp/pyenvboot-{uid}/home (writable)"
    assert value("site-packages", out) == "/opt/venv/lib/python3.11/site-packages (not writable: Read-only file system)"
    assert value("jinja2", out) == "3.1.6 from /opt/venv/lib/python3.11/site-packages/jinja2"
    assert confined == expected_confinement, f"{engine.name} did not apply the security context: {confined}"
