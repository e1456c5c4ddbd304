"""The Events of one pass, told as few Events as a person reading them needs.

A pass decides in rounds (``Reconciler._settle``), and each round's rules add their own Events:
the end of a pause, the next weight written, that step completed, the next pause begun. Posted one
by one that is four or five Events a step, and under load each is a write the API server serves
before another Rollout's step. ``kubectl describe`` reads better with one line per transition, so:

- Events of one pass with the same type and reason become one, their messages joined in order
  (``Step 2/6 completed (pause: 2s); Step 3/6 completed (setWeight: 50)``), as the Kubernetes
  event aggregator combines similar Events;
- the traffic a pass moved for a promotion or a step (a weight, a Service switched to the new
  revision) is told in that Event (``RolloutCompleted``, else ``RolloutStepCompleted``) instead
  of its own ``TrafficWeightUpdated`` and ``SwitchService``; traffic moved in a pass without
  either (an abort, an experiment, a restored router, the first deploy) keeps its own Events;
- a phase change the pass's own transition already tells is told in that Event: Progressing in
  ``RolloutUpdated`` (a new revision), Healthy in ``RolloutCompleted`` (a promotion). Other phase
  changes (Paused, with its reason; Degraded, a Warning) keep their own Events.

Warnings are never folded into Normal Events, and nothing is dropped: every message is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from rollouts.engine.plan import Event, EventType

__all__ = ["coalesce"]

_TRAFFIC_REASONS = ("SwitchService", "TrafficWeightUpdated")
"""Traffic moved: told in the pass's promotion or step Event when it has one."""
_CARRIERS = ("RolloutCompleted", "RolloutStepCompleted")
"""The Events a pass's traffic changes are told in, by preference."""
_PHASES_TOLD_BY = {"RolloutProgressing": "RolloutUpdated", "RolloutHealthy": "RolloutCompleted"}
"""Phase-change Event -> the transition Event of the same pass that tells it."""


def coalesce(events: Iterable[Event]) -> tuple[Event, ...]:
    """The pass's Events with repeats of a reason joined, and its traffic and phase changes told
    in the transition they belong to."""
    merged: dict[tuple[EventType, str], list[str]] = {}
    for event in events:
        messages = merged.setdefault((event.type, event.reason), [])
        if event.message not in messages:
            messages.append(event.message)
    normal = EventType.NORMAL
    carrier = next(((normal, r) for r in _CARRIERS if (normal, r) in merged), None)
    if carrier is not None:
        for reason in _TRAFFIC_REASONS:
            merged[carrier].extend(merged.pop((normal, reason), []))
    for phase, teller in _PHASES_TOLD_BY.items():
        if (normal, phase) in merged and (normal, teller) in merged:
            merged[(normal, teller)].extend(merged.pop((normal, phase)))
    return tuple(
        Event(type=type_, reason=reason, message="; ".join(messages))
        for (type_, reason), messages in merged.items()
    )
