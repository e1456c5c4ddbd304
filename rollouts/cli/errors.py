"""The one exception a verb raises for anything a user can cause, and the exit codes it maps to.

Every verb turns a problem (a missing Rollout, a denied request, an unreachable cluster, a bad
flag, an invalid file) into a :class:`CliError` with one line that names the object and the fix;
``__main__`` prints that line and exits with its code. No traceback ever reaches a user.
"""

from __future__ import annotations

__all__ = [
    "EXIT_DEGRADED",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_PAUSED",
    "EXIT_PROGRESSING",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "CliError",
]

EXIT_OK = 0
EXIT_ERROR = 1
"""Any problem a user can cause: a Rollout not found, access denied, no cluster, an invalid file."""
EXIT_USAGE = 2
"""A bad flag or argument (argparse's convention, which kubectl users know from other plugins)."""
EXIT_TIMEOUT = 2
"""``status --timeout``: the Rollout was neither Healthy nor Degraded when the time was up."""
EXIT_DEGRADED = 3
"""``status``: the Rollout is Degraded (aborted, failed analysis, invalid spec, deadline passed)."""
EXIT_PROGRESSING = 4
"""``status --no-watch``: the Rollout is still Progressing."""
EXIT_PAUSED = 5
"""``status --no-watch``: the Rollout is Paused (at a pause step, by ``spec.paused``, inconclusive)."""


class CliError(Exception):
    """A problem a user can fix; ``message`` is the one line printed, ``exit_code`` the exit status."""

    def __init__(self, message: str, *, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
