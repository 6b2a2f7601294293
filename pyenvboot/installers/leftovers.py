"""What a killed pip leaves in site-packages, removed before the next build step."""

from __future__ import annotations

import os

from pyenvboot.venv.layout import site_dirs

# pip writes dist-info files through "<name><8 random characters>.tmp" and renames them.
PIP_TEMP_FILES = ("INSTALLER", "RECORD", "REQUESTED", "direct_url.json", "METADATA", "WHEEL")


def pip_leftover(name: str) -> bool:
    """One of pip's temporary dist-info files (``RECORDk3j2h1g0.tmp``)?"""
    return name.endswith(".tmp") and any(
        name.startswith(base) and len(name) == len(base) + 12 for base in PIP_TEMP_FILES
    )


def remove_pip_leftovers(venv: str) -> None:
    """Remove what a killed pip left in site-packages.

    pip first moves a distribution it replaces to ``~<name>``, unpacks the wheel, then
    writes its own dist-info files (RECORD last) through temporary files. Killed in
    between, the ``~`` copies, the temporary files and dist-info directories without
    METADATA stay: every later pip warns "Ignoring invalid distribution" or "Skipping
    ... invalid metadata", and never removes them. A dist-info cut short before its
    RECORD and INSTALLER counts as installed, and pip can never uninstall or upgrade
    it. Under the venv lock no pip is running, so all of it is stale.
    """
    import sys

    for site in site_dirs(venv):
        for name in sorted(os.listdir(site)):
            path = os.path.join(site, name)
            if name.startswith("~"):
                doomed = [path]
            elif name.endswith(".dist-info") and os.path.isdir(path) and not os.path.islink(path):
                if not os.path.exists(os.path.join(path, "METADATA")):
                    doomed = [path]  # no distribution without METADATA: pip ignores it, and never removes it
                elif not any(os.path.exists(os.path.join(path, n)) for n in ("RECORD", "INSTALLER")):
                    # Killed while unpacking the wheel, before its RECORD: pip counts it as installed,
                    # then cannot uninstall or upgrade it ("RECORD file not found", pypa/pip#12645).
                    doomed = [path]
                else:
                    doomed = [os.path.join(path, n) for n in os.listdir(path) if pip_leftover(n)]
            else:
                continue
            if doomed:
                from pyenvboot.venv.files import remove_path
            for leftover in doomed:
                print("pyenvboot: removing %s, left by an interrupted pip" % leftover, file=sys.stderr)
                remove_path(leftover)
            if doomed and name.endswith(".dist-info") and os.path.isdir(path):
                try:
                    os.rmdir(path)  # only when nothing but pip's temporary files was in it
                except OSError:
                    pass
