"""The end of a pass: progress-deadline bookkeeping and the one status the pass writes.

Progress is measured the way Argo Rollouts measures it: the ``Progressing`` condition's
``lastUpdateTime`` moves whenever a pass sees progress (a new revision, a step advanced, more pods
updated/ready/available, old pods gone). When it has not moved for ``progressDeadlineSeconds``
while an update is under way (not paused, not at an analysis step, not complete), the rollout is
stuck: Degraded with ``ProgressDeadlineExceeded``, and aborted with ``progressDeadlineAbort``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rollouts.api.status import RolloutStatus
from rollouts.engine.context import PassContext, RunRef
from rollouts.engine.plan import Plan
from rollouts.engine.status import Verdict, conditions_for, phase_for, progress_deadline

__all__ = ["Counts", "counts_of", "deadline_passed", "finish", "progressed"]


@dataclass(frozen=True, kw_only=True)
class Counts:
    """Pod counts for the status (and for noticing progress)."""

    replicas: int
    updated: int
    ready: int
    available: int


def counts_of(ctx: PassContext) -> Counts:
    new_rs = ctx.new_rs
    rs_all = ctx.snap.replica_sets
    return Counts(
        replicas=sum(rs.actual for rs in rs_all),
        updated=0 if new_rs is None else min(new_rs.actual, new_rs.replicas),
        ready=sum(rs.ready for rs in rs_all),
        available=sum(rs.available for rs in rs_all),
    )


def progressed(ctx: PassContext) -> bool:
    """Did the cluster move forward since the last status was written, or does this pass move it?"""
    old, draft, now_counts = ctx.old, ctx.draft, counts_of(ctx)
    return (
        (old.current_pod_hash or "") != ctx.desired_hash
        or old.current_step_index != draft.current_step_index
        or (old.stable_rs or "") != draft.stable_rs
        or now_counts.updated > (old.updated_replicas or 0)
        or now_counts.ready > (old.ready_replicas or 0)
        or now_counts.available > (old.available_replicas or 0)
        or now_counts.replicas < (old.replicas or 0)
    )


def deadline_passed(ctx: PassContext) -> bool:
    """True when the update made no progress for ``progressDeadlineSeconds`` (wakes at the deadline)."""
    deadline = progress_deadline(
        ctx.old.conditions or (), deadline_seconds=ctx.rollout.spec.progress_deadline_seconds
    )
    if deadline is None:
        return False
    if ctx.now < deadline:
        ctx.plan.wake_at(deadline)
        return False
    return True


def _run(ref: RunRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"name": ref.name, "status": ref.status, "message": ref.message or None}


def finish(ctx: PassContext, *, verdict: Verdict, canary: bool) -> Plan:
    """Freeze the draft into the new status (with phase and conditions) and build the plan."""
    draft, counts = ctx.draft, counts_of(ctx)
    phase, message = phase_for(verdict)
    conditions = conditions_for(ctx.old.conditions or (), verdict=verdict, now=ctx.now)
    fields: dict[str, Any] = {
        "phase": phase,
        "message": message or None,
        "observed_generation": ctx.rollout.metadata.generation,
        "current_pod_hash": ctx.desired_hash,
        "stable_rs": draft.stable_rs or None,
        "current_step_index": draft.current_step_index,
        "pause_conditions": [
            {"reason": reason, "start_time": start}
            for reason, start in sorted(draft.pause_conditions.items())
        ]
        or None,
        "controller_pause": draft.controller_pause or None,
        "abort": draft.abort or None,
        "aborted_at": draft.aborted_at,
        "promote_full": draft.promote_full or None,
        "restarted_at": draft.restarted_at,
        "replicas": counts.replicas,
        "updated_replicas": counts.updated,
        "ready_replicas": counts.ready,
        "available_replicas": counts.available,
        "selector": ctx.rollout.spec.selector.to_selector_string(),
        "collision_count": draft.collision_count,
        "conditions": [cond.model_dump(by_alias=False) for cond in conditions],
    }
    if canary:
        weights = None
        if draft.canary_weight is not None:
            weights = {
                "canary": {"weight": draft.canary_weight, "pod_template_hash": ctx.desired_hash},
                "stable": {"weight": 100 - draft.canary_weight, "pod_template_hash": draft.stable_rs or None},
                "verified": ctx.snap.router_canary_weight == draft.canary_weight,
            }
        fields["canary"] = {
            "weights": weights,
            "current_step_analysis_run_status": _run(draft.step_run),
            "current_background_analysis_run_status": _run(draft.background_run),
        }
    else:
        fields["blue_green"] = {
            "active_selector": draft.active_selector or None,
            "preview_selector": draft.preview_selector or None,
            "pre_promotion_analysis_run_status": _run(draft.pre_run),
            "post_promotion_analysis_run_status": _run(draft.post_run),
        }
    return ctx.plan.build(RolloutStatus.model_validate(fields))
