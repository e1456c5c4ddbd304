"""Errors from the API server, by what the caller should do about them.

The API server answers a failed request with a ``Status`` object (reason, message, code). Callers
branch on the class: :class:`NotFound` (create it, or report the missing object), :class:`Conflict`
(re-read and try again), :class:`AlreadyExists`, :class:`Forbidden` (RBAC: report, do not retry
hot), :class:`Invalid` (our request or the user's object is wrong), :class:`Unavailable` (server
down or restarting, timeouts, 5xx/429: retry with backoff).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeError",
    "NotFound",
    "Unavailable",
    "error_for",
]


class KubeError(Exception):
    """A request to the API server failed. ``status`` is the HTTP code (0: no answer at all)."""

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", details: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.details = details or {}

    @property
    def retryable(self) -> bool:
        """Worth retrying unchanged after a backoff (server trouble, not a wrong request)."""
        return False


class NotFound(KubeError):
    """404: the object (or its kind: CRD not installed) does not exist."""


class Conflict(KubeError):
    """409 Conflict: stale resourceVersion, or server-side apply field-manager conflict."""

    @property
    def retryable(self) -> bool:
        return True


class AlreadyExists(KubeError):
    """409 AlreadyExists: create of a name that is taken."""


class Forbidden(KubeError):
    """403: RBAC does not allow this verb on this resource."""


class Invalid(KubeError):
    """422/400: the request body was rejected (schema, validation, immutable field)."""


class Gone(KubeError):
    """410: a watch's resourceVersion is too old; list again."""


class Unavailable(KubeError):
    """No answer, a timeout, 429 or a 5xx: the server is overloaded, restarting or unreachable."""

    @property
    def retryable(self) -> bool:
        return True


def error_for(status: int, body: Any, *, what: str) -> KubeError:
    """The error class for HTTP ``status`` and the server's Status ``body``; ``what`` names the request."""
    reason = ""
    message = ""
    details: dict[str, Any] = {}
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or "")
        details = body.get("details") or {}
    text = f"{what}: {message or reason or f'HTTP {status}'}"
    cls: type[KubeError]
    if status == 404:
        cls = NotFound
    elif status == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif status == 403:
        cls = Forbidden
    elif status in (400, 422):
        cls = Invalid
    elif status == 410:
        cls = Gone
    elif status == 429 or status >= 500:
        cls = Unavailable
    else:
        cls = KubeError
    return cls(text, status=status, reason=reason, details=details)
