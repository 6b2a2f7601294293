"""``check``'s interpreter: the venv's python starts, matches pyvenv.cfg, and every UID in the group reaches it.

Also the launcher (``VENV/bin/pyenvboot``, the ENTRYPOINT): its ``#!`` interpreter must exist in the image.
"""

from __future__ import annotations

import os
from shlex import quote
from typing import List, Mapping, Optional, Tuple

from pyenvboot.diagnosis.reach import blocker, describe_blocker
from pyenvboot.diagnosis.report import Problem, shown
from pyenvboot.packages.dists import read_distributions
from pyenvboot.venv.config import cfg_version
from pyenvboot.venv.facts import VenvFacts
from pyenvboot.venv.layout import lib_dirs


def check_interpreter(
    venv: str, cfg: Mapping[str, str], facts: Optional[VenvFacts], error: str, gid: int, pip: str
) -> List[Problem]:
    """The venv's python resolves and starts; the base matches pyvenv.cfg and the group can reach it."""
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
    problems = version_problems(recorded, facts, python, init)
    problems += reach_problems(python, facts, gid, init)
    if recorded is None or recorded[:2] == tuple(facts.version[:2]):  # else the mismatch says it all: init moves them
        problems += leftover_problems(venv, facts, pip)
    return problems


def version_problems(recorded: Optional[Tuple[int, ...]], facts: VenvFacts, python: str, init: str) -> List[Problem]:
    """The Python version pyvenv.cfg records against the one that runs."""
    actual = tuple(facts.version[:3])
    if recorded is None:
        return [Problem("interpreter", "pyvenv.cfg records no Python version", init)]
    if recorded[:2] != actual[:2]:
        return [
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
        ]
    if recorded != actual:
        return [
            Problem(
                "interpreter",
                "pyvenv.cfg says Python %s but the base is now %s"
                % (".".join(map(str, recorded)), ".".join(map(str, actual))),
                init,
            )
        ]
    return []


def reach_problems(python: str, facts: VenvFacts, gid: int, init: str) -> List[Problem]:
    """The base Python and its standard library, out of reach for other UIDs in the group."""
    # The base as the link names it: the kernel walks that path (and the resolved one) for every UID.
    base = os.path.join(os.path.dirname(python), os.readlink(python)) if os.path.islink(python) else python
    targets = [(base, 1, "the base Python %s" % base), (facts.stdlib, 5, "its standard library %s" % facts.stdlib)]
    problems: List[Problem] = []
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
    return problems


def leftover_problems(venv: str, facts: VenvFacts, pip: str) -> List[Problem]:
    """Distributions left in another minor's ``lib/python3.X/site-packages``, which this Python does not load."""
    own = os.path.join(venv, "lib", "python" + facts.minor)
    problems: List[Problem] = []
    for lib in lib_dirs(venv):
        if lib == own:
            continue
        site = os.path.join(lib, "site-packages")
        left = read_distributions(site)
        if left:
            problems.append(
                Problem(
                    "interpreter",
                    "%s holds %d distribution(s) Python %s does not load (%s)"
                    % (site, len(left), facts.minor, shown([str(d) for d in left])),
                    "%s install %s, then rm -r %s"
                    % (
                        pip,
                        " ".join(quote("%s==%s" % (d.name, d.version)) for d in left),
                        quote(lib),
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
