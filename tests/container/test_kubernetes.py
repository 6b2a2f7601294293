"""``examples/kubernetes/pod.yaml`` under ``podman kube play``.

The manifest's restricted security context (arbitrary ``runAsUser``,
``runAsNonRoot``, ``readOnlyRootFilesystem``, all capabilities dropped) runs
the derived example app. The test plays the manifest as written, changing only
the image (the one this session built), the pod name (unique) and the UID (a
random one, as OpenShift would assign).

Unlike a kubelet, ``podman kube play`` writes a passwd entry named after the UID
(there is no ``--passwd=false`` for it), so the name the app sees is that one;
the nameless case is test_identity.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, unique_name, value
from tests.container.wheelcache import REPO_ROOT

if TYPE_CHECKING:
    from tests.container.conftest import Podman
    from tests.container.images import Images

pytestmark = pytest.mark.container

MANIFEST = REPO_ROOT / "examples" / "kubernetes" / "pod.yaml"
RESTRICTED = ("runAsNonRoot: true", "readOnlyRootFilesystem: true", 'drop: ["ALL"]', "allowPrivilegeEscalation: false")


def substitute(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{MANIFEST} no longer has exactly one {old!r}"
    return text.replace(old, new)


def test_restricted_pod_runs_the_app(podman: Podman, images: Images, tmp_path: Path) -> None:
    text = MANIFEST.read_text()
    for line in RESTRICTED:
        assert line in text, f"the manifest lost {line!r}"
    uid, pod = arbitrary_uid(), unique_name("pod")
    text = substitute(text, "image: localhost/pyenvboot-example-app:latest", f"image: {images.derived_app('debian12')}")
    text = substitute(text, "runAsUser: 1000680000", f"runAsUser: {uid}")
    text = substitute(text, "name: pyenvboot-example\n", f"name: {pod}\n")
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(text)

    podman("kube", "play", "--network", "none", str(manifest), check=True, timeout=180)
    try:
        container = f"{pod}-app"
        exit_code = podman("wait", container, check=True, timeout=120).stdout.strip()
        logs = podman("logs", container, check=True)
        confined = podman(
            "inspect", "--format", "{{.BoundingCaps}} {{.HostConfig.ReadonlyRootfs}}", container, check=True
        ).stdout.strip()
    finally:
        podman("kube", "down", str(manifest), timeout=120)
    out = logs.stdout
    assert exit_code == "0", out + logs.stderr
    assert value("user", out) == f"{uid} uid={uid} gid=0 umask=0002"
    assert value("home", out) == f"/tmp/pyenvboot-{uid}/home (writable)"
    assert value("site-packages", out) == "/opt/venv/lib/python3.11/site-packages (not writable: Read-only file system)"
    assert value("jinja2", out) == "3.1.6 from /opt/venv/lib/python3.11/site-packages/jinja2"
    assert confined == "[] true", "podman did not apply the security context: capabilities, read-only root"
