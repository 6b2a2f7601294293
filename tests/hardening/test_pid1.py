"""PID 1: ``exec --init`` forwards signals and reaps zombies; plain ``exec`` leaves nothing behind.

``unshare --pid --fork --mount-proc`` makes pyenvboot really PID 1 of a new PID
namespace, as in a container: orphans are re-parented to it, and signals reach it
only because it does not leave them at SIG_DFL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from tests.hardening.support import pyenvboot, run
from tests.support.pty import interact

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("root_and_unshare"),
]

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
FORWARDED = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"]

# Reports each forwarded signal on stdout; exits 7 on the second SIGUSR2. Output goes through
# os.write: a handler that print()s while the main code is inside print() would fail.
REPORTER = r"""
import os, signal, sys
seen = []
def say(*words):
    os.write(1, (" ".join(map(str, words)) + "\n").encode())
def handler(num, frame):
    name = signal.Signals(num).name
    say("got", name)
    seen.append(name)
    if seen.count("SIGUSR2") == 2:
        sys.exit(7)
for name in sys.argv[1:]:
    signal.signal(getattr(signal, name), handler)
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
say("ready", os.getpid(), os.getpgrp(), os.getppid())
while True:
    signal.pause()
"""

# Makes orphans that exit at once (they are re-parented to PID 1), then waits until
# PID 1 has reaped every one of them: a zombie keeps its /proc entry.
ZOMBIE_MAKER = r"""
import os, sys, time
orphans = []
for _ in range(int(sys.argv[1])):
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            os._exit(0)
        os._exit(0)
    os.close(w)
    os.waitpid(middle, 0)
    orphans.append(int(os.read(r, 32)))
    os.close(r)
deadline = time.monotonic() + 30
left = orphans
while left and time.monotonic() < deadline:
    left = [p for p in left if os.path.exists("/proc/%d" % p)]
    time.sleep(0.01)
states = {p: open("/proc/%d/stat" % p).read().split()[2] for p in left if os.path.exists("/proc/%d/stat" % p)}
print("orphans", len(orphans), "left", states, "pid", os.getpid(), "ppid", os.getppid())
"""


@pytest.fixture(scope="module")
def venv(module_venv: Path) -> Path:
    return module_venv


def init_argv(venv: Path, *command: str) -> List[str]:
    return [*UNSHARE, *pyenvboot(), "exec", "--init", "--venv", str(venv), "--", *command]


def namespace_init(unshare_pid: int, timeout: float = 30) -> int:
    """Host pid of the namespace's PID 1: unshare's only child."""
    deadline = time.monotonic() + timeout
    path = "/proc/%d/task/%d/children" % (unshare_pid, unshare_pid)
    while time.monotonic() < deadline:
        children = Path(path).read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.01)
    raise AssertionError("unshare started no child")


def pending(pid: int, signum: int) -> bool:
    """Is ``signum`` pending (queued, not yet taken) for process ``pid``?"""
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(("ShdPnd:", "SigPnd:")) and int(line.split()[1], 16) >> (signum - 1) & 1:
            return True
    return False


def readline(proc: "subprocess.Popen[str]") -> str:
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        raise AssertionError("the app ended early (exit %s): %s" % (proc.returncode, proc.stderr.read()))
    return line.strip()


@pytest.fixture
def started(venv: Path, henv: Dict[str, str]) -> Iterator[List["subprocess.Popen[str]"]]:
    """Popen objects the test started, killed (by pid) if still running at the end."""
    procs: List["subprocess.Popen[str]"] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def start(argv: List[str], env: Dict[str, str], procs: List["subprocess.Popen[str]"]) -> "subprocess.Popen[str]":
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(proc)
    return proc


def test_init_forwards_each_signal_and_exits_with_the_apps_code(
    venv: Path, henv: Dict[str, str], started: List["subprocess.Popen[str]"]
) -> None:
    proc = start(init_argv(venv, "python", "-c", REPORTER, *FORWARDED), henv, started)
    assert proc.stdout is not None
    ready = readline(proc).split()
    assert ready[0] == "ready"
    pid, pgrp, ppid = map(int, ready[1:])
    assert ppid == 1 and pgrp == pid  # the app runs under PID 1, in its own process group
    init = namespace_init(proc.pid)
    for name in FORWARDED:
        os.kill(init, getattr(signal, name))
        assert readline(proc) == "got " + name
    os.kill(init, signal.SIGUSR2)
    assert readline(proc) == "got SIGUSR2"
    assert proc.wait(timeout=30) == 7
    assert proc.stderr is not None and proc.stderr.read() == ""


def test_init_exits_128_plus_the_signal_that_killed_the_app(venv: Path, henv: Dict[str, str]) -> None:
    proc = run(init_argv(venv, "sh", "-c", "kill -TERM $$"), henv, timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    proc = run(init_argv(venv, "sh", "-c", "exit 42"), henv, timeout=60)
    assert proc.returncode == 42


def test_init_keeps_an_app_that_ignores_sigterm(
    venv: Path, henv: Dict[str, str], started: List["subprocess.Popen[str]"]
) -> None:
    """SIGTERM is forwarded, not acted on: init stays until the app goes (here: SIGKILL, exit 137)."""
    proc = start(init_argv(venv, "python", "-c", REPORTER, "SIGUSR1"), {**henv, "IGNORE_TERM": "1"}, started)
    assert proc.stdout is not None
    app_ns_pid = int(readline(proc).split()[1])
    init = namespace_init(proc.pid)
    os.kill(init, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while pending(init, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pending(init, signal.SIGTERM)
    # Init handles one signal at a time: once the app reports SIGUSR1, SIGTERM was forwarded.
    os.kill(init, signal.SIGUSR1)
    assert readline(proc) == "got SIGUSR1"
    assert proc.poll() is None
    app = [int(p) for p in Path("/proc/%d/task/%d/children" % (init, init)).read_text().split()]
    assert len(app) == 1 and app_ns_pid != app[0]  # the app's host pid differs from its namespace pid
    os.kill(app[0], signal.SIGKILL)
    assert proc.wait(timeout=30) == 128 + signal.SIGKILL


def test_init_reaps_orphaned_zombies(venv: Path, henv: Dict[str, str]) -> None:
    proc = run(init_argv(venv, "python", "-c", ZOMBIE_MAKER, "25"), henv, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["orphans", "25", "left", "{}", "pid", "2", "ppid", "1"], proc.stdout


def test_plain_exec_as_pid1_leaves_no_process_behind(venv: Path, henv: Dict[str, str]) -> None:
    """Without --init the app replaces pyenvboot: it is PID 1 and alone in the namespace."""
    code = "import os; print(os.getpid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    proc = run([*UNSHARE, *pyenvboot(), "exec", "--venv", str(venv), "--", "python", "-c", code], henv, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1 [1]"


def test_plain_exec_keeps_the_pid(venv: Path, henv: Dict[str, str]) -> None:
    child = subprocess.Popen(
        [*pyenvboot(), "exec", "--venv", str(venv), "--", "python", "-c", "import os; print(os.getpid())"],
        env=henv,
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = child.communicate(timeout=60)
    assert int(out) == child.pid


KILL_GROUP_APP = r"""
import os, signal, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", '''
import os, signal, sys
got = []
signal.signal(signal.SIGTERM, lambda n, f: got.append("TERM"))
def done(n, f):
    os.write(1, ("grandchild " + (",".join(got) or "-") + "\\n").encode())
    os._exit(0)
signal.signal(signal.SIGWINCH, done)
os.write(1, b"ready\\n")
while True:
    signal.pause()
'''], stdout=subprocess.PIPE)
assert child.stdout.readline() == b"ready\n"
def term(n, f):
    # SIGWINCH is numbered above SIGTERM: a SIGTERM sent to the group is handled first.
    child.send_signal(signal.SIGWINCH)
    os.write(1, child.stdout.readline())
    child.wait()
    os._exit(0)
signal.signal(signal.SIGTERM, term)
os.write(1, b"ready\n")
while True:
    signal.pause()
"""


@pytest.mark.parametrize(("group", "expected"), [("1", "grandchild TERM"), ("0", "grandchild -")])
def test_kill_group_decides_who_gets_the_signal(
    venv: Path, henv: Dict[str, str], started: List["subprocess.Popen[str]"], group: str, expected: str
) -> None:
    proc = start(init_argv(venv, "python", "-c", KILL_GROUP_APP), {**henv, "PYENVBOOT_INIT_KILL_GROUP": group}, started)
    assert proc.stdout is not None
    assert readline(proc) == "ready"
    os.kill(namespace_init(proc.pid), signal.SIGTERM)
    assert readline(proc) == expected
    assert proc.wait(timeout=30) == 0


def test_init_gives_the_app_the_terminal(venv: Path, henv: Dict[str, str]) -> None:
    """On a terminal the app is the foreground process group: it can read it (no SIGTTIN stop)."""
    code = (
        "import os, sys; line = sys.stdin.readline().strip();"
        " print('fg', os.tcgetpgrp(0) == os.getpgrp(), os.getpgrp() == os.getpid(), 'read', line, flush=True)"
    )
    # setsid -c: a new session whose controlling terminal is the pty, as with ``docker run -it``.
    argv = ["setsid", "-w", "-c", *pyenvboot(), "exec", "--init", "--venv", str(venv), "--", "python", "-c", code]
    out = interact(argv, henv, "hello\n", timeout=60)
    assert "fg True True read hello" in out, out


@pytest.mark.parametrize("launcher", ["module", "venv-launcher"])
def test_init_environment_matches_plain_exec(venv: Path, henv: Dict[str, str], launcher: str) -> None:
    """Same environment, umask and signal state as plain exec: nothing blocked, nothing ignored.

    Also through the venv's own ``bin/pyenvboot``, whose plain ``exec`` is a shell fast path.
    """
    # exec: grep reads its own status, with what it inherited (a shell's own mask changes while it waits).
    script = 'echo "$VIRTUAL_ENV" "$(umask)" "$(command -v python)"; exec grep -E "^Sig(Blk|Ign):" /proc/self/status'
    command = pyenvboot() if launcher == "module" else [str(venv / "bin/pyenvboot")]
    outs = []
    for flag in ([], ["--init"]):
        proc = run([*command, "exec", *flag, "--venv", str(venv), "--", "sh", "-c", script], henv, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout.split())
    assert outs[0] == outs[1]
    assert outs[0] == [str(venv), "0002", str(venv / "bin/python"), "SigBlk:", "0" * 16, "SigIgn:", "0" * 16]


@pytest.mark.parametrize("launcher", ["module", "venv-launcher"])
def test_sigpipe_is_default_for_the_app(venv: Path, henv: Dict[str, str], launcher: str) -> None:
    """``yes | head -1`` must end quietly: the app must not inherit CPython's SIG_IGN for SIGPIPE."""
    if launcher == "module":
        command, flags = pyenvboot(), [["--venv", str(venv)], ["--init", "--venv", str(venv)]]
    else:  # plain exec is the launcher's shell fast path; with --venv or --init, its Python path
        command, flags = [str(venv / "bin/pyenvboot")], [[], ["--init"], ["--venv", str(venv)]]
    for flag in flags:
        proc = run([*command, "exec", *flag, "--", "sh", "-c", "yes | head -1"], henv)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "y\n", "")


# -- a shell as PID 1 -----------------------------------------------------------------------
# Each command prints the PID its shell (or python) has: 1 when pyenvboot exec'd it, 2 when
# pyenvboot stayed as its init. "@NAME" is /bin/dash under the base name NAME, "@script" a
# file holding the command.
PID = "echo $$"
SHELL_CASES = [
    (["sh", "-c", PID], 2),
    (["/bin/sh", "-c", PID], 2),  # Docker's shell-form CMD
    (["bash", "-c", PID + "; true"], 2),
    (["sh", "-ec", PID], 2),
    (["sh", "-ce", PID], 2),
    (["sh", "-c", " exec sh -c '%s'" % PID], 2),  # not the word exec first: the shell cannot know
    (["sh", "-c", "execx=1; " + PID], 2),
    *[(["@" + name, "-c", PID], 2) for name in ("sh", "bash", "dash", "ash", "ksh", "mksh", "zsh")],
    (["sh", "-c", "exec sh -c '%s'" % PID], 1),  # the shell replaces itself: the command is PID 1
    (["sh", "-c", "exec\tsh -c '%s'" % PID], 1),
    (["sh", "-c", "exec"], None),
    (["sh", "-e", "-c", PID], 1),  # only an option cluster with c right after the shell
    (["bash", "--noprofile", "-c", PID], 1),
    (["sh", "@script"], 1),  # a script file: it may end in exec, so the shell is not second-guessed
    (["sh", "-c"], None),  # sh's own usage error, the same either way
    (["@fish", "-c", PID], 1),  # not a shell name
    (["python", "-c", "import os; print(os.getpid())"], 1),
]


def shell_case(command: List[str], bin_dir: Path) -> List[str]:
    if command[1:] == ["@script"]:
        (bin_dir / "script").write_text(PID + "\n")
        return [command[0], str(bin_dir / "script")]
    if command[0].startswith("@"):
        link = bin_dir / command[0][1:]
        if not link.exists():
            link.symlink_to("/bin/dash")
        return [str(link), *command[1:]]
    return command


@pytest.mark.parametrize(("command", "pid"), SHELL_CASES, ids=[" ".join(c) for c, _ in SHELL_CASES])
def test_a_shell_as_pid1_runs_under_init_on_both_paths(
    venv: Path, henv: Dict[str, str], tmp_path: Path, command: List[str], pid: Optional[int]
) -> None:
    """The venv launcher's sh fast path and the Python path decide alike, for every case either branches on."""
    argv = shell_case(command, tmp_path)
    results = []
    for launcher in ([str(venv / "bin/pyenvboot"), "exec"], [*pyenvboot(), "exec", "--venv", str(venv)]):
        proc = run([*UNSHARE, *launcher, "--", *argv], henv, timeout=60)
        results.append((proc.returncode, proc.stdout, proc.stderr))
    assert results[0] == results[1]
    if pid is not None:
        assert results[0] == (0, "%d\n" % pid, "")


def test_a_shell_that_is_not_pid1_is_exec_d(venv: Path, henv: Dict[str, str]) -> None:
    """Under another init (``docker run --init``) the shell gets SIGTERM like any process: no init of ours."""
    for launcher in ([str(venv / "bin/pyenvboot"), "exec"], [*pyenvboot(), "exec", "--venv", str(venv)]):
        child = subprocess.Popen([*launcher, "--", "sh", "-c", PID], env=henv, stdout=subprocess.PIPE, text=True)
        out, _ = child.communicate(timeout=60)
        assert int(out) == child.pid


@pytest.mark.parametrize("script", ["sleep 60", "python -c 'import time; time.sleep(60)'; echo not reached"])
def test_sigterm_stops_a_shell_form_command(
    venv: Path, henv: Dict[str, str], started: List["subprocess.Popen[str]"], script: str
) -> None:
    """``docker stop`` of ``/bin/sh -c '...'``: the shell ends on SIGTERM, 143, and the container with it."""
    ready = "ready"
    proc = start(
        [*UNSHARE, str(venv / "bin/pyenvboot"), "exec", "--", "/bin/sh", "-c", "echo %s; %s" % (ready, script)],
        henv,
        started,
    )
    assert readline(proc) == ready
    os.kill(namespace_init(proc.pid), signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert proc.stderr is not None and proc.stderr.read() == ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))


# A plain app with no signal handling: it waits, and says what ran on its way out.
PLAIN_APP = r"""
import atexit, os, sys, time
atexit.register(lambda: os.write(1, b"atexit\n"))
try:
    print("ready", os.getpid(), flush=True)
    time.sleep(120)
finally:
    os.write(1, b"finally\n")
"""


def test_plain_python_as_pid1_stops_on_sigterm_with_143(
    venv: Path, henv: Dict[str, str], started: List["subprocess.Popen[str]"]
) -> None:
    """The kernel drops SIGTERM for a PID 1 that left it at SIG_DFL; the venv's start-up guard handles it."""
    proc = start([*UNSHARE, str(venv / "bin" / "python"), "-c", PLAIN_APP], henv, started)
    assert readline(proc) == "ready 1"
    os.kill(namespace_init(proc.pid), signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read().split() == ["finally", "atexit"]
    assert proc.stderr.read() == ""


def test_an_apps_own_sigterm_handler_replaces_the_guards(
    venv: Path, henv: Dict[str, str], started: List["subprocess.Popen[str]"]
) -> None:
    code = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda n, f: sys.exit(7))\n"
        "print('ready', os.getpid(), flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = start([*UNSHARE, str(venv / "bin" / "python"), "-c", code], henv, started)
    assert readline(proc) == "ready 1"
    os.kill(namespace_init(proc.pid), signal.SIGTERM)
    assert proc.wait(timeout=30) == 7


def test_a_child_forked_by_a_pid1_python_dies_by_sigterm_as_usual(venv: Path, henv: Dict[str, str]) -> None:
    """The inherited handler restores the default outside PID 1: the parent sees a death by signal."""
    code = (
        "import os, signal, time\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.write(w, b'x'); time.sleep(120); os._exit(0)\n"
        "os.read(r, 1)\n"
        "os.kill(pid, signal.SIGTERM)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.getpid(), os.WIFSIGNALED(status) and os.WTERMSIG(status))\n"
    )
    proc = run([*UNSHARE, str(venv / "bin" / "python"), "-c", code], henv, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", str(int(signal.SIGTERM))]


def test_python_outside_pid1_gets_no_sigterm_handler(venv: Path, henv: Dict[str, str]) -> None:
    code = "import signal, sys; print(signal.getsignal(signal.SIGTERM) == 0, '_pyenvboot_pid1' in sys.modules)"
    proc = run([str(venv / "bin" / "python"), "-c", code], henv, timeout=60)
    assert proc.stdout.split() == ["True", "False"], proc.stderr
