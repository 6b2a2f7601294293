"""The sh/Python contract (pyenvboot/runtime/contract.py), differentially: every case either side branches on.

Three ways start the same command in the same container state, and must show it the
same thing (its environment, umask, exit code and stderr):

- ``launcher``: ``VENV/bin/pyenvboot exec -- CMD``, the ENTRYPOINT, whose sh fast path
  does the common start itself and hands the rest to Python;
- ``python``: ``python3 -m pyenvboot exec --venv VENV -- CMD``, Python throughout;
- ``hook``: ``bash -c 'exec CMD'`` with the image's ENV lines (a ``docker exec``), the
  hook through BASH_ENV. Its failures are bash's own, so it is compared on commands
  that run.

Each run starts from the same state: a fresh copy of the container's /etc/passwd
(bind-mounted in a private mount namespace), an empty TMPDIR holding only the marker
of a started container, and, for the cached cases, the identity a first
``pyenvboot exec`` left. UIDs are real (setpriv): root, a named user, a nameless one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest

from pyenvboot.runtime.contract import PASSWD_KEPT
from pyenvboot.runtime.environment import activation_changes, apply_changes
from pyenvboot.runtime.launcher import LIB_RELPATH
from pyenvboot.runtime.state import mark_started
from tests.integration._checkhelpers import unshare_works
from tests.support.pipenv import isolated_environ
from tests.support.proc import ARBITRARY_UID, as_uid, run, with_bind
from tests.support.tmp import reachable_tmpdir, sticky_dir

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not unshare_works(), reason="needs root and a private mount namespace (unshare -m)"),
]

SYSTEM_PYTHON = "/usr/bin/python3"
NAMED_UID = ARBITRARY_UID + 1000
# Variables a shell sets for itself; they say nothing about pyenvboot.
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}
REPORT = "#!/bin/sh\numask\nexec env -0\n"


class World(NamedTuple):
    root: Path
    venv: Path
    environ: Dict[str, str]  # the image's environment before its ENV lines


@pytest.fixture(scope="module")
def world(readable_source: Path) -> Iterator[World]:
    with reachable_tmpdir("pyenvboot-contract-") as root:
        environ = isolated_environ(PYTHONPATH=str(readable_source), PATH="/usr/local/bin:/usr/bin:/bin")
        for k in ("HOME", "USER", "LOGNAME", "LD_PRELOAD", "TMPDIR", "UID"):
            environ.pop(k, None)
        venv = root / "venv"
        proc = run([SYSTEM_PYTHON, "-m", "pyenvboot", "init", "--venv", str(venv), "--no-home"], environ)
        assert proc.returncode == 0, proc.stderr
        dirs = [("shared-home", 0o2775), ("ro", 0o555), ("unsearchable", 0o666), ("own", 0o777), ("own/it's", 0o777)]
        for d, mode in dirs:
            (root / d).mkdir()
            (root / d).chmod(mode)
        (root / "named-home").mkdir()
        os.chown(root / "named-home", NAMED_UID, 0)
        (root / "a-file").write_text("")
        (root / "empty").mkdir()
        cwd = root / "cwd"
        for where, name, mode in [
            ("cwd/bin", "report", 0o755),
            ("cwd", "report-here", 0o755),
            ("cwd/rel", "report-rel", 0o755),
            ("cwd/noexec", "report", 0o644),
            ("cwd/noexec", "report-noexec", 0o644),
        ]:
            (root / where).mkdir(parents=True, exist_ok=True)
            (root / where / name).write_text(REPORT)
            (root / where / name).chmod(mode)
        for p in [cwd, *cwd.iterdir()]:
            if p.is_dir():
                p.chmod(0o755)
        sticky_dir(root / "tmp")
        passwd = Path("/etc/passwd").read_text()
        (root / "passwd.orig").write_text(passwd + "app:x:%d:0::%s:/bin/sh\n" % (NAMED_UID, root / "named-home"))
        yield World(root, venv, environ)


@dataclass
class Case:
    uid: int
    env: Dict[str, Optional[str]] = field(default_factory=dict)  # None: unset
    command: Tuple[str, ...] = ("report",)
    umask: Optional[str] = None  # the umask the container starts with
    cached: Optional[Dict[str, Optional[str]]] = None  # a first start with these changes left its identity
    writable_passwd: bool = False
    # The contract has the launcher's sh do this start alone, without Python.
    sh_alone: bool = True
    primer: str = "python"  # the side whose first start left the cached identity
    passwd: str = ""  # "no-final-newline", or "long": more lines than the launcher keeps (PASSWD_KEPT)
    tmp_mode: int = 0o1777  # TMPDIR's: 0777 is a Kubernetes emptyDir's (not sticky: the runtime files in a dir)
    # The cached identity was left by another container (a pid namespace of its own: a build step's
    # ``pyenvboot exec``, kept in a layer or by ``docker commit``), and a later layer added a user.
    elsewhere: bool = False


def image_env(world: World, case_env: Dict[str, Optional[str]], raw_path: bool = False) -> Dict[str, str]:
    """What ``docker run``/``docker exec`` give: the image's ENV lines (activation), then ``-e`` values."""
    base = dict(world.environ, PATH=str(world.root / "cwd/bin") + ":/usr/bin:/bin", TMPDIR=str(world.root / "tmp"))
    base["PYENVBOOT_HOME"] = str(world.root / "shared-home")
    env = apply_changes(base, activation_changes(base, str(world.venv)))
    for k, v in case_env.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v.replace("@", str(world.root) + "/")
    return env


def reset(world: World, case: Case) -> None:
    """The container's state before the run: its passwd, an empty /tmp marked as a started container."""
    tmp = world.root / "tmp"
    for entry in tmp.iterdir():
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    tmp.chmod(case.tmp_mode)
    passwd = world.root / "passwd"
    text = (world.root / "passwd.orig").read_text()
    if case.passwd == "long":
        text += "".join("u%d:x:%d:%d::/:/bin/sh\n" % (i, 70000 + i, 70000 + i) for i in range(PASSWD_KEPT + 5))
    elif case.passwd:
        text = text.rstrip("\n")
    passwd.write_text(text)
    passwd.chmod(0o664 if case.writable_passwd else 0o644)
    mark_started({"TMPDIR": str(tmp)})


def argv_for(world: World, case: Case, side: str, other_container: bool = False) -> List[str]:
    """``side``'s command line; ``sh`` is the launcher with pyenvboot's Python code hidden.

    ``other_container``: in a pid namespace of its own, whose PID 1 started at another time.
    """
    command = list(case.command)
    if side in ("launcher", "sh"):
        argv = [str(world.venv / "bin/pyenvboot"), "exec", "--", *command]
    elif side == "python":
        argv = [SYSTEM_PYTHON, "-m", "pyenvboot", "exec", "--venv", str(world.venv), "--", *command]
    else:
        argv = ["bash", "-c", 'exec "$@"', "bash", *command]
    if case.umask is not None:
        argv = ["sh", "-c", 'umask %s; exec "$@"' % case.umask, "sh", *argv]
    argv = (as_uid(case.uid) if case.uid else []) + argv
    if other_container:
        argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
    if side == "sh":
        argv = with_bind(world.root / "empty", str(world.venv / LIB_RELPATH), argv)
    return with_bind(world.root / "passwd", "/etc/passwd", argv)


class Seen(NamedTuple):
    code: int
    umask: str
    env: Dict[str, str]
    stderr: str
    nss_passwd: Optional[str]  # what nss_wrapper reads (NSS_WRAPPER_PASSWD), as the app's getpwuid() sees it


def start(world: World, case: Case, side: str) -> Seen:
    reset(world, case)
    if case.cached is not None:
        first = Case(case.uid, case.cached, ("true",), writable_passwd=case.writable_passwd)
        argv = argv_for(world, first, case.primer, other_container=case.elsewhere)
        proc = run(argv, image_env(world, case.cached), cwd=world.root / "cwd")
        assert proc.returncode == 0, proc.stderr
        if case.elsewhere:
            assert len(list((world.root / "tmp").glob("pyenvboot-started-*"))) == 2  # that container's and ours
            with open(world.root / "passwd", "a") as f:  # the same file: it is bind-mounted
                f.write("later:x:%d:0::/:/bin/sh\n" % (NAMED_UID + 1))
    proc = run(argv_for(world, case, side), image_env(world, case.env), cwd=world.root / "cwd")
    umask, _, rest = proc.stdout.partition("\n")
    pairs = (item.partition("=") for item in rest.split("\0") if item)
    env = {k: v for k, _, v in pairs if k not in SHELL_OWN}
    nss = env.get("NSS_WRAPPER_PASSWD")
    return Seen(proc.returncode, umask, env, proc.stderr, Path(nss).read_text() if nss else None)


NOBODY = 65534
HOMES = {
    "unset": None,
    "root-dir": "/",
    "missing": "@nonexistent",
    "a-file": "@a-file",
    "read-only": "@ro",
    "not-searchable": "@unsearchable",
    "usable": "@own",
}
NAMELESS = {"HOME": "/", "USER": None, "LOGNAME": None}
CASES: Dict[str, Case] = {}
for uid_name, uid in [("root", 0), ("named", NAMED_UID), ("nobody", NOBODY), ("nameless", ARBITRARY_UID)]:
    for home_name, home in HOMES.items():
        CASES["%s-home-%s" % (uid_name, home_name)] = Case(uid, {"HOME": home, "USER": None, "LOGNAME": None})
    CASES[uid_name + "-all-set"] = Case(uid, {"HOME": "@own", "USER": "someone", "LOGNAME": "someone"})
    CASES[uid_name + "-user-set"] = Case(uid, {"HOME": "/", "USER": "someone", "LOGNAME": None})
    CASES[uid_name + "-umask-077"] = Case(uid, NAMELESS, umask="077")
    CASES[uid_name + "-umask-000"] = Case(uid, NAMELESS, umask="000")
CASES.update(
    {
        # The UID comes from the kernel, never from a $UID in the environment (dash does not set it).
        "nameless-uid-variable": Case(ARBITRARY_UID, {**NAMELESS, "UID": "0"}),
        # A first start the launcher's sh cannot do alone: Python's.
        "nameless-no-shared-home": Case(ARBITRARY_UID, {**NAMELESS, "PYENVBOOT_HOME": "@nonexistent"}, sh_alone=False),
        "nameless-writable-passwd": Case(ARBITRARY_UID, NAMELESS, writable_passwd=True, sh_alone=False),
        "nameless-refused-name": Case(ARBITRARY_UID, {**NAMELESS, "PYENVBOOT_USER": "Root:x"}, sh_alone=False),
        "nameless-name-taken": Case(ARBITRARY_UID, {**NAMELESS, "PYENVBOOT_USER": "app"}, sh_alone=False),
        "nameless-preloaded": Case(ARBITRARY_UID, {**NAMELESS, "LD_PRELOAD": "libc.so.6"}, sh_alone=False),
        "nameless-bad-nss-wrapper": Case(
            ARBITRARY_UID, {**NAMELESS, "PYENVBOOT_NSS_WRAPPER": "@a-file"}, sh_alone=False
        ),
        "nameless-odd-home": Case(ARBITRARY_UID, {**NAMELESS, "HOME": "@own/it's"}, sh_alone=False),
        # One it can.
        "nameless-named-by-pyenvboot-user": Case(ARBITRARY_UID, {**NAMELESS, "PYENVBOOT_USER": "app_2.x-y"}),
        "nameless-no-nss-wrapper": Case(ARBITRARY_UID, {**NAMELESS, "PYENVBOOT_NSS_WRAPPER": ""}),
        "nameless-passwd-without-final-newline": Case(ARBITRARY_UID, NAMELESS, passwd="no-final-newline"),
        "nameless-long-passwd": Case(ARBITRARY_UID, NAMELESS, passwd="long"),
        "nameless-tmpdir-not-sticky": Case(ARBITRARY_UID, NAMELESS, tmp_mode=0o777),
        "cached-tmpdir-not-sticky": Case(ARBITRARY_UID, NAMELESS, cached=NAMELESS, tmp_mode=0o777),
        "sh-cached-tmpdir-not-sticky": Case(
            ARBITRARY_UID, NAMELESS, cached=NAMELESS, tmp_mode=0o777, primer="launcher"
        ),
        "nameless-tmpdir-slash": Case(ARBITRARY_UID, {**NAMELESS, "TMPDIR": "@tmp//"}),
        "named-long-passwd": Case(NAMED_UID, {"HOME": "/", "USER": None, "LOGNAME": None}, passwd="long"),
        # Cached identities: the first start's, for the same inputs and for others.
        "cached-same": Case(ARBITRARY_UID, NAMELESS, cached=NAMELESS),
        "cached-home-then-usable": Case(ARBITRARY_UID, {**NAMELESS, "HOME": "@own"}, cached=NAMELESS),
        "cached-usable-then-home-root": Case(ARBITRARY_UID, NAMELESS, cached={**NAMELESS, "HOME": "@own"}),
        "cached-then-user-set": Case(ARBITRARY_UID, {**NAMELESS, "USER": "someone"}, cached=NAMELESS),
        "cached-other-user-name": Case(
            ARBITRARY_UID,
            {**NAMELESS, "PYENVBOOT_USER": "app2"},
            cached={**NAMELESS, "PYENVBOOT_USER": "app1"},
            sh_alone=False,
        ),
        # Cached by the launcher's sh first start.
        "sh-cached-same": Case(ARBITRARY_UID, NAMELESS, cached=NAMELESS, primer="launcher"),
        # Not this container's: no side takes it, the start is a first one again (Python's: the files exist).
        "cached-in-another-container": Case(ARBITRARY_UID, NAMELESS, cached=NAMELESS, elsewhere=True, sh_alone=False),
        "sh-cached-in-another-container": Case(
            ARBITRARY_UID, NAMELESS, cached=NAMELESS, elsewhere=True, sh_alone=False, primer="launcher"
        ),
        "sh-cached-home-then-usable": Case(
            ARBITRARY_UID, {**NAMELESS, "HOME": "@own"}, cached=NAMELESS, primer="launcher"
        ),
        "sh-cached-no-nss-wrapper": Case(
            ARBITRARY_UID,
            {**NAMELESS, "PYENVBOOT_NSS_WRAPPER": ""},
            cached={**NAMELESS, "PYENVBOOT_NSS_WRAPPER": ""},
            primer="launcher",
        ),
        "sh-cached-other-user-name": Case(
            ARBITRARY_UID,
            {**NAMELESS, "PYENVBOOT_USER": "app2"},
            cached={**NAMELESS, "PYENVBOOT_USER": "app1"},
            primer="launcher",
            sh_alone=False,
        ),
        "cached-refused-name": Case(
            ARBITRARY_UID, {**NAMELESS, "PYENVBOOT_USER": "Root:x"}, cached={**NAMELESS, "PYENVBOOT_USER": "Root:x"}
        ),
        "cached-private-home": Case(
            ARBITRARY_UID,
            {**NAMELESS, "PYENVBOOT_HOME": "@nonexistent"},
            cached={**NAMELESS, "PYENVBOOT_HOME": "@nonexistent"},
        ),
        "cached-writable-passwd": Case(ARBITRARY_UID, NAMELESS, cached=NAMELESS, writable_passwd=True),
        "cached-no-nss-wrapper": Case(
            ARBITRARY_UID,
            {**NAMELESS, "PYENVBOOT_NSS_WRAPPER": ""},
            cached={**NAMELESS, "PYENVBOOT_NSS_WRAPPER": ""},
        ),
        # PATH as docker run -e gives it; the command found by the search rule.
        "path-empty-entry-is-cwd": Case(0, {"PATH": "/usr/bin::/bin"}, ("report-here",)),
        "path-trailing-empty-entry": Case(0, {"PATH": "/usr/bin:/bin:"}, ("report-here",)),
        "path-trailing-empty-entry-nameless": Case(
            ARBITRARY_UID, {**NAMELESS, "PATH": "/usr/bin:/bin:"}, ("report-here",), cached=NAMELESS
        ),
        "path-leading-empty-entry": Case(0, {"PATH": ":/usr/bin"}, ("report-here",)),
        "path-relative-entry": Case(
            ARBITRARY_UID, {**NAMELESS, "PATH": "rel:/usr/bin:/bin"}, ("report-rel",), cached=NAMELESS
        ),
        "path-names-the-venv-later": Case(0, {"PATH": "/usr/bin:@venv/bin:/bin:"}),
        "path-skips-a-non-executable": Case(0, {"PATH": "@cwd/noexec:@cwd/bin:/usr/bin"}),
        "path-command-with-slash": Case(ARBITRARY_UID, NAMELESS, ("./bin/report",), cached=NAMELESS),
        "not-found": Case(0, {}, ("no-such-command",)),
        "not-found-nameless": Case(ARBITRARY_UID, NAMELESS, ("no-such-command",)),
        "not-found-with-slash": Case(0, {}, ("./no/such",)),
        "not-executable": Case(0, {"PATH": "@cwd/noexec:/usr/bin"}, ("report-noexec",)),
        "not-executable-nameless": Case(ARBITRARY_UID, NAMELESS, ("./noexec/report-noexec",)),
        "a-directory": Case(0, {}, ("./bin",)),
    }
)


@pytest.mark.parametrize("name", sorted(CASES))
def test_launcher_hook_and_python_show_the_app_the_same(world: World, name: str) -> None:
    case = CASES[name]
    python = start(world, case, "python")
    launcher = start(world, case, "launcher")
    assert launcher == python
    if python.code == 0:
        assert python.umask == "0002"
        assert start(world, case, "hook")[1:] == python[1:]
        if case.sh_alone:
            assert start(world, case, "sh") == python, "the launcher's sh did not start this alone"
    else:
        assert python.code in (126, 127)
        assert python.stderr.startswith("error: ") and python.stderr.count("\n") == 1, python.stderr
