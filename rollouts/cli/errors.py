"""The one exception a verb raises for anything a user can cause, and the exit codes it maps to.

Every verb turns a problem (a missing Rollout, a denied request, an unreachable cluster, a bad
flag, an invalid file) into a :class:`CliError` with one line that names the object and the fix;
``__main__`` prints that line and exits with its code. No traceback ever reaches a user.
"""

from __future__ import annotations

__all__ = ["EXIT_DEGRADED", "EXIT_ERROR", "EXIT_OK", "EXIT_TIMEOUT", "EXIT_USAGE", "CliError"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DEGRADED = 1
"""``status``: the Rollout is Degraded (the same code as an error: a CI step must fail)."""
EXIT_TIMEOUT = 2
"""``status --timeout``: the Rollout did not settle in time."""
EXIT_USAGE = 2
"""A bad flag or argument (argparse's convention, which kubectl users know from other plugins)."""


class CliError(Exception):
    """A problem a user can fix; ``message`` is the one line printed, ``exit_code`` the exit status."""

    def __init__(self, message: str, *, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
