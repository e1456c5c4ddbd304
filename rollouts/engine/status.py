"""Phase and conditions: how a Rollout tells people and tools where it stands.

Two audiences read the same status. People, ``kubectl get rollouts`` and Argo CD read the phase
(Healthy, Progressing, Paused, Degraded) and Argo Rollouts' conditions (``Progressing``,
``Available``, ``Healthy``, ``Paused``, ``InvalidSpec``). Flux and other kstatus readers read the
trio ``Reconciling``/``Ready``/``Stalled``. Both are computed from one :class:`Verdict`, so they
cannot disagree, and ``Reconciling`` and ``Stalled`` are never True together.

A condition's ``lastTransitionTime`` only moves when its status flips; ``lastUpdateTime`` moves
when its reason or message changes, or, for ``Progressing``, whenever progress was made, which is
what the progress deadline counts from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rollouts.api.enums import ConditionStatus, RolloutConditionType, RolloutPhase
from rollouts.api.status import RolloutCondition

__all__ = [
    "KSTATUS_SUPPORTED",
    "Reason",
    "Verdict",
    "conditions_for",
    "find_condition",
    "kstatus_trio",
    "phase_for",
    "progress_deadline",
    "set_condition",
]

READY = str(RolloutConditionType.READY)
RECONCILING = str(RolloutConditionType.RECONCILING)
STALLED = str(RolloutConditionType.STALLED)
PROGRESSING = str(RolloutConditionType.PROGRESSING)
INVALID_SPEC = str(RolloutConditionType.INVALID_SPEC)

KSTATUS_SUPPORTED = {READY, RECONCILING, STALLED} <= {str(kind) for kind in RolloutConditionType}
"""Whether the API's condition types include the kstatus trio (they do; kept for callers that ask)."""


class Reason:
    """Condition reasons, spelled as Argo Rollouts spells them (dashboards match on them)."""

    ABORTED = "RolloutAborted"
    RETRIED = "RolloutRetry"
    TIMED_OUT = "ProgressDeadlineExceeded"
    NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
    RS_UPDATED = "ReplicaSetUpdated"
    PAUSED = "RolloutPaused"
    RESUMED = "RolloutResumed"
    AVAILABLE = "AvailableReason"
    HEALTHY = "RolloutHealthy"
    NOT_HEALTHY = "RolloutNotHealthy"
    INVALID_SPEC = "InvalidSpec"
    COMPLETED = "RolloutCompleted"


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The facts about one pass that decide the phase and every condition.

    ``progressed`` is True when this pass saw or caused progress (a new revision, a step
    advanced, more pods updated/ready/available, old pods gone); ``timed_out`` when the progress
    deadline has passed without any; ``completed`` when the desired revision is stable, serves
    all traffic, and runs at full size with no old pods left.
    """

    aborted: bool = False
    abort_message: str = ""
    invalid_spec: str = ""
    timed_out: bool = False
    paused: bool = False
    pause_message: str = ""
    completed: bool = False
    progressed: bool = False
    retried: bool = False
    available: bool = False
    progress_message: str = ""
    rollout_name: str = ""


def find_condition(conditions: Sequence[RolloutCondition], kind: str) -> RolloutCondition | None:
    return next((cond for cond in conditions if str(cond.type) == kind), None)


def set_condition(
    conditions: Sequence[RolloutCondition],
    *,
    kind: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    touch: bool = False,
) -> tuple[RolloutCondition, ...]:
    """Return ``conditions`` with condition ``kind`` set, keeping the others in place.

    ``lastTransitionTime`` is kept unless the status flips; ``lastUpdateTime`` is kept unless the
    reason or message changes or ``touch`` asks for it (Progressing marks progress that way).
    """
    previous = find_condition(conditions, kind)
    unchanged = previous is not None and (previous.status, previous.reason) == (status, reason)
    if unchanged and previous is not None and previous.message == message and not touch:
        return tuple(conditions)
    transition = now
    if previous is not None and previous.status == status and previous.last_transition_time is not None:
        transition = previous.last_transition_time
    updated = RolloutCondition(
        type=RolloutConditionType(kind),
        status=status,
        reason=reason,
        message=message,
        last_update_time=now,
        last_transition_time=transition,
    )
    if previous is None:
        return (*conditions, updated)
    return tuple(updated if cond is previous else cond for cond in conditions)


def progress_deadline(conditions: Sequence[RolloutCondition], *, deadline_seconds: int) -> datetime | None:
    """When the rollout counts as stuck: the last recorded progress plus the deadline.

    ``None`` when there is nothing to time out: no Progressing condition yet, the rollout is
    complete, paused, aborted or already timed out (those states are not "in progress").
    """
    cond = find_condition(conditions, "Progressing")
    if cond is None or cond.reason not in (Reason.RS_UPDATED, Reason.RESUMED, Reason.RETRIED):
        return None
    if cond.last_update_time is None:
        return None
    return cond.last_update_time + timedelta(seconds=deadline_seconds)


def phase_for(verdict: Verdict) -> tuple[RolloutPhase, str]:
    """The one-word phase and its message, most severe first (as Argo's status command orders them)."""
    if verdict.invalid_spec:
        return RolloutPhase.DEGRADED, f"InvalidSpec: {verdict.invalid_spec}"
    if verdict.aborted:
        return RolloutPhase.DEGRADED, f"RolloutAborted: {verdict.abort_message or 'Rollout aborted'}"
    if verdict.timed_out:
        return RolloutPhase.DEGRADED, f"ProgressDeadlineExceeded: {verdict.progress_message}"
    if verdict.paused:
        return RolloutPhase.PAUSED, verdict.pause_message
    if verdict.completed:
        return RolloutPhase.HEALTHY, ""
    return RolloutPhase.PROGRESSING, verdict.progress_message


def _progressing(verdict: Verdict) -> tuple[ConditionStatus, str, str]:
    if verdict.aborted:
        return ConditionStatus.FALSE, Reason.ABORTED, verdict.abort_message or "Rollout aborted"
    if verdict.timed_out:
        return ConditionStatus.FALSE, Reason.TIMED_OUT, verdict.progress_message
    if verdict.paused:
        return ConditionStatus.UNKNOWN, Reason.PAUSED, verdict.pause_message
    if verdict.completed:
        return ConditionStatus.TRUE, Reason.NEW_RS_AVAILABLE, f"Rollout {verdict.rollout_name!r} is complete"
    if verdict.retried:
        return ConditionStatus.UNKNOWN, Reason.RETRIED, "Retrying rollout after abort"
    return ConditionStatus.TRUE, Reason.RS_UPDATED, verdict.progress_message


def conditions_for(
    previous: Sequence[RolloutCondition], *, verdict: Verdict, now: datetime
) -> tuple[RolloutCondition, ...]:
    """All conditions after this pass, from the previous ones and the verdict.

    An invalid spec only sets ``InvalidSpec``, ``Healthy`` and the kstatus trio: the controller
    did nothing to the cluster, so ``Progressing``, ``Available`` and ``Paused`` keep what the last
    valid pass recorded (and the progress deadline keeps its last recorded progress).
    """
    conds = tuple(previous)

    def put(kind: str, status: ConditionStatus, reason: str, message: str, touch: bool = False) -> None:
        nonlocal conds
        conds = set_condition(
            conds, kind=kind, status=status, reason=reason, message=message, now=now, touch=touch
        )

    phase, phase_message = phase_for(verdict)
    if verdict.invalid_spec:
        put(INVALID_SPEC, ConditionStatus.TRUE, Reason.INVALID_SPEC, verdict.invalid_spec)
    else:
        conds = tuple(cond for cond in conds if str(cond.type) != INVALID_SPEC)
        status, reason, message = _progressing(verdict)
        put(PROGRESSING, status, reason, message, touch=verdict.progressed and reason == Reason.RS_UPDATED)
        put(
            "Available",
            _bool(verdict.available),
            Reason.AVAILABLE,
            "Rollout has minimum availability"
            if verdict.available
            else "Rollout does not have minimum availability",
        )
    healthy = phase is RolloutPhase.HEALTHY
    put(
        "Healthy",
        _bool(healthy),
        Reason.HEALTHY if healthy else Reason.NOT_HEALTHY,
        "Rollout is healthy" if healthy else phase_message or str(phase),
    )
    if not verdict.invalid_spec:
        paused = phase is RolloutPhase.PAUSED
        put(
            "Paused",
            _bool(paused),
            Reason.PAUSED if paused else Reason.RESUMED,
            verdict.pause_message if paused else "Rollout is not paused",
        )
    for kind, value in kstatus_trio(phase).items():
        put(kind, _bool(value), str(phase), phase_message or str(phase))
    return conds


def kstatus_trio(phase: RolloutPhase) -> dict[str, bool]:
    """``Reconciling``/``Ready``/``Stalled`` for a phase; never Reconciling and Stalled together.

    Paused counts as Reconciling: the delivery is under way, waiting for a person or a timer.
    """
    stalled = phase is RolloutPhase.DEGRADED
    healthy = phase is RolloutPhase.HEALTHY
    return {RECONCILING: not stalled and not healthy, READY: healthy, STALLED: stalled}


def _bool(value: bool) -> ConditionStatus:
    return ConditionStatus.TRUE if value else ConditionStatus.FALSE
