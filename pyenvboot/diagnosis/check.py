"""``pyenvboot check``: is the venv isolated, consistent, pinned, runnable and group-writable?

The problem pyenvboot exists for: pip printed "Requirement already satisfied" for
an old OS-packaged Jinja2 and nobody noticed. ``check`` makes such things loud:
every problem is one line ``<check>: <what is wrong>; fix: <what to run>``,
grouped by check, and the exit code is 0 only for a healthy venv.

Facts come from the venv's own python (``sys.path``, marker environment, run in
a subprocess) and from the files in the venv (metadata, modes); requirements are
judged with ``packaging``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from pyenvboot.errors import EXIT_FAILURE, VenvError
from pyenvboot.packages.dists import Distribution, read_distributions
from pyenvboot.permissions import policy as permissions
from pyenvboot.permissions.policy import resolve_group
from pyenvboot.runtime.environment import venv_path
from pyenvboot.runtime.guard import PTH_NAME as GUARD_PTH
from pyenvboot.venv.config import cfg_version, read_cfg
from pyenvboot.venv.facts import VenvFacts, inside, probe_venv, venv_site_dirs

GROUPS = ("isolation", "consistency", "pins", "interpreter", "permissions")
SHOW = 5  # offenders listed by name; the rest are counted
NO_PINS = "no -r file given"


@dataclass
class Problem:
    """One finding: which check, what is wrong, what to run about it."""

    check: str
    message: str
    fix: str

    def line(self) -> str:
        return "%s: %s; fix: %s" % (self.check, self.message, self.fix)


@dataclass
class Report:
    venv: str
    problems: List[Problem] = field(default_factory=list)
    skipped: Dict[str, str] = field(default_factory=dict)  # check -> why it did not run
    python: Optional[str] = None
    distributions: int = 0
    pins: int = 0

    @property
    def healthy(self) -> bool:
        return not self.problems

    def status(self) -> Dict[str, str]:
        out = {}
        for group in GROUPS:
            if any(p.check == group for p in self.problems):
                out[group] = "problems"
            elif group in self.skipped:
                out[group] = "skipped"
            else:
                out[group] = "ok"
        return out


# -- small pure helpers ------------------------------------------------------------------


def quote(text: str) -> str:
    return shlex.quote(text)


def pip_command(venv: str, environ: Mapping[str, str]) -> str:
    """``pyenvboot pip``, with ``--venv`` only when the venv is not the default one."""
    return "pyenvboot pip" if venv == venv_path(None, environ) else "pyenvboot pip --venv %s" % quote(venv)


def owner_group(st: os.stat_result) -> str:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return "%s:%s" % (user, group)


def allowed(st: os.stat_result, gid: int, bits: int) -> bool:
    """May an arbitrary UID (not the owner, not root) in group ``gid`` do ``bits`` (r=4, x=1)?

    Other bits count for everyone; group bits count when the entry's group is ``gid``.
    """
    other = st.st_mode & 0o7
    group = (st.st_mode >> 3) & 0o7 if st.st_gid == gid else 0
    return (other | group) & bits == bits


def ancestors(path: str) -> List[str]:
    """``/a/b/c`` -> ``["/", "/a", "/a/b"]``."""
    out = []
    parent = os.path.dirname(path)
    while True:
        out.append(parent)
        if parent == "/":
            break
        parent = os.path.dirname(parent)
    return list(reversed(out))


def blocker(
    path: str, gid: int, bits: int, stat_fn: Callable[[str], os.stat_result] = os.stat
) -> Optional[Tuple[str, Optional[os.stat_result], str]]:
    """The first directory (or ``path`` itself) that keeps an arbitrary UID in ``gid`` from ``path``.

    Every ancestor needs search (x) permission; ``path`` needs ``bits``. Both the
    path as written and its resolved form are walked, so a symlink in between does
    not hide a private directory. Returns (where, its stat or None, what is missing).
    """
    for candidate in dict.fromkeys([os.path.abspath(path), os.path.realpath(path)]):
        for directory in ancestors(candidate):
            try:
                st = stat_fn(directory)
            except OSError:
                return directory, None, "cannot be examined"
            if not allowed(st, gid, 1):
                return directory, st, "no search (x) permission for group %d or others" % gid
        try:
            st = stat_fn(candidate)
        except OSError:
            return candidate, None, "does not exist"
        if not allowed(st, gid, bits):
            need = {1: "execute", 4: "read", 5: "read and search"}.get(bits, "access")
            return candidate, st, "no %s permission for group %d or others" % (need, gid)
    return None


def describe_blocker(where: str, st: Optional[os.stat_result], gid: int) -> Tuple[str, str]:
    """(how it looks, the chmod that opens it) for a blocking entry."""
    if st is None:
        return where, "make %s reachable" % where
    look = "%s is %s %s" % (where, stat.filemode(st.st_mode), owner_group(st))
    who = "g" if st.st_gid == gid else "o"
    perm = "x" if stat.S_ISDIR(st.st_mode) else "rx"
    return look, "chmod %s+%s %s" % (who, perm, quote(where))


# -- isolation ---------------------------------------------------------------------------------


def stdlib_entry(entry: str, facts: VenvFacts) -> bool:
    """Part of the base interpreter's standard library (its zip, its lib dir, lib-dynload)?"""
    zipname = "python%d%d.zip" % (facts.version[0], facts.version[1])
    if os.path.basename(entry) == zipname and inside(os.path.dirname(entry), facts.base_prefix):
        return True
    real = os.path.realpath(entry)
    for lib in (facts.stdlib, facts.platstdlib):
        top = os.path.realpath(lib)
        if real == top or real.startswith(top + "/"):
            parts = real[len(top) :].split("/")
            if "site-packages" not in parts and "dist-packages" not in parts:
                return True
    return False


def pth_files(site_dirs: Sequence[str]) -> Tuple[Dict[str, str], List[str]]:
    """(resolved path -> the .pth file that adds it, .pth files with ``import`` lines)."""
    adds: Dict[str, str] = {}
    imports: List[str] = []
    for site in site_dirs:
        try:
            names = sorted(n for n in os.listdir(site) if n.endswith(".pth"))
        except OSError:
            continue
        for name in names:
            pth = os.path.join(site, name)
            try:
                with open(pth, encoding="utf-8", errors="replace") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.rstrip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith(("import ", "import\t")):
                    if pth not in imports and name != GUARD_PTH:  # the guard adds no path
                        imports.append(pth)
                    continue
                adds.setdefault(os.path.realpath(os.path.join(site, line)), pth)
    return adds, imports


def entry_source(
    entry: str, facts: VenvFacts, cfg: Mapping[str, str], venv: str, adds: Mapping[str, str], imports: Sequence[str]
) -> Tuple[str, str]:
    """(where a foreign ``sys.path`` entry comes from, how to get rid of it)."""
    pythonpath = [os.path.abspath(p) for p in facts.pythonpath.split(os.pathsep) if p]
    if os.path.abspath(entry) in pythonpath:
        return (
            "from PYTHONPATH=%s" % facts.pythonpath,
            "unset PYTHONPATH (or drop %s from it) where the app runs" % entry,
        )
    real = os.path.realpath(entry)
    if real in adds:
        return "added by %s" % adds[real], "remove %s (or its line for %s)" % (adds[real], entry)
    if facts.user_site and real == os.path.realpath(facts.user_site):
        return (
            "the user site-packages",
            "set PYTHONNOUSERSITE=1 where the app runs (the ENV lines of 'pyenvboot init' do)",
        )
    system_site = cfg.get("include-system-site-packages", "false").lower() != "false"
    if system_site and any(real == os.path.realpath(s) for s in facts.site):
        return "the base Python's site-packages (include-system-site-packages = true)", "pyenvboot init --venv %s" % (
            quote(venv)
        )
    culprits = [p for p in (facts.customize.get("sitecustomize"), facts.customize.get("usercustomize")) if p]
    culprits += list(imports)
    return (
        "added at start-up (by %s)" % (", ".join(culprits) if culprits else "a sitecustomize or a .pth import line"),
        "remove the code that adds it",
    )


def check_isolation(
    venv: str,
    cfg: Mapping[str, str],
    facts: Optional[VenvFacts],
    installed: Mapping[str, Distribution],
    wanted: Mapping[str, str],
    canonical: Callable[[str], str],
    pip: str,
) -> List[Problem]:
    """pyvenv.cfg isolated; nothing on sys.path but the venv and the base's stdlib; name what leaks in."""
    problems: List[Problem] = []
    setting = cfg.get("include-system-site-packages", "false")
    if setting.lower() != "false":
        problems.append(
            Problem(
                "isolation",
                "pyvenv.cfg has include-system-site-packages = %s: the base Python's packages (e.g. Debian's"
                " /usr/lib/python3/dist-packages) count as installed; init sets it to false and removes nothing"
                % setting,
                "pyenvboot init --venv %s" % quote(venv),
            )
        )
    if facts is None:
        return problems
    sites = [s for s in facts.site if inside(s, venv)] + [s for s in facts.site if not inside(s, venv)]
    if facts.user_site:
        sites.append(facts.user_site)
    adds, imports = pth_files(sites)
    venv_positions = [i for i, e in enumerate(facts.path) if inside(e, venv)]
    first_venv = min(venv_positions) if venv_positions else len(facts.path)
    for position, entry in enumerate(facts.path):
        if inside(entry, venv) or stdlib_entry(entry, facts):
            continue
        source, fix = entry_source(entry, facts, cfg, venv, adds, imports)
        problems.append(Problem("isolation", "%s is on sys.path, %s" % (entry, source), fix))
        for dist in read_distributions(entry) if os.path.isdir(entry) else []:
            name = canonical(dist.name)
            own = installed.get(name)
            if own is not None:
                if position < first_venv:
                    problems.append(
                        Problem(
                            "isolation",
                            "%s in %s shadows the venv's %s (it comes first on sys.path)" % (dist, entry, own),
                            fix,
                        )
                    )
            elif name in wanted:
                problems.append(
                    Problem(
                        "isolation",
                        "%s in %s is importable from outside the venv and would satisfy %s (wanted by %s), which"
                        " the venv does not have" % (dist, entry, dist.name, wanted[name]),
                        "%s, then %s install %s" % (fix, pip, quote(dist.name)),
                    )
                )
    return problems


# -- consistency and pins --------------------------------------------------------------------


def check_requirements(
    venv: str,
    dists: Sequence[Distribution],
    facts: VenvFacts,
    requirement_files: Sequence[str],
    environ: Mapping[str, str],
    pip: str,
) -> Tuple[List[Problem], int, Dict[str, str]]:
    """(consistency and pins problems, number of pins, canonical name -> who wants it)."""
    from pyenvboot.packages import requirements as rq

    problems: List[Problem] = []
    groups = rq.by_name(dists)
    for _name, same in groups.items():
        if len(same) > 1:
            ordered = sorted(same, key=lambda d: _sort_key(d.version))
            stale = ordered[:-1]
            problems.append(
                Problem(
                    "consistency",
                    "%s is installed %d times (%s): pip sees one, Python may import another"
                    % (
                        same[0].name,
                        len(same),
                        ", ".join("%s in %s" % (d.version, os.path.basename(d.path)) for d in same),
                    ),
                    "rm -r %s, then %s install --force-reinstall %s"
                    % (
                        " ".join(quote(d.path) for d in stale),
                        pip,
                        quote("%s==%s" % (same[0].name, ordered[-1].version)),
                    ),
                )
            )
    installed = {name: same[0] for name, same in groups.items()}
    pins: List[Tuple[rq.Pin, str]] = []
    for top in requirement_files:
        pins += [(pin, top) for pin in rq.parse_file(top, environ)]
    pin_list = [pin for pin, _ in pins]
    unmet_pins, wanted = rq.pin_problems(pin_list, installed, facts.markers)
    top_of = {id(pin): top for pin, top in pins}
    pin_by_origin = {(pin.origin, rq.bare(pin.requirement)): pin for pin in pin_list}
    for unmet in unmet_pins:
        pin = pin_by_origin.get((unmet.who, unmet.requirement))
        if unmet.kind == "constraint" or pin is None:
            fix = "%s install %s" % (pip, quote(unmet.requirement))
        else:
            fix = "%s install -r %s" % (pip, quote(top_of[id(pin)]))
        problems.append(Problem("pins", unmet.message(), fix))
    start = [(d, "") for d in installed.values()] + [pair for pair in wanted if pair[1]]
    for unmet in rq.closure_problems(start, installed, facts.markers):
        fix = "%s install %s" % (pip, quote(unmet.requirement)) if unmet.kind != "invalid" else "reinstall it"
        problems.append(Problem("consistency", unmet.message(), fix))
    return problems, len(pin_list), rq.names_wanted(pin_list, installed.values())


def _sort_key(version: str) -> Tuple[int, object]:
    from packaging.version import InvalidVersion, Version

    try:
        return 1, Version(version)
    except InvalidVersion:
        return 0, version


# -- interpreter ---------------------------------------------------------------------------


def check_interpreter(
    venv: str, cfg: Mapping[str, str], facts: Optional[VenvFacts], error: str, gid: int, pip: str
) -> List[Problem]:
    """The venv's python resolves and starts; the base matches pyvenv.cfg and the group can reach it."""
    problems: List[Problem] = []
    python = os.path.join(venv, "bin", "python")
    init = "pyenvboot init --venv %s" % quote(venv)
    if not os.path.lexists(python):
        return [Problem("interpreter", "%s is missing" % python, init)]
    if os.path.islink(python) and not os.path.exists(python):
        target = os.readlink(python)
        return [
            Problem(
                "interpreter",
                "%s -> %s does not exist: the base Python was removed, moved or upgraded; init with a new base"
                " keeps what is installed where it still fits" % (python, target),
                "%s --python NEW_PYTHON" % init,
            )
        ]
    if facts is None:
        return [Problem("interpreter", error, "%s --python A_WORKING_PYTHON" % init)]
    recorded = cfg_version(cfg)
    actual = tuple(facts.version[:3])
    if recorded is None:
        problems.append(Problem("interpreter", "pyvenv.cfg records no Python version", init))
    elif recorded[:2] != actual[:2]:
        problems.append(
            Problem(
                "interpreter",
                "pyvenv.cfg says Python %s but %s is Python %s: what is installed for %d.%d is not seen; init moves"
                " pure-Python packages to %s and lists the compiled ones to reinstall"
                % (
                    ".".join(map(str, recorded)),
                    python,
                    ".".join(map(str, actual)),
                    recorded[0],
                    recorded[1],
                    facts.minor,
                ),
                init,
            )
        )
    elif recorded != actual:
        problems.append(
            Problem(
                "interpreter",
                "pyvenv.cfg says Python %s but the base is now %s"
                % (".".join(map(str, recorded)), ".".join(map(str, actual))),
                init,
            )
        )
    # The base as the link names it: the kernel walks that path (and the resolved one) for every UID.
    base = os.path.join(os.path.dirname(python), os.readlink(python)) if os.path.islink(python) else python
    targets = [(base, 1, "the base Python %s" % base), (facts.stdlib, 5, "its standard library %s" % facts.stdlib)]
    reported = set()
    for path, bits, what in targets:
        found = blocker(path, gid, bits)
        if found is None or found[0] in reported:
            continue
        reported.add(found[0])
        look, chmod = describe_blocker(found[0], found[1], gid)
        problems.append(
            Problem(
                "interpreter",
                "%s is out of reach for other UIDs in group %d: %s (%s)" % (what, gid, look, found[2]),
                "install the base Python where every UID can reach it (e.g. /opt/python or /usr/local) and run"
                " %s --python THAT_PYTHON, or %s" % (init, chmod),
            )
        )
    lib = os.path.join(venv, "lib")
    try:
        others = sorted(n for n in os.listdir(lib) if n.startswith("python") and n != "python" + facts.minor)
    except OSError:
        others = []
    if recorded is not None and recorded[:2] != actual[:2]:
        others = []  # the minor mismatch above says it all; init moves them
    for name in others:
        site = os.path.join(lib, name, "site-packages")
        left = read_distributions(site)
        if left:
            shown = ", ".join(str(d) for d in left[:SHOW]) + (
                " and %d more" % (len(left) - SHOW) if len(left) > SHOW else ""
            )
            problems.append(
                Problem(
                    "interpreter",
                    "%s holds %d distribution(s) Python %s does not load (%s)" % (site, len(left), facts.minor, shown),
                    "%s install %s, then rm -r %s"
                    % (
                        pip,
                        " ".join(quote("%s==%s" % (d.name, d.version)) for d in left),
                        quote(os.path.join(lib, name)),
                    ),
                )
            )
    return problems


def check_launcher(venv: str) -> List[Problem]:
    """``VENV/bin/pyenvboot`` (the ENTRYPOINT) names an interpreter this image has.

    A missing ``#!`` interpreter makes execve(2) fail with ENOENT, which the container
    runtime reports as "no such file or directory" for the launcher itself: the sh
    form copied into a final stage without /bin/sh. The venv's own python is the
    interpreter check's.
    """
    from pyenvboot.runtime.launcher import interpreter_of

    launcher = os.path.join(venv, "bin", "pyenvboot")
    interpreter = interpreter_of(launcher)
    if interpreter is None or interpreter == os.path.join(venv, "bin", "python") or os.access(interpreter, os.X_OK):
        return []
    return [
        Problem(
            "interpreter",
            "%s runs with %s, which this image lacks: an ENTRYPOINT through it fails with 'no such file or"
            " directory'" % (launcher, interpreter),
            "pyenvboot init --venv %s --launcher python where the venv is built (it runs on the venv's python)"
            % quote(venv),
        )
    ]


# -- permissions --------------------------------------------------------------------------


def caller_can_fix(st: Optional[os.stat_result], euid: int) -> bool:
    """chmod and chown of an entry are the owner's and root's alone (chmod(2))."""
    return euid == 0 or (st is not None and st.st_uid == euid)


def root_fix(command: str) -> str:
    """The fix for what only root can change: a Dockerfile line, or the command run as root."""
    return "only root can change this: add 'RUN %s' to the Dockerfile after the step that wrote it, or run it as" \
        " root (docker exec -u 0 CONTAINER %s)" % (command, command)


def check_membership(venv: str, gid: int, euid: int, groups: Sequence[int]) -> List[Problem]:
    """A caller outside the venv's group can run what is installed but cannot install (pip: "Check the permissions")."""
    if euid == 0 or gid in groups:
        return []
    return [
        Problem(
            "permissions",
            "uid %d is not in group %d (its groups: %s): it can run %s but not install into it"
            % (euid, gid, ",".join(str(g) for g in sorted(set(groups))) or "none", venv),
            "start the container with group %d as well: docker or podman run --group-add %d (or --user %d:%d);"
            " Kubernetes: securityContext runAsGroup: %d, or supplementalGroups: [%d]"
            % (gid, gid, euid, gid, gid, gid),
        )
    ]


def check_permissions(venv: str, gid: int) -> List[Problem]:
    """What an arbitrary UID in the group needs: the policy on every entry, and a way in.

    Each fix is one the caller can run: entries it does not own (and is not root)
    are reported with the line that root has to add.
    """
    euid = os.geteuid()
    problems = check_membership(venv, gid, euid, [os.getegid(), *os.getgroups()])
    found = blocker(venv, gid, 5)
    if found is not None:
        look, chmod = describe_blocker(found[0], found[1], gid)
        if not caller_can_fix(found[1], euid):
            chmod = root_fix(chmod)
        problems.append(
            Problem(
                "permissions",
                "%s is out of reach for other UIDs in group %d: %s (%s)" % (venv, gid, look, found[2]),
                "%s, or create the venv elsewhere (e.g. /opt/venv)" % chmod,
            )
        )
    report = permissions.Report()
    mine: List[str] = []
    others: Dict[int, List[str]] = {}
    for entry in permissions.walk(os.path.realpath(venv), report, gid):
        if caller_can_fix(entry.st, euid):
            mine.append(entry.path)
        else:
            others.setdefault(entry.st.st_uid, []).append(entry.path)
    fix = "pyenvboot fix-permissions --group %d %s" % (gid, quote(venv))
    if mine:
        problems.append(Problem("permissions", offenders_message(mine, gid, ""), fix))
    for uid, paths in sorted(others.items()):
        problems.append(Problem("permissions", offenders_message(paths, gid, " owned by uid %d" % uid), root_fix(fix)))
    if report.special:
        more = " and %d more" % (len(report.special) - SHOW) if len(report.special) > SHOW else ""
        problems.append(
            Problem(
                "permissions",
                "%d device node(s), FIFO(s) or socket(s) outside the policy, which pyenvboot never makes"
                " group-writable: %s%s" % (len(report.special), ", ".join(report.special[:SHOW]), more),
                "remove them from the venv (they do not belong in it), or give them the mode you mean with chmod",
            )
        )
    for line in report.skipped[:SHOW]:
        problems.append(Problem("permissions", "cannot examine " + line, fix if euid == 0 else root_fix(fix)))
    return problems


def offenders_message(paths: Sequence[str], gid: int, whose: str) -> str:
    more = " and %d more" % (len(paths) - SHOW) if len(paths) > SHOW else ""
    return "%d %s%s the policy for group %d (group rw, group x where the owner has x, setgid directories, nothing" \
        " world-writable): %s%s" % (
            len(paths),
            "entry" if len(paths) == 1 else "entries",
            whose + (" breaks" if len(paths) == 1 else " break"),
            gid,
            ", ".join(paths[:SHOW]),
            more,
        )


# -- the command ---------------------------------------------------------------------------------


def diagnose(venv: str, requirement_files: Sequence[str], gid: Optional[int], environ: Mapping[str, str]) -> Report:
    """Every check on ``venv``; raises only for a missing venv or an unreadable requirements file."""
    if not venv.startswith("/"):
        raise VenvError("venv path %r is relative; use an absolute path (--venv or PYENVBOOT_VENV)" % venv)
    cfg = read_cfg(venv)
    if cfg is None:
        raise VenvError("no venv at %s (pyvenv.cfg missing); run 'pyenvboot init --venv %s'" % (venv, venv))
    if gid is None:
        gid = os.stat(venv).st_gid
    report = Report(venv)
    facts, error = probe_venv(venv, environ)
    recorded = cfg_version(cfg)
    minor = facts.minor if facts else ("%d.%d" % recorded[:2] if recorded else None)
    sites = venv_site_dirs(venv, facts, minor)
    dists = [d for site in sites for d in read_distributions(site)]
    report.distributions = len(dists)
    pip = pip_command(venv, environ)
    wanted: Dict[str, str] = {}
    installed: Dict[str, Distribution] = {}
    canonical: Callable[[str], str] = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    if facts is not None:
        report.python = ".".join(map(str, facts.version))
        from pyenvboot.packages.withpackaging import import_packaging

        import_packaging(sites)
        from pyenvboot.packages.requirements import canonical as rq_canonical

        canonical = rq_canonical
        found, report.pins, wanted = check_requirements(venv, dists, facts, requirement_files, environ, pip)
        report.problems += found
        for dist in dists:
            installed.setdefault(canonical(dist.name), dist)
    else:
        why = "the venv's python does not start"
        report.skipped.update({"consistency": why, "pins": why} if requirement_files else {"consistency": why})
    if not requirement_files:
        report.skipped.setdefault("pins", NO_PINS)
    report.problems += check_isolation(venv, cfg, facts, installed, wanted, canonical, pip)
    report.problems += check_interpreter(venv, cfg, facts, error, gid, pip)
    report.problems += check_launcher(venv)
    report.problems += check_permissions(venv, gid)
    order = {g: i for i, g in enumerate(GROUPS)}
    report.problems.sort(key=lambda p: order[p.check])  # stable: keeps each group's own order
    return report


def format_text(report: Report) -> str:
    if report.healthy:
        pins = ", %d requirement(s) met" % report.pins if report.pins else ""
        skipped = "".join("; %s skipped (%s)" % (g, why) for g, why in report.skipped.items())
        return "pyenvboot: %s is healthy: Python %s, %d distribution(s)%s%s\n" % (
            report.venv,
            report.python,
            report.distributions,
            pins,
            skipped,
        )
    lines = [p.line() for p in report.problems]
    lines += ["%s: not checked: %s" % (g, why) for g, why in report.skipped.items() if why != NO_PINS]
    lines.append("pyenvboot: %d problem(s) in %s" % (len(report.problems), report.venv))
    return "\n".join(lines) + "\n"


def format_json(report: Report) -> str:
    data = {
        "venv": report.venv,
        "healthy": report.healthy,
        "python": report.python,
        "distributions": report.distributions,
        "pins": report.pins,
        "checks": report.status(),
        "skipped": report.skipped,
        "problems": [{"check": p.check, "message": p.message, "fix": p.fix} for p in report.problems],
    }
    return json.dumps(data, indent=2) + "\n"


def run_check(venv: str, requirements: List[str], group: Optional[str], as_json: bool) -> int:
    """The ``check`` command: the report on stdout; 0 when healthy, 1 when not."""
    gid = resolve_group(group) if group not in (None, "") else None
    report = diagnose(venv, requirements, gid, os.environ)
    sys.stdout.write(format_json(report) if as_json else format_text(report))
    return 0 if report.healthy else EXIT_FAILURE
