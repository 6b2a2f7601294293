"""Section 4: how much a `RUN` step that installs packages adds to an image (podman).

The base image is Dockerfile.example built on `localhost/pyenvboot-base:debian12`
(made by scripts/container-setup from Debian's mirror). Derived images install
the same real wheels from the local package index (tests/container/index_server.py,
reached with `--network host`): with `pyenvboot pip`, with the common
`pip install && chmod -R g+w $VIRTUAL_ENV`, and with plain `pip install
--no-cache-dir` as root (no permission fix at all: the smallest layer pip can
make, but the venv is then not writable by the image's group), and uv through
`pyenvboot run`. Each layer is compared with its payload: the bytes of the
distributions installed, as their RECORD files list them (byte code included).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from benchmarks.harness import CommandFailed, checked, log
from benchmarks.prepare import INDEX_PACKAGES, REPO, Env
from benchmarks.report import Section, Table, Target

TARGET = 1.05  # the layer within 1.05x of the payload: the bytes of the distributions installed
BASE_TAG = "localhost/pyenvboot-base:debian12"
IMAGE = "localhost/pyenvboot-bench"

# Run inside an image: every entry under the venv with its type, apparent size and allocated bytes.
LIST_TREE = r"""
import json, os, stat, sys
root = sys.argv[1]
out = {}
for d, dirs, files in os.walk(root):
    for n in [""] + dirs + files:
        p = os.path.join(d, n) if n else d
        st = os.lstat(p)
        kind = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) else "f"
        out[p] = [kind, st.st_size, st.st_blocks * 512]
json.dump(out, sys.stdout)
"""

# The payload of a RUN step: the bytes of the distributions it installed, i.e. of the files their RECORD lists
# (byte code included), for every .dist-info that is not in the base image.
PAYLOAD = r"""
import csv, glob, json, os, sys
venv, known = sys.argv[1], set(json.loads(sys.argv[2]))
total, dists = 0, []
for site in glob.glob(glob.escape(venv) + "/lib/python*/site-packages"):
    for name in sorted(os.listdir(site)):
        path = os.path.join(site, name)
        if not name.endswith(".dist-info") or path in known:
            continue
        dists.append(name)
        with open(os.path.join(path, "RECORD"), newline="") as f:
            for row in csv.reader(f):
                if row and row[0]:
                    try:
                        total += os.lstat(os.path.normpath(os.path.join(site, row[0]))).st_size
                    except OSError:
                        pass
json.dump({"bytes": total, "dists": dists}, sys.stdout)
"""

DERIVED = {
    "pyenvboot": (
        "`RUN pyenvboot pip install …` (as the image's USER 1001:0)",
        "RUN pyenvboot pip install --index-url {url} {pkgs}\n",
    ),
    "uv": (
        "`RUN pyenvboot run -- uv pip install …` (as USER 1001:0; uv copied in by an earlier COPY, not counted)",
        "COPY uv /usr/local/bin/uv\nRUN pyenvboot run -- uv pip install --index-url {url} {pkgs}\n",
    ),
    "chmod": (
        "`RUN pip install … && chmod -R g+w $VIRTUAL_ENV` (as root)",
        "USER 0\nRUN pip install --index-url {url} {pkgs} && chmod -R g+w $VIRTUAL_ENV\nUSER 1001:0\n",
    ),
    "plain": (
        "`RUN pip install --no-cache-dir …` (as root, no permission fix)",
        "USER 0\nRUN pip install --no-cache-dir --index-url {url} {pkgs}\nUSER 1001:0\n",
    ),
}


@dataclass
class Built:
    """A derived image: its new layer and what pip added to the venv."""

    key: str
    name: str
    seconds: float
    layer: int
    entries: int
    outside: List[str]
    added: Dict[str, List[object]]
    payload: int
    dists: List[str]

    @property
    def apparent(self) -> int:
        return max(1, sum(int(str(v[1])) for v in self.added.values() if v[0] == "f"))


def podman_env(env: Env) -> Dict[str, str]:
    out = dict(os.environ)
    printed = checked([os.path.join(REPO, "scripts", "container-setup"), "--print-env"])
    for line in printed.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            out[key] = value
    return out


def history_sizes(image: str, penv: Dict[str, str]) -> List[int]:
    """The size of each layer, newest first; a COPY step's counts as 0 (it brings a tool, not the install)."""
    rows = json.loads(checked(["podman", "history", "--format", "json", image], env=penv, capture=True))
    sizes = []
    for r in rows:
        created_by = " %s " % (r.get("CreatedBy") or r.get("createdBy") or r.get("created_by") or "")
        sizes.append(0 if " COPY " in created_by else int(r.get("size") or 0))
    return sizes


def payload(image: str, venv: str, known: List[str], penv: Dict[str, str]) -> Dict[str, object]:
    out = checked(
        ["podman", "run", "--rm", "--pull=never", "--network=none", "--user=0", "--entrypoint=python3", image,
         "-I", "-c", PAYLOAD, venv, json.dumps(known)],
        env=penv,
        capture=True,
    )  # fmt: skip
    data: Dict[str, object] = json.loads(out)
    return data


def list_tree(image: str, venv: str, penv: Dict[str, str]) -> Dict[str, List[object]]:
    out = checked(
        [
            "podman",
            "run",
            "--rm",
            "--pull=never",
            "--network=none",
            "--user=0",
            "--entrypoint=python3",
            image,
            "-I",
            "-c",
            LIST_TREE,
            venv,
        ],
        env=penv,
        capture=True,
    )
    data: Dict[str, List[object]] = json.loads(out)
    return data


def image_env(image: str, penv: Dict[str, str]) -> Dict[str, str]:
    out = checked(["podman", "image", "inspect", "--format", "{{json .Config.Env}}", image], env=penv, capture=True)
    return dict(item.split("=", 1) for item in json.loads(out))


def build(
    context: str, dockerfile: str, tag: str, penv: Dict[str, str], logfile: str, extra: Optional[List[str]] = None
) -> float:
    start = time.monotonic()
    argv = ["podman", "build", "--pull=never", "--no-cache", "-f", dockerfile, "-t", tag, *(extra or []), context]
    with open(logfile, "ab") as f:
        proc = subprocess.run(argv, env=penv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        with open(logfile, encoding="utf-8", errors="replace") as f:
            raise CommandFailed("podman build %s failed:\n%s" % (tag, f.read()[-3000:]))
    return time.monotonic() - start


def not_measured(section: Section, why: str, started: float) -> Section:
    section.notes.append("Not measured: " + why)
    section.targets.append(Target("image layer vs payload", "<= %.2fx" % TARGET, "-", None))
    section.seconds = time.monotonic() - started
    return section


def run(env: Env) -> Section:
    """The section; with $PYENVBOOT_BENCH_ENGINE_LOCK, holding that lock file while it uses podman
    (where other jobs share the machine's container storage and serialise on such a lock)."""
    lock = os.environ.get("PYENVBOOT_BENCH_ENGINE_LOCK")
    if not lock:
        return measure(env)
    import fcntl

    with open(lock, "a") as f:
        log("layers: waiting for %s" % lock)
        fcntl.flock(f, fcntl.LOCK_EX)
        return measure(env)


def measure(env: Env) -> Section:
    started = time.monotonic()
    section = Section("4. Image-layer growth")
    section.intro = " ".join(__doc__.split("\n\n", 1)[1].split()) if __doc__ else ""
    logfile = os.path.join(env.work, "podman.log")
    log("layers: scripts/container-setup debian12 (log: %s)" % logfile)
    try:
        checked([os.path.join(REPO, "scripts", "container-setup"), "debian12"], timeout=1800)
        penv = podman_env(env)
    except (CommandFailed, OSError) as exc:
        return not_measured(section, "scripts/container-setup failed: %s" % str(exc).splitlines()[0], started)

    from tests.container.index_server import PackageIndex  # the tier's own index server

    base = IMAGE + ":base"
    tags: List[str] = []
    try:
        log("layers: building the base image from Dockerfile.example")
        base_seconds = build(
            env.context,
            os.path.join(env.context, "Dockerfile"),
            base,
            penv,
            logfile,
            ["--build-arg", "BASE_IMAGE=" + BASE_TAG],
        )
        tags.append(base)
        venv = image_env(base, penv).get("VIRTUAL_ENV", "/opt/venv")
        base_rows = len(history_sizes(base, penv))
        base_tree = list_tree(base, venv, penv)
        results: List[Built] = []
        with PackageIndex(env.index_wheels) as index:
            for key, (name, step) in DERIVED.items():
                tag = "%s:%s" % (IMAGE, key)
                directory = os.path.join(env.work, "derived-" + key)
                os.makedirs(directory)
                if key == "uv":
                    shutil.copy(env.tool("uv"), os.path.join(directory, "uv"))
                    os.chmod(os.path.join(directory, "uv"), 0o755)
                with open(os.path.join(directory, "Dockerfile"), "w", encoding="utf-8") as f:
                    f.write("FROM %s\n" % base + step.format(url=index.url, pkgs=" ".join(INDEX_PACKAGES)))
                log("layers: building %s" % tag)
                seconds = build(
                    directory, os.path.join(directory, "Dockerfile"), tag, penv, logfile, ["--network=host"]
                )
                tags.append(tag)
                sizes = history_sizes(tag, penv)
                diff = json.loads(
                    checked(["podman", "image", "diff", "--format", "json", tag, base], env=penv, capture=True)
                )
                paths = sorted(p for v in diff.values() for p in v)
                tree = list_tree(tag, venv, penv)
                paid = payload(tag, venv, [p for p in base_tree if p.endswith(".dist-info")], penv)
                results.append(
                    Built(
                        key=key,
                        name=name,
                        seconds=seconds,
                        layer=sum(sizes[: len(sizes) - base_rows]),
                        entries=len(paths),
                        outside=[p for p in paths if not (p + "/").startswith(venv + "/") and not venv.startswith(p)],
                        added={p: v for p, v in tree.items() if p not in base_tree},
                        payload=max(1, int(str(paid["bytes"]))),
                        dists=[str(d) for d in paid["dists"]],  # type: ignore[attr-defined]
                    )
                )
    except CommandFailed as exc:
        return not_measured(section, str(exc).splitlines()[0], started)
    finally:
        for tag in reversed(tags):
            subprocess.run(
                ["podman", "rmi", "-f", tag],
                env=penv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )

    rows = []
    for b in results:
        rows.append(
            [
                b.name,
                "%.2f" % (b.layer / 1e6),
                "%d" % b.entries,
                "%d" % len(b.added),
                "%.2f" % (b.payload / 1e6),
                "%.2f" % (b.apparent / 1e6),
                "%.2fx" % (b.layer / b.payload),
                "%.2fx" % (b.layer / b.apparent),
                "%.0f" % b.seconds,
            ]
        )
        if b.outside:
            shown = ", ".join("`%s`" % p for p in b.outside[:12]) + (", …" if len(b.outside) > 12 else "")
            section.notes.append("%s: %d entries outside the venv: %s" % (b.name, len(b.outside), shown))
    section.tables.append(
        Table(
            [
                "RUN step",
                "layer MB",
                "entries in layer",
                "entries added under the venv",
                "payload MB (RECORD files)",
                "bytes added MB (apparent)",
                "layer / payload",
                "layer / bytes added",
                "build s",
            ],
            rows,
            "**Installing %s and their dependencies from the local index** (base image build: %.0f s)"
            % (" and ".join(INDEX_PACKAGES), base_seconds),
        )
    )
    section.notes.insert(
        0,
        "layer = the sizes `podman history` reports for the derived image's new layers (an uncompressed tar: file"
        " contents plus a 512-byte header per entry); entries in layer = `podman image diff` between the derived and"
        " the base image; payload = the bytes of the distributions installed (%s): the sizes of the files their"
        " RECORD files list, byte code included, the yardstick of the target; bytes added = the apparent size of"
        " every file under the venv that is not in the base image (the payload plus anything else the step left)."
        % ", ".join(results[0].dists),
    )
    for b in results:
        if b.key in ("pyenvboot", "uv"):
            r = b.layer / b.payload
            section.targets.append(
                Target(
                    "image layer of %s vs payload" % b.name.split(" (")[0],
                    "<= %.2fx" % TARGET,
                    "%.2fx (%.2f MB for %.2f MB)" % (r, b.layer / 1e6, b.payload / 1e6),
                    r <= TARGET,
                )
            )
    section.seconds = time.monotonic() - started
    return section
