"""pip's options that take a value, for reading pip command lines and requirement files.

pip reads a requirements file line's options with the same option definitions as
the ``install`` command line (pip's ``req_file.py`` builds its parser from
``cmdoptions``), so one table serves both; ``--hash`` exists only in files.
"""

from __future__ import annotations

# General options, valid before the command.
GLOBAL_VALUE = frozenset({
    "--python", "--log", "--log-file", "--local-log", "--keyring-provider", "--proxy", "--retries", "--timeout",
    "--exists-action", "--trusted-host", "--cert", "--client-cert", "--cache-dir", "--use-feature",
    "--use-deprecated", "--resume-retries",
})  # fmt: skip
# ``pip install``'s own, and the general ones, which pip accepts after the command too.
INSTALL_VALUE = GLOBAL_VALUE | {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target", "--platform",
    "--python-version", "--implementation", "--abi", "--root", "--prefix", "--src", "--upgrade-strategy", "-C",
    "--config-settings", "--global-option", "--no-binary", "--only-binary", "--progress-bar", "--root-user-action",
    "--report", "--group", "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--build-option",
    "--install-option",
}  # fmt: skip
# A requirements file line: the install options plus the per-requirement ``--hash``.
FILE_VALUE = INSTALL_VALUE | {"--hash"}
# Short options whose value may be attached: ``-rFILE``.
SHORT_VALUE = ("-r", "-c", "-e", "-t", "-C", "-i", "-f")
