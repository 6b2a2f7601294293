"""``check``'s consistency and pins: every installed distribution's requirements, and the -r files, met.

Judged with ``packaging`` (imported by the caller through
:func:`pyenvboot.packages.withpackaging.import_packaging`) in the venv's own marker environment.
"""

from __future__ import annotations

import os
from shlex import quote
from typing import Dict, List, Mapping, Sequence, Tuple

from pyenvboot.diagnosis.report import Problem, shown
from pyenvboot.installers.leftovers import pip_stash
from pyenvboot.packages.dists import Distribution
from pyenvboot.packages.versions import version_key
from pyenvboot.venv.facts import VenvFacts


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

    groups = rq.by_name(dists)
    problems = duplicates(groups, pip)
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


def duplicates(groups: Mapping[str, Sequence[Distribution]], pip: str) -> List[Problem]:
    """One problem per distribution installed more than once; the fix keeps the newest."""
    problems: List[Problem] = []
    for same in groups.values():
        if len(same) > 1:
            ordered = sorted(same, key=lambda d: version_key(d.version))
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
    return problems


def unfinished(sites: Sequence[str], dists: Sequence[Distribution], pip: str) -> List[Problem]:
    """What an interrupted install left: a .dist-info without RECORD, and pip's ``~`` copies.

    pip can neither uninstall nor upgrade a distribution without RECORD ("Cannot
    uninstall ..., RECORD file not found"), and it warns "Ignoring invalid
    distribution" for each ``~`` copy on every run without ever removing it.
    """
    problems: List[Problem] = []
    for dist in dists:
        if dist.path.endswith(".dist-info") and not os.path.exists(os.path.join(dist.path, "RECORD")):
            problems.append(
                Problem(
                    "consistency",
                    "%s has no RECORD (an interrupted install): pip can neither uninstall nor upgrade %s"
                    % (dist.path, dist),
                    "rm -r %s, then %s install --no-deps %s"
                    % (quote(dist.path), pip, quote("%s==%s" % (dist.name, dist.version))),
                )
            )
    for site in sites:
        try:
            left = sorted(name for name in os.listdir(site) if pip_stash(name))
        except OSError:
            continue
        if left:
            problems.append(
                Problem(
                    "consistency",
                    "%s holds %s, left by an interrupted pip" % (site, shown(left)),
                    "%s list (every pyenvboot pip command first removes what an interrupted pip left)" % pip,
                )
            )
    return problems
