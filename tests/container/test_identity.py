"""A name and a HOME for arbitrary UIDs, and ``init --writable-passwd``.

With a read-only root filesystem (``--read-only``, only ``/tmp`` writable, as
Kubernetes' ``readOnlyRootFilesystem`` with an emptyDir) the shared home is not
writable and ``/etc/passwd`` cannot change: the app must still start, get a
private writable HOME under /tmp, and a name through nss_wrapper where the image
has it (Debian 12 here) or at least USER/LOGNAME (Debian 13 "venv" has none).

The opt-in ``init --writable-passwd`` instead gives the UID a real passwd entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.container.containers import arbitrary_uid, as_user, exec_in, run_image, running, value

if TYPE_CHECKING:
    from tests.container.conftest import Engine
    from tests.container.images import Images

pytestmark = pytest.mark.container

REPORT = """
echo "whoami=$(whoami 2>/dev/null || echo none)"
echo "ld_preload=${LD_PRELOAD-}"
echo "passwd_line=$(grep ":$(id -u):" /etc/passwd || echo none)"
"""


def test_read_only_root_with_nss_wrapper(engine: Engine, images: Images) -> None:
    uid = arbitrary_uid()
    image = images.derived_app("debian12")
    result = run_image(
        engine,
        image,
        "sh",
        "-c",
        REPORT + "exec python /home/pyenvboot/app.py",
        options=[*engine.read_only, *as_user(uid)],
    )
    out = result.stdout
    assert value("whoami", out) == "default", "nss_wrapper gives the UID a name"
    assert value("ld_preload", out).endswith("/libnss_wrapper.so")
    assert value("passwd_line", out) == "none", "/etc/passwd is read-only and unchanged"
    assert value("user", out) == f"default uid={uid} gid=0 umask=0002"
    assert value("home", out) == f"/tmp/pyenvboot-{uid}/home (writable)"


def test_read_only_root_without_nss_wrapper(engine: Engine, images: Images) -> None:
    """No libnss_wrapper.so: no passwd name for C tools, but USER/LOGNAME/HOME for everything else."""
    uid = arbitrary_uid()
    script = REPORT + (
        "python -c 'import getpass; print(\"getuser=\" + getpass.getuser())';"
        ' echo "home=$HOME"; touch "$HOME/probe" && echo home_writable=yes'
    )
    result = run_image(
        engine, images.example("debian13-venv"), "sh", "-c", script, options=[*engine.read_only, *as_user(uid)]
    )
    out = result.stdout
    assert value("whoami", out) == "none"
    assert value("ld_preload", out) == ""
    assert value("getuser", out) == "default"
    assert value("home", out) == f"/tmp/pyenvboot-{uid}/home"
    assert value("home_writable", out) == "yes"


def test_passwd_is_not_writable_without_the_opt_in(engine: Engine, images: Images) -> None:
    result = run_image(engine, images.example("debian12"), "stat", "-c", "%a %U:%G", "/etc/passwd")
    assert result.stdout.strip() == "644 root:root"


def test_writable_passwd_gives_a_real_entry(engine: Engine, images: Images) -> None:
    uid = arbitrary_uid()
    image = images.example("debian12", init_flags="--writable-passwd")
    result = run_image(
        engine,
        image,
        "sh",
        "-c",
        REPORT + 'echo "getent=$(getent passwd default)"; echo "mode=$(stat -c "%a %U:%G" /etc/passwd)"',
        options=as_user(uid),
    )
    out = result.stdout
    entry = f"default:x:{uid}:0:pyenvboot user:/home/pyenvboot:/bin/sh"
    assert value("passwd_line", out) == entry
    assert value("getent", out) == entry
    assert value("whoami", out) == "default"
    assert value("ld_preload", out) == "", "a real entry needs no nss_wrapper"
    assert value("mode", out) == "664 root:root"


def test_read_only_root_without_tmpfs_says_what_is_missing_and_starts(engine: Engine, images: Images) -> None:
    uid = arbitrary_uid()
    app = "import os; print('started home=' + os.environ['HOME'])"
    no_tmpfs = engine.read_only[: engine.read_only.index("--tmpfs")]  # as plain ``docker run --read-only``
    result = run_image(engine, images.example("debian12"), "python", "-c", app, options=[*no_tmpfs, *as_user(uid)])
    assert result.stdout == "started home=/\n"
    assert result.stderr == (
        f"pyenvboot: warning: no writable HOME for uid {uid}: HOME=/, /home/pyenvboot and /tmp are not writable"
        " (a read-only root filesystem?); mount a tmpfs on /tmp (docker run --tmpfs /tmp;"
        " Kubernetes: an emptyDir volume at /tmp)\n"
    )


# A build step that runs the ENTRYPOINT's command as the image's nameless USER (1001), then a later layer
# that adds a user. The step's identity files (nss_wrapper's passwd, the hook's cache) stay in /tmp.
LATER = "later:x:2000:0::/:/bin/sh"
EXEC_IN_A_BUILD_STEP = f"""\
ARG BASE
FROM ${{BASE}}
RUN pyenvboot exec -- python -c pass
USER 0:0
RUN echo '{LATER}' >> /etc/passwd
USER 1001:0
"""


def test_identity_left_by_a_build_step_is_not_taken_by_a_container(engine: Engine, images: Images) -> None:
    """A container's start and its ``docker exec`` shells see the image's /etc/passwd, not the build step's copy."""
    image = images.derived("exec-in-a-build-step", EXEC_IN_A_BUILD_STEP, {})
    listing = run_image(engine, image, "ls", "/tmp", options=["--entrypoint", "/usr/bin/env"]).stdout.split()
    assert "pyenvboot-1001-identity.sh" in listing, "the build step left no identity in the layer: %s" % listing
    script = 'echo "getent=$(getent passwd later)"; echo "whoami=$(whoami 2>/dev/null)"'
    started = run_image(engine, image, "sh", "-c", script)
    assert value("getent", started.stdout) == LATER, started.stderr
    assert value("whoami", started.stdout) == "default"
    with running(engine, image, "sleep", "300") as name:
        shell = exec_in(engine, name, "1001:0", "bash", "-c", script)
        assert value("getent", shell.stdout) == LATER, shell.stderr
        assert value("whoami", shell.stdout) == "default"
    # Started without the ENTRYPOINT: nothing marks it started, and the hook still takes nothing old.
    with running(engine, image, "300", options=["--entrypoint", "sleep"]) as name:
        shell = exec_in(engine, name, "1001:0", "bash", "-c", script)
        assert value("getent", shell.stdout) == LATER, shell.stderr
