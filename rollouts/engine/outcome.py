"""The end of a pass, shared by both strategies: the progress deadline and the one status written.

Progress is measured the way Argo Rollouts measures it: the ``Progressing`` condition's
``lastUpdateTime`` moves whenever a pass sees progress (a new revision, a step advanced, more pods
updated/ready/available, old pods gone). When it has not moved for ``progressDeadlineSeconds``
while an update is under way (not paused, not at an analysis step, not complete), the rollout is
stuck: Degraded with ``ProgressDeadlineExceeded``, and aborted with ``progressDeadlineAbort``.

The status written is typed end to end: :func:`finish` builds the
:class:`~rollouts.api.status.RolloutStatus` and each nested model with its constructor, by field
name, from the typed draft (no dict is validated into it), so mypy checks every field name, and
with the pydantic plugin's ``init_typed`` every field type. Flags that are off and empty strings
are written as absent (``None``); pod counts are written even when 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from rollouts.api.status import (
    BlueGreenStatus,
    CanaryStatus,
    PauseCondition,
    RolloutStatus,
    TrafficWeights,
    WeightDestination,
)
from rollouts.engine.context import PassContext
from rollouts.engine.plan import Plan
from rollouts.engine.status import (
    INVALID_SPEC,
    PROGRESSING,
    Reason,
    Verdict,
    conditions_for,
    find_condition,
    phase_for,
    progress_deadline,
)
from rollouts.engine.workload import scale_workload

__all__ = [
    "Counts",
    "check_progress_deadline",
    "counts_of",
    "deadline_passed",
    "finish",
    "pause_message",
    "progressed",
]


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
    """Did the cluster move forward since the last status was written, or does this pass move it?

    Fixing an invalid spec counts as progress: the time a Rollout spent invalid (when the
    controller could do nothing) must not count against its progress deadline.
    """
    old, draft, now_counts = ctx.old, ctx.draft, counts_of(ctx)
    return (
        find_condition(old.conditions or (), INVALID_SPEC) is not None
        or (old.current_pod_hash or "") != ctx.desired_hash
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


def check_progress_deadline(ctx: PassContext, *, exempt: bool) -> None:
    """Mark the update timed out (and abort it with ``progressDeadlineAbort``) when it is stuck.

    ``exempt`` is the strategy's word on whether the deadline applies right now: not while the
    desired revision is stable, nor while the rollout waits on something with its own clock
    (an analysis run, a pause step). Pauses, ``spec.paused`` and an abort exempt it here.
    """
    draft = ctx.draft
    if exempt or draft.abort or ctx.rollout.spec.paused or draft.pause_conditions:
        return
    previous = find_condition(ctx.old.conditions or (), PROGRESSING)
    stuck = previous is not None and previous.reason == Reason.TIMED_OUT
    ctx.timed_out = (stuck or deadline_passed(ctx)) and not progressed(ctx)
    if not ctx.timed_out:
        return
    seconds = ctx.rollout.spec.progress_deadline_seconds
    message = f"ReplicaSet {ctx.new_rs_name} has made no progress for {seconds}s"
    if not stuck:
        ctx.plan.event(Reason.TIMED_OUT, message, warning=True)
    if ctx.rollout.spec.progress_deadline_abort:
        ctx.abort_with(f"{Reason.TIMED_OUT}: {message}")


def pause_message(ctx: PassContext) -> str:
    """Why the rollout is paused (``spec.paused`` first, then the controller's reasons); "" if not."""
    if ctx.rollout.spec.paused:
        return "Rollout is paused by the user (spec.paused)"
    return ", ".join(str(reason) for reason in sorted(ctx.draft.pause_conditions))


def _weights(ctx: PassContext) -> TrafficWeights | None:
    """The traffic split in place; ``verified`` only when the router read back the same weight."""
    draft = ctx.draft
    canary = ctx.rollout.spec.strategy.canary
    if draft.canary_weight is None or canary is None:
        return None
    stable_weight = canary.weight_total() - draft.canary_weight
    return TrafficWeights(
        canary=WeightDestination(weight=draft.canary_weight, pod_template_hash=ctx.desired_hash),
        stable=WeightDestination(weight=stable_weight, pod_template_hash=draft.stable_rs or None),
        verified=ctx.snap.router_canary_weight == draft.canary_weight,
    )


def _canary_status(ctx: PassContext) -> CanaryStatus:
    draft = ctx.draft
    return CanaryStatus(
        weights=_weights(ctx),
        current_step_analysis_run_status=draft.step_run,
        current_background_analysis_run_status=draft.background_run,
        current_experiment=draft.experiment,
        traffic_routing=draft.traffic_routing,
        stable_ping_pong=draft.stable_ping_pong,
    )


def _blue_green_status(ctx: PassContext) -> BlueGreenStatus:
    draft = ctx.draft
    return BlueGreenStatus(
        active_selector=draft.active_selector or None,
        preview_selector=draft.preview_selector or None,
        pre_promotion_analysis_run_status=draft.pre_run,
        post_promotion_analysis_run_status=draft.post_run,
    )


def finish(
    ctx: PassContext, *, canary: bool, completed: bool, available: bool, progress_message: str
) -> Plan:
    """Freeze the draft into the new status (with phase and conditions) and build the plan.

    The strategy says whether the update is ``completed``, whether the Rollout has minimum
    ``available``ity and how far it got (``progress_message``); the rest of the verdict (abort,
    deadline, pause, retry, progress) is read from the pass context. The strategy's own part of
    the status is always written, even when all of it is empty (``canary: {}``), and the other
    strategy's never. The workloadRef's Deployment is scaled here, for both strategies.
    """
    scale_workload(ctx)
    draft, counts = ctx.draft, counts_of(ctx)
    paused = pause_message(ctx)
    verdict = Verdict(
        aborted=draft.abort,
        abort_message=ctx.abort_message,
        timed_out=ctx.timed_out,
        paused=bool(paused),
        pause_message=paused,
        completed=completed,
        progressed=progressed(ctx),
        retried=ctx.retried,
        available=available,
        progress_message=progress_message,
        rollout_name=ctx.name,
    )
    phase, message = phase_for(verdict)
    pauses = [
        PauseCondition(reason=reason, start_time=start)
        for reason, start in sorted(draft.pause_conditions.items())
    ]
    status = RolloutStatus(
        phase=phase,
        message=message or None,
        observed_generation=ctx.rollout.metadata.generation,
        current_pod_hash=ctx.desired_hash,
        current_step_hash=draft.current_step_hash if canary else None,
        stable_rs=draft.stable_rs or None,
        current_step_index=draft.current_step_index,
        pause_conditions=pauses or None,
        controller_pause=draft.controller_pause or None,
        abort=draft.abort or None,
        aborted_at=draft.aborted_at,
        promote_full=draft.promote_full or None,
        restarted_at=draft.restarted_at,
        replicas=counts.replicas,
        updated_replicas=counts.updated,
        ready_replicas=counts.ready,
        available_replicas=counts.available,
        selector=ctx.rollout.spec.selector.to_selector_string(),
        collision_count=draft.collision_count,
        conditions=list(conditions_for(ctx.old.conditions or (), verdict=verdict, now=ctx.now)),
        canary=_canary_status(ctx) if canary else None,
        blue_green=None if canary else _blue_green_status(ctx),
    )
    return ctx.plan.build(status)
