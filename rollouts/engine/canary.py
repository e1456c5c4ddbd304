"""The canary step machine: one pass from (Rollout, observed cluster, now) to a Plan.

A pass is the straight list in :func:`decide`. Each rule is a small function over the per-pass
:class:`Canary` context and may end the pass early. In words:

1. **Follow the template and the steps.** A first deploy becomes stable at once. A new pod
   template, or an edit of ``steps`` mid-update (noticed through ``status.currentStepHash``),
   starts the steps again from the first (clearing pause, abort and analysis state); going back
   to the stable template skips every step ("rollback to stable"), and so does going back to a
   revision within ``spec.rollbackWindow`` (promoted in full, as ``promoteFull`` does).
2. **User requests.** Clearing ``status.abort`` after an abort is a retry: the steps start again
   with fresh analysis. ``status.promoteFull`` skips the remaining steps and analysis.
3. **Analysis.** The current step's run and the background run are started or read: Successful
   completes an analysis step, Failed/Error aborts, Inconclusive pauses for a human
   (``canary_analysis.py``); an experiment step's Experiment likewise (``canary_experiment.py``).
4. **Progress deadline.** No progress for ``progressDeadlineSeconds`` marks the update Degraded
   (and aborts it with ``progressDeadlineAbort``).
5. **Abort** (by a user, analysis or the deadline): all traffic to stable at once, the canary
   scaled down after ``abortScaleDownDelaySeconds`` (0 keeps it), phase Degraded. End of pass.
   With ``dynamicStableScale`` the traffic goes back as fast as the stable grows, and (without
   an explicit delay) the canary shrinks with its traffic.
6. **Size** the canary and stable ReplicaSets for the weight in force (``canary_sizing.py``).
7. **Promote** once every step is done and the canary runs fully available at its promotion size
   (full size; without traffic routing, as many pods as fit beside the stable's last pod, which
   is kept until the stable Service has switched); with traffic routing the old stable is kept
   for ``scaleDownDelaySeconds``, without it goes to zero right after the switch. With
   ``pingPong`` no selector moves: all traffic goes to the canary's Service, then the two
   Services swap roles in ``status.canary.stablePingPong`` in a pass that ends there.
8. **Route traffic**: Services and router weight, only ever onto a fully available ReplicaSet
   (``canary_traffic.py``), then the header and mirror routes the steps have set
   (``canary_routes.py``); a route step completes once the router reads them back.
9. **Advance** the current step when it is complete (not while ``spec.paused``, nor while an
   inconclusive analysis waits for a human). A step completed while nothing is planned yet goes
   on at once: 6-9 run again for the next step, so a transition is one pass (one status write).
10. **Retire** old ReplicaSets, clean up history, restart pods for ``restartAt``.

The two delays default as in Argo Rollouts, and only apply with traffic routing (see
:func:`scale_down_delay_seconds` and :func:`abort_scale_down_delay_seconds`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cached_property
from typing import Literal

from rollouts.api.enums import PauseReason, PingPongRole
from rollouts.api.strategy import DEFAULT_SCALE_DOWN_DELAY_SECONDS, CanaryStep, CanaryStrategy
from rollouts.engine import revisions
from rollouts.engine.canary_analysis import judge_analysis
from rollouts.engine.canary_experiment import experiment_done, judge_experiment
from rollouts.engine.canary_routes import route_requests, routes_in_force
from rollouts.engine.canary_sizing import (
    at_desired_counts,
    promotion_size,
    size_basic,
    size_replica_sets,
    surge_and_unavailable,
)
from rollouts.engine.canary_traffic import restore_old_routing, route_traffic
from rollouts.engine.context import PassContext
from rollouts.engine.hashing import steps_hash
from rollouts.engine.outcome import check_progress_deadline, counts_of, finish
from rollouts.engine.plan import Plan
from rollouts.engine.replicas import traffic_routed_canary_counts
from rollouts.engine.snapshot import Snapshot

__all__ = ["Canary", "abort_scale_down_delay_seconds", "decide", "scale_down_delay_seconds"]


def scale_down_delay_seconds(spec: CanaryStrategy) -> int:
    """Seconds the previous stable ReplicaSet is kept after promotion, as the engine applies them.

    With traffic routing: ``scaleDownDelaySeconds``, 30 when unset (Argo Rollouts' default).
    Without: 0, because the old pods are replaced during the update itself (the API rejects
    the field there).
    """
    if spec.traffic_routing is None:
        return 0
    value = spec.scale_down_delay_seconds
    return DEFAULT_SCALE_DOWN_DELAY_SECONDS if value is None else value


def abort_scale_down_delay_seconds(spec: CanaryStrategy) -> int | None:
    """Seconds the canary is kept after an abort; 0 keeps it; ``None`` when it does not apply.

    With traffic routing: ``abortScaleDownDelaySeconds``, 30 when unset (Argo Rollouts' default).
    Without traffic routing the field has no effect (``None``): the canary's pods are replaced by
    stable pods at once, within ``maxSurge``/``maxUnavailable``.
    """
    if spec.traffic_routing is None:
        return None
    value = spec.abort_scale_down_delay_seconds
    return DEFAULT_SCALE_DOWN_DELAY_SECONDS if value is None else value


@dataclass
class Canary:
    """Per-pass canary facts on top of the shared :class:`PassContext`."""

    ctx: PassContext
    spec: CanaryStrategy
    steps: list[CanaryStep]

    @property
    def routed(self) -> bool:
        return self.spec.traffic_routing is not None

    @cached_property
    def steps_hash(self) -> str:
        """The hash of ``steps`` as the status records it in ``currentStepHash``."""
        dumped = [step.model_dump(by_alias=True, exclude_none=True, mode="json") for step in self.steps]
        return steps_hash(dumped)

    @property
    def index(self) -> int:
        """The current step index (``len(steps)`` once every step is done)."""
        index = self.ctx.draft.current_step_index
        return len(self.steps) if index is None else min(index, len(self.steps))

    @property
    def first_index(self) -> int | None:
        """``currentStepIndex`` at the start of the steps (``None``: a canary without steps)."""
        return 0 if self.steps else None

    @property
    def done_index(self) -> int | None:
        """``currentStepIndex`` once every step is done (``None``: a canary without steps)."""
        return len(self.steps) if self.steps else None

    @property
    def step(self) -> CanaryStep | None:
        return self.steps[self.index] if self.index < len(self.steps) else None

    @property
    def promoted(self) -> bool:
        """The desired revision is the stable one: no canary is in progress."""
        return self.ctx.draft.stable_rs == self.ctx.desired_hash

    @property
    def total(self) -> int:
        """What weights count out of: 100, or ``trafficRouting.maxTrafficWeight``."""
        return self.spec.weight_total()

    def weight_in_force(self) -> int:
        """The last ``setWeight`` at or before the current step; the total once every step is done."""
        if self.index >= len(self.steps):
            return self.total
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
    if canary_spec.ping_pong is not None:
        snapshot = replace(snapshot, rollout=snapshot.rollout.with_service_roles())
        canary_spec = snapshot.rollout.spec.strategy.canary
        assert canary_spec is not None
    c = Canary(ctx=PassContext.start(snapshot), spec=canary_spec, steps=list(canary_spec.steps or []))
    draft = c.ctx.draft
    draft.stable_ping_pong = (draft.stable_ping_pong or PingPongRole.PING) if canary_spec.ping_pong else None
    _follow_template_and_steps(c)
    _take_user_requests(c)
    restore_old_routing(c)
    failure = judge_analysis(c) or judge_experiment(c)
    if failure is not None:
        c.ctx.abort_with(failure)
    check_progress_deadline(c.ctx, exempt=c.promoted or _waits_on_its_own_clock(c))
    if c.ctx.draft.abort:
        _abort(c)
        return _finish(c)
    for _ in range(len(c.steps) + 1):
        size_replica_sets(c)
        if _promote_when_done(c) == "swapped":
            # The Services just swapped roles: this pass's reads hold the old ones, so the Services
            # and the router are left as they are (all traffic on the new stable) until the next pass.
            break
        _route(c)
        if snapshot.rollout.spec.paused or _held_for_a_human(c):
            break
        # A step completed with nothing to change in the cluster (a pause ended, a weight was read
        # back) goes straight on to the next one in the same pass: one status write and one router
        # write per transition instead of a pass for the index and another for the weight.
        if not _advance_step(c) or c.ctx.plan.planned():
            break
    _retire(c)
    return _finish(c)


def _route(c: Canary) -> None:
    """Services and weight, then the header and mirror routes (which need the canary selected)."""
    route_traffic(c)
    route_requests(c)


# --- 1-2. template, steps and user requests -------------------------------------------------------


def _follow_template_and_steps(c: Canary) -> None:
    ctx, draft = c.ctx, c.ctx.draft
    recorded = draft.current_step_hash
    steps_changed = recorded is not None and recorded != c.steps_hash
    draft.current_step_hash = c.steps_hash
    if not draft.stable_rs:
        draft.stable_rs = ctx.desired_hash
        draft.current_step_index = c.done_index
        ctx.stable_rs = ctx.new_rs
        ctx.plan.event("RolloutUpdated", f"Initial deploy of revision {ctx.desired_hash}: no steps to run")
        return
    template_changed = draft.current_pod_hash != ctx.desired_hash
    if not template_changed and not steps_changed:
        return
    draft.restart_update()
    draft.current_step_index = c.done_index if c.promoted else c.first_index
    if c.promoted:
        if template_changed:
            ctx.plan.event("SkipSteps", f"Rollback to stable revision {ctx.desired_hash}: skipping all steps")
    elif template_changed and revisions.promote_within_window(ctx):
        draft.current_step_index = c.done_index
    elif template_changed:
        ctx.plan.event("RolloutUpdated", f"New revision {ctx.desired_hash}: starting the canary steps")
    else:
        ctx.plan.event(
            "RolloutStepsChanged",
            f"spec.strategy.canary.steps changed: restarting revision {ctx.desired_hash} from the first step",
        )


def _take_user_requests(c: Canary) -> None:
    draft = c.ctx.draft
    c.ctx.read_abort_state()
    if draft.promote_full and not c.promoted and not draft.abort:
        draft.current_step_index = c.done_index
        draft.clear_pauses()


# --- 4-5. progress deadline and abort -------------------------------------------------------------


def _waits_on_its_own_clock(c: Canary) -> bool:
    """An analysis or experiment step may take longer than the deadline; a pause step is about to pause."""
    step = c.step
    return step is not None and (
        step.analysis is not None or step.pause is not None or step.experiment is not None
    )


def _abort(c: Canary) -> None:
    """All traffic back to stable first; the canary goes after the abort delay (0 keeps it)."""
    ctx, draft = c.ctx, c.ctx.draft
    if c.promoted:
        # Nothing left to undo, but a promotion may still be finishing (without surge room the
        # new stable is promoted one pod short): it still grows to full size.
        size_replica_sets(c)
        _route(c)
        _retire(c)
        return
    draft.current_step_index = c.first_index
    draft.clear_pauses()
    delay = abort_scale_down_delay_seconds(c.spec)
    if delay is None:
        size_basic(c, weight=0)
        _route(c)
    else:
        ctx.scale(ctx.stable_rs, ctx.replicas)
        _route(c)
        if c.spec.dynamic_stable_scale and c.spec.abort_scale_down_delay_seconds is None:
            _shrink_canary_with_its_traffic(c)
        elif delay > 0 and draft.aborted_at is not None:
            deadline = draft.aborted_at + _seconds(delay)
            if ctx.now >= deadline:
                _scale_down_aborted_canary(c)
            else:
                ctx.plan.wake_at(deadline)
    _retire(c)


def _shrink_canary_with_its_traffic(c: Canary) -> None:
    """``dynamicStableScale`` without an explicit abort delay: the canary keeps the pods for the
    weight it still has (the higher of what the router shows and what this pass sets), and goes
    once the weight is 0."""
    ctx, new_rs = c.ctx, c.ctx.new_rs
    weight = max(ctx.snap.router_canary_weight or 0, ctx.draft.canary_weight or 0)
    if weight == 0 or new_rs is None:
        _scale_down_aborted_canary(c)
        return
    needed = traffic_routed_canary_counts(
        replicas=ctx.replicas, weight=weight, min_pods=c.spec.min_pods_per_replica_set, total=c.total
    ).canary
    ctx.scale(new_rs, min(ctx.size(new_rs), needed))


def _scale_down_aborted_canary(c: Canary) -> None:
    """The canary Service follows the stable first: no Service may select a revision without pods."""
    ctx, new_rs = c.ctx, c.ctx.new_rs
    if new_rs is None:
        return
    revisions.point_service_back(ctx, c.spec.canary_service, ctx.stable_rs)
    if not revisions.selected_by_any(ctx, new_rs, services=c.services()):
        ctx.scale(new_rs, 0)


# --- 7. promotion ---------------------------------------------------------------------------------


def _promote_when_done(c: Canary) -> Literal["promoted", "swapped"] | None:
    """Make the canary stable once every step is done and all its pods are available.

    With pingPong the stable Service's selector never moves: all traffic first goes to the
    canary's Service (the router reads it back), then the two Services swap roles in the status
    (``"swapped"``), which changes nothing that serves traffic."""
    ctx, draft = c.ctx, c.ctx.draft
    new_rs = ctx.new_rs
    if c.promoted or c.index < len(c.steps) or new_rs is None:
        return None
    size = promotion_size(c)
    if new_rs.replicas < size or new_rs.available < size or not ctx.available(new_rs):
        return None
    ping_pong = c.spec.ping_pong is not None
    if ping_pong and ctx.snap.router_canary_weight != c.total:
        return None  # route_traffic moves all traffic to the canary's Service first
    old_stable = ctx.stable_rs
    draft.stable_rs = ctx.desired_hash
    ctx.stable_rs = new_rs
    draft.promote_full = False
    draft.clear_pauses()
    draft.step_run = draft.background_run = draft.experiment = None
    ctx.plan.event("RolloutCompleted", f"Revision {ctx.desired_hash} is now stable")
    if ping_pong:
        _swap_ping_pong(c)
    if old_stable is not None and old_stable is not new_rs:
        if c.routed:
            revisions.keep_for(ctx, old_stable, delay_seconds=scale_down_delay_seconds(c.spec))
        else:
            ctx.scale(old_stable, 0)
    return "swapped" if ping_pong else "promoted"


def _swap_ping_pong(c: Canary) -> None:
    """The canary's Service, which has all the traffic, becomes the stable one: the new canary
    Service (the old stable's) has weight 0 from now on."""
    draft, ping_pong = c.ctx.draft, c.spec.ping_pong
    assert ping_pong is not None
    was = draft.stable_ping_pong or PingPongRole.PING
    draft.stable_ping_pong = was.other()
    draft.canary_weight = 0
    c.ctx.plan.event(
        "PingPongSwapped",
        f"Service {ping_pong.service(was.other())} ({was.other()}) is now stable with all traffic;"
        f" {ping_pong.service(was)} ({was}) takes the next canary",
    )


# --- 9. steps -------------------------------------------------------------------------------------


def _held_for_a_human(c: Canary) -> bool:
    """An inconclusive analysis or experiment holds the current step until someone promotes or aborts."""
    held = (PauseReason.INCONCLUSIVE_ANALYSIS_RUN, PauseReason.INCONCLUSIVE_EXPERIMENT)
    return any(reason in c.ctx.draft.pause_conditions for reason in held)


def _advance_step(c: Canary) -> bool:
    """Complete the current step when it is done; True when it was."""
    ctx, draft, step = c.ctx, c.ctx.draft, c.step
    if step is None or c.promoted:
        return False
    if step.pause is not None:
        done = _pause_done(c)
    elif step.analysis is not None:
        done = draft.step_run is not None and draft.step_run.status == "Successful"
    elif step.experiment is not None:
        done = experiment_done(c)
    elif step.set_weight is not None and c.routed:
        done = at_desired_counts(c) and ctx.snap.router_canary_weight == step.set_weight
        if at_desired_counts(c) and not done:
            ctx.plan.wake_after(_seconds(10))  # re-read the router until it shows the weight
    elif step.managed_route() is not None:
        done = ctx.snap.router_routes == routes_in_force(c)
        if not done:
            ctx.plan.wake_after(_seconds(10))  # re-read the router until it shows the routes
    else:
        done = at_desired_counts(c)
    if not done:
        return False
    draft.unpause(PauseReason.CANARY_PAUSE_STEP)
    draft.controller_pause = bool(draft.pause_conditions)
    draft.step_run = draft.experiment = None
    draft.current_step_index = c.index + 1
    ctx.plan.event("RolloutStepCompleted", f"Step {c.index}/{len(c.steps)} completed ({_describe(step)})")
    return True


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
    if step.experiment is not None:
        duration = step.experiment.duration
        return "experiment" if duration is None else f"experiment: {duration}"
    if step.set_header_route is not None:
        return f"setHeaderRoute: {step.set_header_route.name}"
    if step.set_mirror_route is not None:
        return f"setMirrorRoute: {step.set_mirror_route.name}"
    return "setCanaryScale"


# --- 10. retire and finish ------------------------------------------------------------------------


def _retire(c: Canary) -> None:
    ctx = c.ctx
    if c.routed or ctx.draft.abort:
        revisions.retire_old(
            ctx, services=c.services(), revision_limit=c.spec.scale_down_delay_revision_limit
        )
    revisions.delete_beyond_history(ctx)
    revisions.drop_stable_anti_affinity(ctx)
    revisions.sync_pod_metadata(ctx)
    _, unavailable = surge_and_unavailable(c)
    restart_at = ctx.rollout.spec.restart_at
    done = revisions.restart_pods(ctx, batch=max(1, unavailable))
    if done and restart_at is not None and ctx.now >= restart_at:
        ctx.draft.restarted_at = restart_at


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _completed(c: Canary) -> bool:
    """Healthy: the desired revision is stable and fully available.

    With traffic routing the previous stable is kept on purpose for ``scaleDownDelaySeconds``
    after promotion; it takes no traffic, so it does not make the rollout Progressing (as in Argo
    Rollouts). Otherwise the update itself replaces the old pods, so it is complete only once
    no pod of another revision is left, including the stable this very pass replaced: the phase
    never goes Healthy -> Progressing -> Healthy through a promotion.
    """
    ctx, new_rs = c.ctx, c.ctx.new_rs
    if not c.promoted or new_rs is None or new_rs.available < ctx.replicas:
        return False
    return c.routed or not any(rs.actual for rs in ctx.snap.replica_sets if rs is not new_rs)


def _finish(c: Canary) -> Plan:
    ctx = c.ctx
    return finish(
        ctx,
        canary=True,
        completed=_completed(c),
        available=counts_of(ctx).available >= ctx.replicas,
        progress_message=_progress_message(c),
    )


def _progress_message(c: Canary) -> str:
    if c.promoted:
        return f"ReplicaSet {c.ctx.new_rs_name} is progressing"
    if c.step is None:
        return "waiting for the canary to be fully available before promotion"
    return f"at step {c.index + 1} of {len(c.steps)} ({_describe(c.step)})"
