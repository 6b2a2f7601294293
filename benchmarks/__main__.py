"""``benchmarks/run``: set up, run every section, write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from typing import Callable, Dict, List

from benchmarks import creation, entry, layers, memory, permissions, pipcost, startup
from benchmarks.harness import CommandFailed, log
from benchmarks.machine import describe, load_average
from benchmarks.prepare import BUILT, REPO, Env, cache_dir, prepare
from benchmarks.report import Section, render

SECTIONS = ("entry", "guard", "init", "permissions", "pip", "layers", "memory")

PREFACE = """\
Written by `benchmarks/run` (one command: it installs what it needs, runs every benchmark and rewrites this
file). Every figure is measured side by side with its alternatives in the same run: the alternatives take turns
(A, B, C, A, B, C, ...) for several rounds and the tables show medians, so a machine that slows down or speeds up
during the run (other jobs share it) affects them alike. Ratios are the comparison; absolute times are this
machine's.
"""


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__)
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke test, not figures to quote")
    parser.add_argument("--output", default=os.path.join(REPO, "BENCHMARKS.md"), help="default: %(default)s")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--note", help="a line for the machine section, e.g. what else ran on the machine")
    args = parser.parse_args(argv)
    chosen = args.only or list(SECTIONS)
    scale = 0.25 if args.quick else 1.0

    def rounds(n: int) -> int:
        return max(3, int(n * scale))

    started = time.monotonic()
    load_before = load_average()
    cache = cache_dir()
    log("cache %s" % cache)
    env = prepare(cache)
    setup_seconds = time.monotonic() - started
    runners: Dict[str, Callable[[Env], Section]] = {
        "entry": lambda e: entry.run(e, rounds(60)),
        "guard": lambda e: startup.run(e, rounds(200)),
        "init": lambda e: creation.run(e, rounds(6)),
        "permissions": lambda e: permissions.run(e, rounds(7)),
        "pip": lambda e: pipcost.run(e, rounds(15)),  # a 10% target needs more rounds than pip's spread allows at 7
        "layers": lambda e: layers.run(e),
        "memory": lambda e: memory.run(e, rounds(7)),
    }
    sections: List[Section] = []
    try:
        for name in SECTIONS:
            if name in chosen:
                sections.append(runners[name](env))
    except CommandFailed as exc:
        log("FAILED: %s" % exc)
        log("scratch directory kept: %s" % env.work)
        return 1
    machine = describe(env, load_before, [["note", args.note]] if args.note else None)
    total = time.monotonic() - started
    preface = PREFACE + "\n`benchmarks/run%s` took %.0f s on this machine (set-up %.0f s; %s%s).\n" % (
        "" if not args.only else " " + " ".join("--only " + s for s in chosen),
        total,
        setup_seconds,
        "cold: built " + ", ".join(BUILT) if BUILT else "warm caches",
        "; `--quick`: figures not to be quoted" if args.quick else "",
    )
    text = render("Benchmarks", preface, machine, sections)
    with open(args.output + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(args.output + ".tmp", args.output)
    log("wrote %s in %.0f s" % (args.output, total))
    if not args.keep:
        shutil.rmtree(env.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
