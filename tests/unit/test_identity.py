"""User names and passwd lines for arbitrary UIDs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional

import pytest

from pyenvboot.errors import IdentityError
from pyenvboot.runtime import identity, state
from pyenvboot.runtime import passwd as passwd_rules
from pyenvboot.runtime.identity import choose_home
from pyenvboot.runtime.passwd import append_passwd_entry, passwd_line, validate_user_name, write_nss_passwd


@pytest.mark.parametrize("name", ["default", "app", "_svc", "a.b-c_1", "x" * 32])
def test_valid_names(name: str) -> None:
    assert validate_user_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "root:x:0:0", "evil\nroot", "Upper", "1digit", "-dash", "x" * 33, "sp ace", "tab\t", "ünï"]
)
def test_names_that_could_alter_passwd_are_refused(name: str) -> None:
    with pytest.raises(IdentityError, match="PYENVBOOT_USER"):
        validate_user_name(name)


def test_passwd_line_shape() -> None:
    assert passwd_line("default", 1000680000, 0, "/home/x") == (
        "default:x:1000680000:0:pyenvboot user:/home/x:/bin/sh\n"
    )


def test_passwd_line_refuses_uid_0() -> None:
    with pytest.raises(IdentityError, match="uid 0"):
        passwd_line("default", 0, 0, "/home/x")


@pytest.mark.parametrize("home", ["/home/a:b", "/home/a\nroot::0:0::/:/bin/sh"])
def test_passwd_line_refuses_field_separators(home: str) -> None:
    with pytest.raises(IdentityError):
        passwd_line("default", 1000, 0, home)


def test_append_is_once_per_uid(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash")  # no trailing newline
    line = passwd_line("default", 1234, 0, "/home/x")
    assert append_passwd_entry(str(passwd), line, 1234, "default") is True
    assert append_passwd_entry(str(passwd), line, 1234, "default") is False
    assert passwd.read_text().splitlines() == ["root:x:0:0:root:/root:/bin/bash", line.strip()]


def test_append_refuses_existing_name(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("default:x:1000:1000::/home/d:/bin/sh\n")
    before = passwd.read_bytes()
    with pytest.raises(IdentityError, match="already exists"):
        append_passwd_entry(str(passwd), passwd_line("default", 1234, 0, "/h"), 1234, "default")
    assert passwd.read_bytes() == before


@pytest.mark.parametrize(
    "later, kept",
    [
        ({"home": "/other"}, True),  # a later start with another HOME: the first start's file stays
        ({}, True),
        ({"name": "other"}, False),
        ({"etc": "root:x:0:0:root:/root:/bin/sh\nnew:x:5:5::/:/bin/sh\n"}, False),  # /etc/passwd changed
        ({"symlink": True}, False),  # never read through a symlink: replaced
    ],
)
def test_nss_passwd_of_an_earlier_start_is_kept_when_only_the_home_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: Dict[str, object], kept: bool
) -> None:
    etc = tmp_path / "etc-passwd"
    etc.write_text("root:x:0:0:root:/root:/bin/sh\n")
    monkeypatch.setattr(passwd_rules, "PASSWD", str(etc))
    target = tmp_path / "pyenvboot-1234-passwd"
    write_nss_passwd(str(target), passwd_line("app", 1234, 0, "/home/first"))
    first = target.read_text()
    if later.get("symlink"):
        decoy = tmp_path / "decoy"
        decoy.write_text(first)
        target.unlink()
        target.symlink_to(decoy)
    if "etc" in later:
        etc.write_text(str(later["etc"]))
    before = os.lstat(target).st_ino
    line = passwd_line(str(later.get("name", "app")), 1234, 0, str(later.get("home", "/home/first")))
    assert write_nss_passwd(str(target), line) == str(target)
    assert not target.is_symlink()
    if kept:
        assert (target.read_text(), os.lstat(target).st_ino) == (first, before)
    else:
        assert target.read_text() == etc.read_text() + line and os.lstat(target).st_ino != before
    assert (target.stat().st_mode & 0o777) == 0o600


def test_choose_home_prefers_a_writable_home(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    env = {"TMPDIR": str(tmp_path)}
    assert choose_home(str(tmp_path), None, str(shared), os.getuid(), env) == str(tmp_path)
    assert choose_home("/", None, str(shared), os.getuid(), env) == str(shared)
    assert choose_home(None, "/nonexistent", str(shared), os.getuid(), env) == str(shared)


def test_choose_home_falls_back_to_a_private_temp_home(tmp_path: Path) -> None:
    home = choose_home("/", None, str(tmp_path / "missing"), os.getuid(), {"TMPDIR": str(tmp_path)})
    assert home == "%s/pyenvboot-%d/home" % (tmp_path, os.getuid())
    assert os.access(home, os.W_OK)


@pytest.mark.parametrize(
    ("requested", "owners", "name", "warns"),
    [
        (None, {}, "default", None),
        (None, {"default": 1234}, "default", None),  # our own, from an earlier start
        (None, {"default": 1001}, "default-1234", None),  # a second nameless UID: a name of its own, silently
        ("app", {}, "app", None),
        ("app", {"app": 1001}, "app-1234", "belongs to uid 1001"),
        ("x" * 32, {"x" * 32: 1001}, "x" * 27 + "-1234", "belongs to uid 1001"),  # still at most 32 characters
        ("root:x:0:0", {}, "default", "refusing user name"),
        ("root:x:0:0", {"default": 1001}, "default-1234", "refusing user name"),
    ],
)
def test_choose_name(
    monkeypatch: pytest.MonkeyPatch, requested: str, owners: Dict[str, int], name: str, warns: Optional[str]
) -> None:
    monkeypatch.setattr(identity, "name_owner", owners.get)
    environ = {"PYENVBOOT_USER": requested} if requested else {}
    chosen, warning = identity.choose_name(environ, 1234)
    assert chosen == name
    assert validate_user_name(chosen) == chosen
    if warns is None:
        assert warning is None
    else:
        assert warning is not None and warns in warning and "\n" not in warning


def test_the_started_marker_names_this_boot_and_pid_1(tmp_path: Path) -> None:
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read().strip()
    marker = state.started_marker({"TMPDIR": str(tmp_path) + "/"})
    assert marker is not None and marker.startswith("%s/pyenvboot-started-%s-" % (tmp_path, boot))
    assert marker.rsplit("-", 1)[1].isdigit()
    assert not state.in_started_container({"TMPDIR": str(tmp_path)})
    state.mark_started({"TMPDIR": str(tmp_path)})
    assert state.in_started_container({"TMPDIR": str(tmp_path)})
