"""One root exception; the CLI turns it into ``error: ...`` and an exit code.

Every user-facing failure is a :class:`PyenvbootError` carrying a one-line message
(what, where, how to fix) and a distinct exit code. Nothing below the CLI prints or
calls ``sys.exit``.
"""

from __future__ import annotations

# typing costs ~5 ms of imports and the exec path imports this module: types only for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

# Exit codes, documented in the README's CLI reference; 0 is success.
EXIT_FAILURE = 1  # generic failure; `check` found problems
EXIT_USAGE = 2  # bad command line (argparse's convention)
EXIT_VENV = 3  # venv missing, not a venv, or unusable
EXIT_INTERPRETER = 4  # --python missing, not Python, or unsupported
EXIT_PERMISSION = 5  # unknown group, not permitted, unwritable prefix
EXIT_IDENTITY = 6  # a refused user name or passwd entry; identity degrades, so no command exits with it
EXIT_LOCKED = 7  # could not take the venv lock
EXIT_CREATE = 8  # venv creation failed (no pip source, disk full, ...)
EXIT_VERIFY = 9  # requirements not satisfied after `pyenvboot pip`
EXIT_NOT_EXECUTABLE = 126  # shell convention: found but cannot execute
EXIT_NOT_FOUND = 127  # shell convention: command not found
EXIT_BROKEN_PIPE = 141  # stdout was closed by its reader (128 + SIGPIPE, as a shell reports it)


class PyenvbootError(Exception):
    """Root of every error pyenvboot reports to a user."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(PyenvbootError):
    exit_code = EXIT_USAGE


class VenvError(PyenvbootError):
    exit_code = EXIT_VENV


class InterpreterError(PyenvbootError):
    exit_code = EXIT_INTERPRETER


class PermissionPolicyError(PyenvbootError):
    exit_code = EXIT_PERMISSION


class IdentityError(PyenvbootError):
    exit_code = EXIT_IDENTITY


class LockError(PyenvbootError):
    exit_code = EXIT_LOCKED


class CreateError(PyenvbootError):
    exit_code = EXIT_CREATE


class VerifyError(PyenvbootError):
    """Requirements not met after pip: ``lines`` holds one line per problem, each reported as ``error: ...``."""

    exit_code = EXIT_VERIFY

    def __init__(self, message: str, lines: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.lines = list(lines) or [message]


class CommandNotFound(PyenvbootError):
    exit_code = EXIT_NOT_FOUND


class NotExecutable(PyenvbootError):
    exit_code = EXIT_NOT_EXECUTABLE
