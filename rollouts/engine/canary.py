"""The canary step machine: one pass from (Rollout, observed cluster, now) to a Plan.

A pass is the straight list in :func:`decide`. Each rule is a small function over the per-pass
:class:`Canary` context and may end the pass early. In words:

1. **Follow the template.** A first deploy becomes stable at once. A new pod template starts the
   steps again from the first (clearing pause, abort and analysis state); going back to the
   stable template skips every step ("rollback to stable").
2. **User requests.** Clearing ``status.abort`` after an abort is a retry: the steps start again
   with fresh analysis. ``status.promoteFull`` skips the remaining steps and analysis.
3. **Analysis.** The current step's run and the background run are started or read: Successful
   completes an analysis step, Failed/Error aborts, Inconclusive pauses for a human.
4. **Progress deadline.** No progress for ``progressDeadlineSeconds`` marks the update Degraded
   (and aborts it with ``progressDeadlineAbort``).
5. **Abort** (by a user, analysis or the deadline): all traffic to stable at once, the canary
   scaled down after ``abortScaleDownDelaySeconds`` (0 keeps it), phase Degraded. End of pass.
6. **Size** the canary and stable ReplicaSets for the weight in force (``replicas.py`` does the
   arithmetic).
7. **Promote** once every step is done and the canary runs available at full size.
8. **Route traffic**: Services and router weight, only ever onto a fully available ReplicaSet.
9. **Advance** the current step when it is complete (not while ``spec.paused``).
10. **Retire** old ReplicaSets, clean up history, restart pods for ``restartAt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from rollouts.api.enums import PauseReason
from rollouts.api.strategy import DEFAULT_SCALE_DOWN_DELAY_SECONDS, CanaryStep, CanaryStrategy
from rollouts.engine import revisions
from rollouts.engine.canary_analysis import judge_analysis
from rollouts.engine.canary_traffic import route_traffic
from rollouts.engine.context import PassContext
from rollouts.engine.outcome import counts_of, deadline_passed, finish, progressed
from rollouts.engine.plan import Plan
from rollouts.engine.replicas import (
    ReplicaSetCounts,
    basic_canary_counts,
    closest_canary_split,
    old_replicaset_targets,
    resolve_surge_and_unavailable,
    traffic_routed_canary_counts,
)
from rollouts.engine.snapshot import ObservedReplicaSet, Snapshot
from rollouts.engine.status import Reason, Verdict, find_condition

__all__ = ["Canary", "decide"]


@dataclass
class Canary:
    """Per-pass canary facts on top of the shared :class:`PassContext`."""

    ctx: PassContext
    spec: CanaryStrategy
    steps: list[CanaryStep]
    abort_message: str = ""
    timed_out: bool = False
    retried: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def routed(self) -> bool:
        return self.spec.traffic_routing is not None

    @property
    def index(self) -> int:
        """The current step index (``len(steps)`` once every step is done)."""
        index = self.ctx.draft.current_step_index
        return len(self.steps) if index is None else min(index, len(self.steps))

    @property
    def step(self) -> CanaryStep | None:
        return self.steps[self.index] if self.index < len(self.steps) else None

    @property
    def promoted(self) -> bool:
        """The desired revision is the stable one: no canary is in progress."""
        return self.ctx.draft.stable_rs == self.ctx.desired_hash

    def weight_in_force(self) -> int:
        """The last ``setWeight`` at or before the current step; 100 once every step is done."""
        if self.index >= len(self.steps):
            return 100
        return next(
            (s.set_weight for s in reversed(self.steps[: self.index + 1]) if s.set_weight is not None), 0
        )

    def services(self) -> tuple[str | None, ...]:
        return (self.spec.stable_service, self.spec.canary_service)


def decide(snapshot: Snapshot) -> Plan:
    """Decide one pass of a canary Rollout. Pure: the same snapshot always gives the same plan."""
    canary_spec = snapshot.rollout.spec.strategy.canary
    if canary_spec is None:
        raise ValueError("canary.decide needs a Rollout with spec.strategy.canary")
    c = Canary(ctx=PassContext.start(snapshot), spec=canary_spec, steps=list(canary_spec.steps or []))
    _follow_template(c)
    _take_user_requests(c)
    failure = judge_analysis(c)
    if failure is not None:
        abort_with(c, failure)
    _check_progress_deadline(c)
    if c.ctx.draft.abort:
        _abort(c)
        return _finish(c)
    _size_replica_sets(c)
    _promote_when_done(c)
    route_traffic(c)
    if not snapshot.rollout.spec.paused:
        _advance_step(c)
    _retire(c)
    return _finish(c)


# --- 1. template and user requests ----------------------------------------------------------------


def _follow_template(c: Canary) -> None:
    ctx, draft = c.ctx, c.ctx.draft
    if not draft.stable_rs:
        draft.stable_rs = ctx.desired_hash
        draft.current_step_index = len(c.steps) if c.steps else None
        ctx.stable_rs = ctx.new_rs
        ctx.plan.event("RolloutUpdated", f"Initial deploy of revision {ctx.desired_hash}: no steps to run")
        return
    if draft.current_pod_hash == ctx.desired_hash:
        return
    draft.clear_pauses()
    draft.abort, draft.aborted_at, draft.promote_full = False, None, False
    draft.step_run = draft.background_run = None
    if c.promoted:
        draft.current_step_index = len(c.steps) if c.steps else None
        ctx.plan.event("SkipSteps", f"Rollback to stable revision {ctx.desired_hash}: skipping all steps")
    else:
        draft.current_step_index = 0 if c.steps else None
        ctx.plan.event("RolloutUpdated", f"New revision {ctx.desired_hash}: starting the canary steps")


def _take_user_requests(c: Canary) -> None:
    draft = c.ctx.draft
    if not draft.abort and draft.aborted_at is not None:
        c.retried = True
        draft.aborted_at = None
        draft.step_run = draft.background_run = None
        draft.clear_pauses()
        c.ctx.plan.event("RolloutRetried", "Abort cleared: retrying the update from the first step")
    if draft.promote_full and not c.promoted and not draft.abort:
        draft.current_step_index = len(c.steps) if c.steps else None
        draft.clear_pauses()
    if draft.abort:
        previous = find_condition(c.ctx.old.conditions or (), "Progressing")
        if previous is not None and previous.reason == Reason.ABORTED:
            c.abort_message = previous.message or ""


def abort_with(c: Canary, message: str) -> None:
    """Abort the update now (used by analysis and the progress deadline)."""
    draft = c.ctx.draft
    if draft.abort:
        return
    draft.abort, draft.aborted_at = True, c.ctx.now
    c.abort_message = message
    c.ctx.plan.event("RolloutAborted", message, warning=True)


# --- 4. progress deadline -------------------------------------------------------------------------


def _check_progress_deadline(c: Canary) -> None:
    ctx = c.ctx
    if c.promoted or ctx.draft.abort or ctx.rollout.spec.paused or ctx.draft.pause_conditions:
        return
    if c.step is not None and (c.step.analysis is not None or c.step.pause is not None):
        return  # analysis may take longer than the deadline; a pause step is about to pause
    previous = find_condition(ctx.old.conditions or (), "Progressing")
    stuck = previous is not None and previous.reason == Reason.TIMED_OUT
    c.timed_out = (stuck or deadline_passed(ctx)) and not progressed(ctx)
    if not c.timed_out:
        return
    seconds = ctx.rollout.spec.progress_deadline_seconds
    message = f"ReplicaSet {ctx.name}-{ctx.desired_hash} has made no progress for {seconds}s"
    if not stuck:
        ctx.plan.event(Reason.TIMED_OUT, message, warning=True)
    if ctx.rollout.spec.progress_deadline_abort:
        abort_with(c, f"{Reason.TIMED_OUT}: {message}")


# --- 5. abort -------------------------------------------------------------------------------------


def _abort(c: Canary) -> None:
    """All traffic back to stable first; the canary goes after the abort delay (0 keeps it)."""
    ctx, draft = c.ctx, c.ctx.draft
    if c.promoted:
        return
    draft.current_step_index = 0 if c.steps else None
    draft.clear_pauses()
    if c.routed:
        ctx.scale(ctx.stable_rs, ctx.replicas)
        route_traffic(c)
        delay = c.spec.abort_scale_down_delay_seconds
        delay = DEFAULT_SCALE_DOWN_DELAY_SECONDS if delay is None else delay
        if delay > 0 and draft.aborted_at is not None:
            deadline = draft.aborted_at + _seconds(delay)
            if ctx.now >= deadline:
                ctx.scale(ctx.new_rs, 0)
            else:
                ctx.plan.wake_at(deadline)
    else:
        _size_basic(c, weight=0)
        route_traffic(c)
    _retire(c)


# --- 6. sizing ------------------------------------------------------------------------------------


def _counts(rs: ObservedReplicaSet | None) -> ReplicaSetCounts:
    if rs is None:
        return ReplicaSetCounts(spec_replicas=0, available_replicas=0)
    return ReplicaSetCounts(spec_replicas=rs.replicas, available_replicas=rs.available)


def _scale_in_force(c: Canary) -> tuple[int | None, int | None]:
    """``setCanaryScale`` replicas/weight in force at the current step (none after matchTrafficWeight)."""
    if c.index >= len(c.steps) or c.ctx.draft.promote_full:
        return None, None
    for step in reversed(c.steps[: c.index + 1]):
        scale = step.set_canary_scale
        if scale is not None:
            if scale.match_traffic_weight:
                return None, None
            return scale.replicas, scale.weight
    return None, None


def desired_canary_size(c: Canary) -> int:
    """Pods the canary should have at the current step once the move is finished."""
    replicas = c.ctx.replicas
    if c.promoted:
        return replicas
    if c.routed:
        scale_replicas, scale_weight = _scale_in_force(c)
        split = traffic_routed_canary_counts(
            replicas=replicas,
            weight=c.weight_in_force(),
            canary_scale_replicas=scale_replicas,
            canary_scale_weight=scale_weight,
        )
        return min(split.canary, replicas) if scale_replicas is None else split.canary
    surge, _ = _surge_unavailable(c)
    return closest_canary_split(replicas=replicas, weight=c.weight_in_force(), max_surge=surge).canary


def _surge_unavailable(c: Canary) -> tuple[int, int]:
    return resolve_surge_and_unavailable(
        replicas=c.ctx.replicas, max_surge=c.spec.max_surge, max_unavailable=c.spec.max_unavailable
    )


def _size_replica_sets(c: Canary) -> None:
    ctx = c.ctx
    if c.routed or (c.promoted and ctx.stable_rs is ctx.new_rs and not ctx.older):
        size = desired_canary_size(c)
        new_rs = ctx.ensure_new_rs(replicas=size)
        ctx.scale(new_rs, size)
        if not c.promoted:
            ctx.scale(ctx.stable_rs, ctx.replicas)
        return
    _size_basic(c, weight=100 if c.promoted else c.weight_in_force())


def _size_basic(c: Canary, *, weight: int) -> None:
    """Without a router the pod ratio is the traffic split: move it within maxSurge/maxUnavailable."""
    ctx = c.ctx
    separate_stable = ctx.stable_rs if ctx.stable_rs is not ctx.new_rs else None
    split = basic_canary_counts(
        replicas=ctx.replicas,
        weight=weight,
        max_surge=c.spec.max_surge,
        max_unavailable=c.spec.max_unavailable,
        canary=_counts(ctx.new_rs),
        stable=None if separate_stable is None else _counts(separate_stable),
        older=[_counts(rs) for rs in ctx.older],
    )
    new_rs = ctx.ensure_new_rs(replicas=split.canary)
    ctx.scale(new_rs, split.canary)
    ctx.scale(separate_stable, split.stable)
    total_available = sum(rs.available for rs in ctx.snap.replica_sets)
    targets = old_replicaset_targets(
        replicas=ctx.replicas,
        max_surge=c.spec.max_surge,
        max_unavailable=c.spec.max_unavailable,
        total_available=total_available,
        older=[_counts(rs) for rs in ctx.older],
    )
    for rs, target in zip(ctx.older, targets, strict=True):
        ctx.scale(rs, min(target, ctx.size(rs)))


def at_desired_counts(c: Canary) -> bool:
    """Every ReplicaSet at its target size for this step, with all of those pods available."""
    ctx, size = c.ctx, desired_canary_size(c)
    new_rs = ctx.new_rs
    if new_rs is None or new_rs.replicas != size or new_rs.available < size:
        return False
    stable = ctx.stable_rs if ctx.stable_rs is not new_rs else None
    if c.routed:
        return stable is None or stable.available >= ctx.replicas
    surge, _ = _surge_unavailable(c)
    want_stable = closest_canary_split(
        replicas=ctx.replicas, weight=c.weight_in_force(), max_surge=surge
    ).stable
    if stable is not None and (stable.replicas != want_stable or stable.available < want_stable):
        return False
    return all(rs.replicas == 0 for rs in ctx.older)


# --- 7. promotion ---------------------------------------------------------------------------------


def _promote_when_done(c: Canary) -> None:
    ctx, draft = c.ctx, c.ctx.draft
    new_rs = ctx.new_rs
    if c.promoted or c.index < len(c.steps) or new_rs is None:
        return
    if new_rs.replicas < ctx.replicas or new_rs.available < ctx.replicas:
        return
    old_stable = ctx.stable_rs
    draft.stable_rs = ctx.desired_hash
    ctx.stable_rs = new_rs
    draft.promote_full = False
    draft.clear_pauses()
    draft.step_run = draft.background_run = None
    ctx.plan.event("RolloutCompleted", f"Revision {ctx.desired_hash} is now stable")
    if old_stable is not None and old_stable is not new_rs and c.routed:
        delay = c.spec.scale_down_delay_seconds
        delay = DEFAULT_SCALE_DOWN_DELAY_SECONDS if delay is None else delay
        revisions.keep_for(ctx, old_stable, delay_seconds=delay)
    elif old_stable is not None and old_stable is not new_rs:
        ctx.scale(old_stable, 0)


# --- 9. steps -------------------------------------------------------------------------------------


def _advance_step(c: Canary) -> None:
    ctx, draft, step = c.ctx, c.ctx.draft, c.step
    if step is None or c.promoted:
        return
    if step.pause is not None:
        done = _pause_done(c)
    elif step.analysis is not None:
        done = draft.step_run is not None and draft.step_run.status == "Successful"
    elif step.set_weight is not None and c.routed:
        done = at_desired_counts(c) and ctx.snap.router_canary_weight == step.set_weight
        if at_desired_counts(c) and not done:
            ctx.plan.wake_after(_seconds(10))  # re-read the router until it shows the weight
    else:
        done = at_desired_counts(c)
    if not done:
        return
    draft.unpause(PauseReason.CANARY_PAUSE_STEP)
    draft.controller_pause = bool(draft.pause_conditions)
    draft.step_run = None
    draft.current_step_index = c.index + 1
    ctx.plan.event("RolloutStepCompleted", f"Step {c.index}/{len(c.steps)} completed ({_describe(step)})")


def _pause_done(c: Canary) -> bool:
    """A timed pause ends at start+duration; an open pause when the user clears its condition."""
    ctx, draft = c.ctx, c.ctx.draft
    pause = c.step.pause if c.step is not None else None
    assert pause is not None
    started = draft.pause_conditions.get(PauseReason.CANARY_PAUSE_STEP)
    if started is None:
        if draft.controller_pause:
            return True  # the user promoted: the condition we set is gone
        draft.pause(PauseReason.CANARY_PAUSE_STEP, ctx.now)
        started = ctx.now
    seconds = pause.seconds
    if seconds is None:
        return False
    end = started + _seconds(seconds)
    if ctx.now >= end:
        return True
    ctx.plan.wake_at(end)
    return False


def _describe(step: CanaryStep) -> str:
    if step.set_weight is not None:
        return f"setWeight: {step.set_weight}"
    if step.pause is not None:
        return "pause" if step.pause.duration is None else f"pause: {step.pause.duration}"
    if step.analysis is not None:
        return "analysis"
    return "setCanaryScale"


# --- 10. retire and finish ------------------------------------------------------------------------


def _retire(c: Canary) -> None:
    ctx = c.ctx
    if c.routed or ctx.draft.abort:
        revisions.retire_old(ctx, services=c.services())
    revisions.delete_beyond_history(ctx)
    _, unavailable = _surge_unavailable(c)
    restart_at = ctx.rollout.spec.restart_at
    done = revisions.restart_pods(ctx, batch=max(1, unavailable))
    if done and restart_at is not None and ctx.now >= restart_at:
        ctx.draft.restarted_at = restart_at


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _finish(c: Canary) -> Plan:
    ctx, draft = c.ctx, c.ctx.draft
    counts = counts_of(ctx)
    new_rs = ctx.new_rs
    older_pods = sum(rs.actual for rs in ctx.older)
    completed = (
        c.promoted
        and new_rs is not None
        and new_rs.available >= ctx.replicas
        and older_pods == 0
        and (ctx.stable_rs is None or ctx.stable_rs is new_rs)
    )
    pause_message = ""
    if ctx.rollout.spec.paused:
        pause_message = "Rollout is paused by the user (spec.paused)"
    elif draft.pause_conditions:
        pause_message = ", ".join(str(reason) for reason in sorted(draft.pause_conditions))
    verdict = Verdict(
        aborted=draft.abort,
        abort_message=c.abort_message,
        timed_out=c.timed_out,
        paused=bool(pause_message),
        pause_message=pause_message,
        completed=completed,
        progressed=progressed(ctx),
        retried=c.retried,
        available=counts.available >= ctx.replicas,
        progress_message=_progress_message(c),
        rollout_name=ctx.name,
    )
    return finish(ctx, verdict=verdict, canary=True)


def _progress_message(c: Canary) -> str:
    if c.promoted:
        return f"ReplicaSet {c.ctx.name}-{c.ctx.desired_hash} is progressing"
    if c.step is None:
        return "waiting for the canary to be fully available before promotion"
    return f"at step {c.index + 1} of {len(c.steps)} ({_describe(c.step)})"
