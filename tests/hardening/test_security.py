"""The permission model's security; the threat model is in SECURITY.md.

Tests that point pyenvboot, as root, at a path outside its tree (``/etc/shadow``,
``/etc/passwd``) run in a private mount namespace where that path is a bind-mounted
copy: were the protection ever to regress, only the copy would change, never the
host's file. The host's own file is checked as well.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from tests.hardening.support import REPO, diff, pyenvboot, run, snapshot, world_writable
from tests.support.policy import policy_offenders
from tests.support.proc import ARBITRARY_UID, as_uid, with_bind
from tests.support.tmp import sticky_dir

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("root_and_unshare"),
]

OTHER_UID = 4242


def fingerprint(path: str) -> Tuple[int, int, int, int, int, int]:
    st = os.lstat(path)
    return (st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_ctime_ns)


@pytest.fixture
def tree(base: Path) -> Iterator[Path]:
    """A tree to fix, next to an ``outside`` dir holding a stand-in secret owned by someone else."""
    root = base / "sec"
    (root / "tree" / "sub").mkdir(parents=True)
    outside = root / "outside"
    (outside / "dir").mkdir(parents=True)
    secret = outside / "secret"
    secret.write_text("root:$6$hash:19000:0:99999:7:::\n")
    (outside / "dir" / "inner").write_text("x\n")
    for p in (secret, outside / "dir", outside / "dir" / "inner"):
        os.chown(p, OTHER_UID, OTHER_UID)
    secret.chmod(0o600)
    (root / "tree" / "sub" / "file").write_text("data\n")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def fix(paths: List[str], env: Dict[str, str], prefix: List[str] = ()) -> "subprocess.CompletedProcess[str]":  # type: ignore[assignment]
    return run(list(prefix) + pyenvboot() + ["fix-permissions", *paths], env)


def test_symlinks_to_files_and_dirs_outside_are_never_followed(tree: Path, henv: Dict[str, str]) -> None:
    inside = tree / "tree"
    (inside / "link-to-secret").symlink_to(tree / "outside" / "secret")
    (inside / "sub" / "link-to-dir").symlink_to(tree / "outside" / "dir")
    (inside / "relative-link").symlink_to("../outside/secret")
    outside_before = snapshot(tree / "outside")
    proc = fix([str(inside)], henv)
    assert proc.returncode == 0, proc.stderr
    assert diff(outside_before, snapshot(tree / "outside")) == []
    assert policy_offenders(inside) == []


def test_a_link_to_etc_shadow_leaves_it_untouched(tree: Path, base: Path, henv: Dict[str, str]) -> None:
    """fix-permissions and init on trees holding a link to /etc/shadow (here a bind-mounted copy; see above)."""
    real = fingerprint("/etc/shadow")
    copy = tree / "shadow-copy"
    shutil.copy2("/etc/shadow", copy)
    shadow = stat.S_IMODE(os.stat("/etc/shadow").st_mode)
    os.chown(copy, 0, os.stat("/etc/shadow").st_gid)
    copy.chmod(shadow)
    inside = tree / "tree"
    (inside / "shadow").symlink_to("/etc/shadow")
    probe = 'stat -c "stat %i %a %u %g %h %Z" /etc/shadow'
    cmd = "%s; %s fix-permissions %s >/dev/null; echo rc=$?; %s" % (probe, " ".join(pyenvboot()), inside, probe)
    proc = run(with_bind(copy, "/etc/shadow", ["sh", "-c", cmd]), henv)
    before, code, after = proc.stdout.splitlines()
    assert code == "rc=0", proc.stderr
    assert before == after  # inode, mode, owner, group, links and ctime of "/etc/shadow" as pyenvboot saw it
    assert stat.S_IMODE(copy.stat().st_mode) == shadow
    # The same through init: a venv with a link to /etc/shadow in its site-packages.
    venv = tree / "venv"
    assert run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv).returncode == 0
    next(venv.glob("lib/python3*/site-packages")).joinpath("shadow").symlink_to("/etc/shadow")
    cmd = "%s; %s init --venv %s --no-home >/dev/null; echo rc=$?; %s" % (probe, " ".join(pyenvboot()), venv, probe)
    proc = run(with_bind(copy, "/etc/shadow", ["sh", "-c", cmd]), henv)
    before, code, after = proc.stdout.splitlines()
    assert code == "rc=0", proc.stderr
    assert before == after
    assert fingerprint("/etc/shadow") == real  # and the host's own file, of course


def test_a_symlink_swapped_in_during_the_walk_is_not_followed(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the walk's lstat and the change, a file and a directory are replaced by links to outside."""
    import sys

    sys.path.insert(0, str(REPO))
    from pyenvboot.permissions import policy as permissions

    inside = tree / "tree"
    (inside / "victim").write_text("v\n")
    (inside / "victim").chmod(0o600)
    (inside / "victimdir").mkdir()
    (inside / "victimdir").chmod(0o700)
    secret, outside_dir = tree / "outside" / "secret", tree / "outside" / "dir"
    outside_before = snapshot(tree / "outside")

    def swap(name: str, target: Path) -> None:
        os.rename(inside / name, inside / (name + ".moved"))
        (inside / name).symlink_to(target)

    real_apply = permissions.apply

    def racing_apply(entry: permissions.Entry, gid: Optional[int], mode: Optional[int]) -> None:
        if entry.name == "victim":
            swap("victim", secret)  # after lstat, before the chmod
        real_apply(entry, gid, mode)

    real_open = os.open

    def racing_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if path == "victimdir" and kwargs.get("dir_fd") is not None:
            swap("victimdir", outside_dir)  # after the walk's lstat of it, before the directory is opened
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(permissions, "apply", racing_apply)
    monkeypatch.setattr(os, "open", racing_open)
    report = permissions.fix_tree(str(inside), 0)
    monkeypatch.undo()
    assert diff(outside_before, snapshot(tree / "outside")) == []
    skipped = "\n".join(report.skipped)
    assert "victim: changed while walking" in skipped and "victimdir" in skipped


def test_never_acts_outside_the_given_tree(tree: Path, henv: Dict[str, str]) -> None:
    inside = tree / "tree" / "sub"
    (tree / "tree" / "sibling").write_text("s\n")
    (tree / "tree" / "sibling").chmod(0o600)
    (tree / "tree").chmod(0o700)
    around = snapshot(tree)
    proc = fix([str(inside) + "/"], henv)
    assert proc.returncode == 0, proc.stderr
    changed = diff(around, snapshot(tree))
    assert changed and all(p == str(inside) or p.startswith(str(inside) + "/") for p in changed), changed


def test_never_world_writable(tree: Path, henv: Dict[str, str]) -> None:
    inside = tree / "tree"
    (inside / "open").mkdir(mode=0o777)
    (inside / "sticky").mkdir()
    (inside / "wide").write_text("w\n")
    (inside / "script").write_text("#!/bin/sh\n")
    for path, mode in [("open", 0o777), ("sticky", 0o1777), ("wide", 0o666), ("script", 0o757)]:
        (inside / path).chmod(mode)
    proc = fix([str(inside)], henv)
    assert proc.returncode == 0, proc.stderr
    assert world_writable(inside) == []
    assert policy_offenders(inside) == []
    assert stat.S_IMODE((inside / "sticky").stat().st_mode) == 0o3775  # sticky kept, o+w gone, setgid added
    assert stat.S_IMODE((inside / "script").stat().st_mode) == 0o775


def test_init_and_pip_under_umask_000_make_nothing_world_writable(
    base: Path, henv: Dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.support.wheels import build_wheel

    venv = base / "umask0"
    wheels = tmp_path_factory.mktemp("wheels")
    build_wheel(wheels, "demo", "1.0")
    proc = run(pyenvboot() + ["init", "--venv", str(venv), "--no-home"], henv, umask=0)
    assert proc.returncode == 0, proc.stderr
    pip = ["pip", "--venv", str(venv), "install", "-q", "--no-index", "--find-links", str(wheels), "demo"]
    proc = run(pyenvboot() + pip, henv, umask=0)
    assert proc.returncode == 0, proc.stderr
    assert world_writable(venv) == []
    assert policy_offenders(venv) == []
    shutil.rmtree(venv)


def test_hard_links_to_files_of_others_are_skipped_and_reported(tree: Path, henv: Dict[str, str]) -> None:
    inside = tree / "tree"
    secret = tree / "outside" / "secret"
    os.link(secret, inside / "hardlink")
    mine = inside / "mine"
    mine.write_text("m\n")
    mine.chmod(0o600)
    os.link(mine, tree / "outside" / "mine-too")  # ours: fixing it is fine
    before = fingerprint(str(secret))
    proc = fix([str(inside)], henv)
    assert proc.returncode == 1
    assert proc.stderr == "pyenvboot: skipped %s: hard-linked file owned by uid %d, left alone\n" % (
        inside / "hardlink",
        OTHER_UID,
    )
    assert fingerprint(str(secret)) == before
    assert stat.S_IMODE(mine.stat().st_mode) == 0o660


# -- the passwd entry ---------------------------------------------------------------------


@pytest.fixture
def passwd(base: Path, module_venv: Path) -> Iterator[Path]:
    """A copy of /etc/passwd, group-writable by gid 0 as ``init --writable-passwd`` leaves it."""
    path = base / "passwd"
    shutil.copy("/etc/passwd", path)
    os.chown(path, 0, 0)
    path.chmod(0o664)
    yield path
    path.unlink()


def exec_as_uid(venv: Path, passwd: Path, env: Dict[str, str], **extra: str) -> "subprocess.CompletedProcess[str]":
    """``pyenvboot exec -- whoami`` as an arbitrary UID, with ``passwd`` as /etc/passwd."""
    argv = [*as_uid(ARBITRARY_UID), *pyenvboot(), "exec", "--venv", str(venv), "--", "whoami"]
    return run(with_bind(passwd, "/etc/passwd", argv), {**env, "HOME": "/", **extra})


def test_writable_passwd_gets_one_entry_for_the_uid(passwd: Path, module_venv: Path, henv: Dict[str, str]) -> None:
    """Four starts at once (an entrypoint and ``docker exec``s): one entry, and every one of them gets it."""
    original = passwd.read_text()
    argv = [*as_uid(ARBITRARY_UID), *pyenvboot(), "exec", "--venv", str(module_venv), "--", "whoami"]
    procs = [
        subprocess.Popen(
            with_bind(passwd, "/etc/passwd", argv),
            env={**henv, "HOME": "/"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    assert [o[0] for o in outs] == ["default\n"] * 4
    added = passwd.read_text()[len(original) :].splitlines()
    assert len(added) == 1 and added[0].startswith("default:x:%d:0:" % ARBITRARY_UID), added
    assert passwd.read_text().startswith(original)


@pytest.mark.parametrize(
    ("user", "says", "name"),
    [
        ("root", "belongs to uid 0", "root-%d" % ARBITRARY_UID),
        ("daemon", "belongs to uid 1", "daemon-%d" % ARBITRARY_UID),
        ("evil:x:0:0::/root:/bin/sh", "refusing user name", "default"),
        ("a\nroot2::0:0::/:/bin/sh", "refusing user name", "default"),
    ],
)
def test_passwd_entry_never_for_an_existing_or_hostile_name(
    passwd: Path, module_venv: Path, henv: Dict[str, str], user: str, says: str, name: str
) -> None:
    """Refused and never written, and the app still starts, under a name of its own."""
    original = passwd.read_text()
    proc = exec_as_uid(module_venv, passwd, henv, PYENVBOOT_USER=user)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == name + "\n"
    assert proc.stderr.startswith("pyenvboot: ") and says in proc.stderr and proc.stderr.count("\n") == 1
    added = passwd.read_text()[len(original) :]
    assert passwd.read_text().startswith(original)
    assert added.startswith("%s:x:%d:0:" % (name, ARBITRARY_UID)) and added.count("\n") == 1, added


def test_passwd_entry_never_for_uid_0(passwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uid 0 without an entry (nss-systemd always makes one here, so in process): nothing written, still a USER."""
    import pwd
    import sys

    sys.path.insert(0, str(REPO))
    from pyenvboot import errors
    from pyenvboot.runtime import identity
    from pyenvboot.runtime import passwd as passwd_rules

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    original = passwd.read_bytes()
    monkeypatch.setattr(identity, "PASSWD", str(passwd))
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    monkeypatch.setattr(os, "getuid", lambda: 0)
    environ = {"PYENVBOOT_USER": "notroot", "HOME": "/", "PYENVBOOT_NSS_WRAPPER": "", "TMPDIR": str(passwd.parent)}
    changes = identity.fix_identity(environ)
    assert changes["USER"] == "notroot"
    with pytest.raises(errors.IdentityError, match="uid 0"):
        passwd_rules.passwd_line("notroot", 0, 0, "/")
    assert passwd.read_bytes() == original


def test_passwd_is_made_writable_only_on_request(passwd: Path, base: Path, henv: Dict[str, str]) -> None:
    passwd.chmod(0o644)
    venv = base / "pw-venv"
    init = [*pyenvboot(), "init", "--venv", str(venv), "--no-home"]
    proc = run(with_bind(passwd, "/etc/passwd", init), henv)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o644
    proc = run(with_bind(passwd, "/etc/passwd", [*init, "--writable-passwd"]), henv)
    assert proc.returncode == 0, proc.stderr
    st = passwd.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o664, 0)
    shutil.rmtree(venv)


def test_runtime_files_another_uid_made_first_are_never_used(
    base: Path, module_venv: Path, henv: Dict[str, str]
) -> None:
    """In a sticky TMPDIR, another UID can make a nameless UID's runtime files before its first start.

    A symlink as nss_wrapper's passwd (to a file the victim may write) is never written
    through, and a cache that would run code is never sourced: not by the launcher's
    sh, nor by Python, nor by the hook. The app still starts.
    """
    from pyenvboot.runtime.environment import activation_changes, apply_changes

    tmp = sticky_dir(base / "planted-tmp")
    victim = base / "victims-own-file"
    victim.write_text("keep\n")
    os.chown(victim, ARBITRARY_UID, 0)
    planted_passwd = tmp / ("pyenvboot-%d-passwd" % ARBITRARY_UID)
    planted_cache = tmp / ("pyenvboot-%d-identity.sh" % ARBITRARY_UID)
    planted_passwd.symlink_to(victim)
    planted_cache.write_text("_pyenvboot_n=evil; _pyenvboot_x='export PLANTED=1'\n")
    for p in (planted_passwd, planted_cache):
        os.chown(p, OTHER_UID, OTHER_UID, follow_symlinks=False)
    home = base / "planted-shared-home"
    home.mkdir()
    home.chmod(0o2777)
    env = {k: v for k, v in henv.items() if k not in ("USER", "LOGNAME")}
    env.update(HOME="/", TMPDIR=str(tmp), PYENVBOOT_HOME=str(home))
    env = apply_changes(env, activation_changes(env, str(module_venv)))
    launcher = [str(module_venv / "bin/pyenvboot"), "exec", "--", "env"]
    for argv in (launcher, [*pyenvboot(), "exec", "--venv", str(module_venv), "--", "env"], ["bash", "-c", "env"]):
        proc = run([*as_uid(ARBITRARY_UID), *argv], env)
        assert proc.returncode == 0, proc.stderr
        assert "PLANTED=" not in proc.stdout and "USER=evil" not in proc.stdout, argv
        assert "USER=default\n" in proc.stdout, argv  # named all the same, by the shared home's rule
        assert victim.read_text() == "keep\n"
        assert planted_passwd.is_symlink() and planted_cache.read_text().startswith("_pyenvboot_n=evil")
