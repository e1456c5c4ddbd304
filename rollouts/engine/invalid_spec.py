"""The decision for a Rollout that fails validation: say so loudly, touch nothing, forget nothing.

The controller cannot run a step machine on a manifest it cannot parse, so it calls
:func:`decide_invalid_spec` with the raw object instead of :func:`rollouts.engine.decide`. The
plan has no actions: the cluster stays exactly as the last valid spec left it (traffic, replica
counts, analysis runs), which is the safe thing to do while nobody knows what the user meant.

The status says what is wrong and how to fix it: phase Degraded, a message naming the object,
the field path and the fix (the lines of :func:`rollouts.api.validation_errors`), condition
``InvalidSpec`` True, kstatus ``Stalled`` True and ``Ready`` False. Everything else the old status
held (stable revision, current step, pauses, abort, analysis runs, weights) is kept, so once the
user fixes the manifest the next pass resumes where the rollout stood. The new status is built
with the typed :class:`~rollouts.api.status.RolloutStatus` constructor; only the old one, read
from the raw object, is parsed from a dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from rollouts.api.enums import RolloutPhase
from rollouts.api.status import RolloutCondition, RolloutStatus
from rollouts.api.validation import too_deep, validation_errors
from rollouts.engine.plan import Event, EventType, Plan
from rollouts.engine.status import INVALID_SPEC, Reason, Verdict, conditions_for, find_condition, phase_for

__all__ = ["decide_invalid_spec"]


def decide_invalid_spec(
    obj: Mapping[str, Any], *, now: datetime, errors: Sequence[str] | None = None
) -> Plan:
    """The plan for an invalid Rollout ``obj`` (the raw object as read from the API server).

    ``errors`` are the validation lines (``validation_errors(obj)`` when omitted). The plan has no
    actions; its status keeps the old one's progress and marks the spec invalid; its one Warning
    event (reason ``InvalidSpec``) is only planned when the problem is new or has changed, so a
    Rollout that stays invalid across many passes does not flood its events.

    Raises ``ValueError`` when ``obj`` is valid: such a Rollout needs a real decision.
    """
    if now.tzinfo is None:
        raise ValueError("decide_invalid_spec needs a timezone-aware `now` (UTC), got a naive datetime")
    problems = list(errors) if errors is not None else validation_errors(obj)
    if not problems:
        raise ValueError("the Rollout is valid; decide it with rollouts.engine.decide instead")
    message = "; ".join(problems)
    old = _old_status(obj.get("status"))
    previous = old.conditions or ()
    verdict = Verdict(invalid_spec=message)
    phase, phase_message = phase_for(verdict)
    conditions = conditions_for(previous, verdict=verdict, now=now)
    status = _kept_with(
        old, phase=phase, message=phase_message, observed_generation=_generation(obj), conditions=conditions
    )
    events: tuple[Event, ...] = ()
    before = find_condition(previous, INVALID_SPEC)
    if before is None or before.message != message:
        events = (Event(reason=Reason.INVALID_SPEC, message=message, type=EventType.WARNING),)
    return Plan(actions=(), status=status, events=events)


def _kept_with(
    old: RolloutStatus,
    *,
    phase: RolloutPhase,
    message: str,
    observed_generation: int | None,
    conditions: Sequence[RolloutCondition],
) -> RolloutStatus:
    """``old`` with the verdict of this pass, every other field kept as the last valid pass left it.

    Built field by field (not ``model_copy(update=...)``) so mypy checks every field name; a test
    fails when a status field is added but not kept here, since forgetting one loses progress.
    """
    return RolloutStatus(
        phase=phase,
        message=message,
        observed_generation=observed_generation,
        current_pod_hash=old.current_pod_hash,
        current_step_hash=old.current_step_hash,
        stable_rs=old.stable_rs,
        current_step_index=old.current_step_index,
        pause_conditions=old.pause_conditions,
        controller_pause=old.controller_pause,
        abort=old.abort,
        aborted_at=old.aborted_at,
        promote_full=old.promote_full,
        restarted_at=old.restarted_at,
        replicas=old.replicas,
        updated_replicas=old.updated_replicas,
        ready_replicas=old.ready_replicas,
        available_replicas=old.available_replicas,
        selector=old.selector,
        collision_count=old.collision_count,
        conditions=list(conditions),
        canary=old.canary,
        blue_green=old.blue_green,
    )


def _old_status(raw: Any) -> RolloutStatus:
    """The status the controller last wrote, keeping every field that still reads back.

    It was written by the controller, so it normally validates whole; if one field does not (a
    hand edit, a field from a newer version), only that field is dropped, never the rest.
    """
    if not isinstance(raw, Mapping):
        return RolloutStatus()
    try:
        if too_deep(raw) is None:
            return RolloutStatus.model_validate(raw)
    except ValidationError:
        pass
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if too_deep(value) is not None:  # the model's errors would recurse into it
            continue
        try:
            RolloutStatus.model_validate({key: value})
        except ValidationError:
            continue
        kept[key] = value
    return RolloutStatus.model_validate(kept)


def _generation(obj: Mapping[str, Any]) -> int | None:
    metadata = obj.get("metadata")
    generation = metadata.get("generation") if isinstance(metadata, Mapping) else None
    return generation if isinstance(generation, int) and not isinstance(generation, bool) else None
