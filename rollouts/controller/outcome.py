"""How one pass of a reconciler ended, in the one shape the runner understands.

Every kind the controller reconciles (Rollouts, AnalysisRuns, later Experiments) returns this, so
one runner (:mod:`~rollouts.controller.runner`) decides for all of them what happens next: a wake-up,
a follow-up pass at once, or a retry with backoff. A reconciler expresses its own failures here
instead of raising, and keeps exceptions for bugs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Outcome"]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How a pass ended: ``requeue_after`` seconds (None: only on change) and whether it failed.

    ``requeue_after == 0``: another pass at once (the pass just changed something). ``retry``:
    the pass failed and is retried with per-key backoff (``requeue_after`` is then ignored).
    ``error``: what went wrong, ``"<Kind>: <message>"``, for logs and the error metric.
    """

    requeue_after: float | None = None
    error: str | None = None
    retry: bool = False
