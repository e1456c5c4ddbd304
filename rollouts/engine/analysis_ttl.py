"""When a finished AnalysisRun may be deleted under its ``ttlStrategy``.

One rule for both controllers: the AnalysisRun controller deletes the runs no Rollout owns, and a
Rollout's pass deletes its own, because only the Rollout knows whether its status already holds the
run's verdict (deleting a run the Rollout has not yet read would leave it waiting on a verdict it
can never read again).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rollouts.api.analysis import AnalysisRunSpec
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import AnalysisRunStatus

__all__ = ["expires_at"]


def expires_at(spec: AnalysisRunSpec, status: AnalysisRunStatus | None) -> datetime | None:
    """When the finished run may be deleted; ``None`` while it runs or when nothing asks for it.

    ``secondsAfterSuccess`` for a Successful run, ``secondsAfterFailure`` for a Failed or Error
    one, else ``secondsAfterCompletion`` (an Inconclusive run only has that one), counted from
    ``status.completedAt``. A run finished before ``completedAt`` was recorded never expires.
    """
    ttl = spec.ttl_strategy
    if ttl is None or status is None or status.completed_at is None or not status.phase.is_completed():
        return None
    seconds: int | None = None
    if status.phase is AnalysisPhase.SUCCESSFUL:
        seconds = ttl.seconds_after_success
    elif status.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        seconds = ttl.seconds_after_failure
    if seconds is None:
        seconds = ttl.seconds_after_completion
    return None if seconds is None else status.completed_at + timedelta(seconds=seconds)
