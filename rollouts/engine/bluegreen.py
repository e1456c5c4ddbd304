"""The blue-green machine: one pass from (Rollout, observed cluster, now) to a Plan.

The sibling of ``canary.py``, the same shape. The straight list in :func:`decide`:

1. **Follow the template.** A first deploy becomes stable (and active) at once. A new pod
   template clears pause, abort and analysis state.
2. **Retry**: clearing ``status.abort`` after an abort starts the update again (``context.py``).
3. **Analysis.** Pre-promotion analysis runs once the new ReplicaSet is up at its preview size
   and gates the switch; post-promotion analysis runs after the switch and gates making the new
   revision stable. Failed/Error aborts; Inconclusive pauses for a human.
4. **Progress deadline**, as for a canary (``outcome.py``), except while an analysis run is
   under way.
5. **Abort**: the active Service goes back to the stable revision at once; the new ReplicaSet is
   scaled down after ``abortScaleDownDelaySeconds`` (0 keeps it). End of pass.
6. **Size**: the new ReplicaSet runs ``previewReplicaCount`` pods until promotion starts, then
   full; the active one stays full.
7. **Preview**: the preview Service points at the new revision once it is fully available.
8. **Pause**: with ``autoPromotionEnabled: false`` the rollout waits for a promote; with
   ``autoPromotionSeconds`` it waits that long (wake-up at the end), then goes on by itself.
9. **Switch** the active Service at once when the new revision runs available at full size,
   pre-promotion analysis passed and the pause is over; the old active is kept warm for
   ``scaleDownDelaySeconds``.
10. **Promote** (stable := new) after the switch, once post-promotion analysis (if any) passed.
11. **Retire** old ReplicaSets, clean up history, restart pods for ``restartAt`` (``maxUnavailable``
    at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rollouts.api.enums import AnalysisPhase, PauseReason
from rollouts.api.strategy import BlueGreenStrategy, RolloutAnalysis
from rollouts.engine import revisions
from rollouts.engine.context import PassContext, RunRef
from rollouts.engine.outcome import check_progress_deadline, finish
from rollouts.engine.plan import AnnotateScaleDownDeadline, Plan
from rollouts.engine.replicas import bluegreen_new_replicas, resolve_int_or_percent
from rollouts.engine.runs import act_on_verdicts, ensure_run, retire_runs
from rollouts.engine.snapshot import AnalysisRunKind, ObservedReplicaSet, Snapshot

__all__ = ["BlueGreen", "decide"]

_PAUSE = PauseReason.BLUE_GREEN_PAUSE
_INCONCLUSIVE = PauseReason.INCONCLUSIVE_ANALYSIS_RUN


@dataclass
class BlueGreen:
    """Per-pass blue-green facts on top of the shared :class:`PassContext`."""

    ctx: PassContext
    spec: BlueGreenStrategy

    @property
    def promoted(self) -> bool:
        return self.ctx.draft.stable_rs == self.ctx.desired_hash

    @property
    def switched(self) -> bool:
        """The active Service already sends production traffic to the desired revision."""
        return self.ctx.draft.active_selector == self.ctx.desired_hash

    @property
    def active_rs(self) -> ObservedReplicaSet | None:
        return self.ctx.snap.replica_set(self.ctx.draft.active_selector)

    def services(self) -> tuple[str | None, ...]:
        return (self.spec.active_service, self.spec.preview_service)


def decide(snapshot: Snapshot) -> Plan:
    """Decide one pass of a blue-green Rollout. Pure: the same snapshot always gives the same plan."""
    spec = snapshot.rollout.spec.strategy.blue_green
    if spec is None:
        raise ValueError("bluegreen.decide needs a Rollout with spec.strategy.blueGreen")
    b = BlueGreen(ctx=PassContext.start(snapshot), spec=spec)
    _observe_selectors(b)
    _follow_template(b)
    b.ctx.read_abort_state()
    failure = _judge_analysis(b)
    if failure is not None:
        b.ctx.abort_with(failure)
    check_progress_deadline(b.ctx, exempt=b.promoted or _analysis_running(b))
    if b.ctx.draft.abort:
        _abort(b)
        return _finish(b)
    _size(b)
    revisions.point_service(b.ctx, spec.preview_service, b.ctx.new_rs)
    if _ready_to_switch(b):
        _switch_active(b)
    _promote_when_done(b)
    _retire(b)
    return _finish(b)


# --- 1-2. template and user requests --------------------------------------------------------------


def _observe_selectors(b: BlueGreen) -> None:
    """The Services are the truth about where traffic goes; the status mirrors them."""
    draft, snap = b.ctx.draft, b.ctx.snap
    active = snap.service(b.spec.active_service)
    preview = snap.service(b.spec.preview_service)
    draft.active_selector = (active.pod_template_hash if active else None) or ""
    draft.preview_selector = (preview.pod_template_hash if preview else None) or ""


def _follow_template(b: BlueGreen) -> None:
    ctx, draft = b.ctx, b.ctx.draft
    if not draft.stable_rs:
        draft.stable_rs = ctx.desired_hash
        ctx.stable_rs = ctx.new_rs
        ctx.plan.event("RolloutUpdated", f"Initial deploy of revision {ctx.desired_hash}")
        return
    if draft.current_pod_hash == ctx.desired_hash:
        return
    draft.restart_update()
    if not revisions.promote_within_window(ctx):
        message = f"New revision {ctx.desired_hash}: bringing it up behind the preview"
        ctx.plan.event("RolloutUpdated", message)


# --- 3. analysis ----------------------------------------------------------------------------------


def _judge_analysis(b: BlueGreen) -> str | None:
    ctx, draft = b.ctx, b.ctx.draft
    if draft.abort or b.promoted or draft.promote_full:
        retire_runs(ctx, keep=set())
        return None
    pre, post = b.spec.pre_promotion_analysis, b.spec.post_promotion_analysis
    if pre is not None and not b.switched and _at_preview_size(b):
        draft.pre_run = _run(b, draft.pre_run, AnalysisRunKind.PRE, pre)
    elif pre is None:
        draft.pre_run = None
    if post is not None and b.switched:
        draft.post_run = _run(b, draft.post_run, AnalysisRunKind.POST, post)
    refs = [ref for ref in (draft.pre_run, draft.post_run) if ref is not None]
    retire_runs(ctx, keep={ref.name for ref in refs})
    return act_on_verdicts(ctx, [draft.post_run] if b.switched else [draft.pre_run])


def _run(b: BlueGreen, ref: RunRef | None, kind: AnalysisRunKind, analysis: RolloutAnalysis) -> RunRef:
    draft = b.ctx.draft
    if _INCONCLUSIVE in draft.pause_conditions and ref is not None:
        return ref
    fresh = ref is not None and ref.status == AnalysisPhase.INCONCLUSIVE and not draft.pause_conditions
    return ensure_run(b.ctx, ref, kind=kind, analysis=analysis, fresh=fresh)


def _analysis_passed(b: BlueGreen, ref: RunRef | None, configured: bool) -> bool:
    return not configured or b.ctx.draft.promote_full or (ref is not None and ref.status == "Successful")


# --- 4-5. deadline and abort ----------------------------------------------------------------------


def _analysis_running(b: BlueGreen) -> bool:
    """A pre- or post-promotion run is under way; it may take longer than the progress deadline."""
    draft = b.ctx.draft
    runs = (draft.pre_run, draft.post_run)
    return any(run is not None and run.status in ("Pending", "Running") for run in runs)


def _abort(b: BlueGreen) -> None:
    """Production traffic back to the stable revision first; the new pods go after the delay."""
    ctx, draft = b.ctx, b.ctx.draft
    draft.clear_pauses()
    if b.promoted:
        return
    revisions.point_service(ctx, b.spec.active_service, ctx.stable_rs)
    delay = b.spec.abort_scale_down_delay_seconds
    if delay > 0 and draft.aborted_at is not None:
        deadline = draft.aborted_at + timedelta(seconds=delay)
        if ctx.now >= deadline and ctx.new_rs is not None:
            # The preview Service follows the stable first: no Service selects a revision
            # scaled to zero (nor the active one, switched back above if it could be).
            revisions.point_service_back(ctx, b.spec.preview_service, ctx.stable_rs)
            if not revisions.selected_by_any(ctx, ctx.new_rs, services=b.services()):
                ctx.scale(ctx.new_rs, 0)
        else:
            ctx.plan.wake_at(deadline)
    _refresh_selectors(b)
    _retire(b)


# --- 6-9. size, pause, switch ---------------------------------------------------------------------


def _promotion_started(b: BlueGreen) -> bool:
    new_rs = b.ctx.new_rs
    return (
        b.promoted
        or b.switched
        or (new_rs is not None and new_rs.replicas >= b.ctx.replicas)
        or (_pre_passed(b) and _pause_over(b, dry_run=True))
    )


def _size(b: BlueGreen) -> None:
    ctx = b.ctx
    size = bluegreen_new_replicas(
        replicas=ctx.replicas,
        preview_replica_count=b.spec.preview_replica_count,
        promoted=_promotion_started(b),
    )
    ctx.scale(ctx.ensure_new_rs(replicas=size), size)
    if ctx.stable_rs is not ctx.new_rs and not b.promoted:
        ctx.scale(ctx.stable_rs, ctx.replicas)


def _at_preview_size(b: BlueGreen) -> bool:
    new_rs, ctx = b.ctx.new_rs, b.ctx
    want = bluegreen_new_replicas(
        replicas=ctx.replicas, preview_replica_count=b.spec.preview_replica_count, promoted=False
    )
    return new_rs is not None and new_rs.replicas >= want and new_rs.available >= want


def _pre_passed(b: BlueGreen) -> bool:
    """Pre-promotion analysis passed, or is not asked for: the desired revision is already the
    stable one (a first deploy, or back to the stable template), which is never analysed."""
    if b.promoted:
        return True
    return _analysis_passed(b, b.ctx.draft.pre_run, b.spec.pre_promotion_analysis is not None)


def _pause_over(b: BlueGreen, *, dry_run: bool = False) -> bool:
    """Whether the pause before the switch is over; starts it when the preview is ready."""
    ctx, draft, spec = b.ctx, b.ctx.draft, b.spec
    pauses = not spec.auto_promotion_enabled or spec.auto_promotion_seconds is not None
    if not pauses or draft.promote_full or b.switched or ctx.stable_rs is ctx.new_rs:
        return True
    started = draft.pause_conditions.get(_PAUSE)
    if started is None:
        if draft.controller_pause and _INCONCLUSIVE not in draft.pause_conditions:
            return True  # promoted by the user, or the auto-promotion time passed earlier
        if not dry_run and _at_preview_size(b):
            draft.pause(_PAUSE, ctx.now)
            ctx.plan.event("RolloutPaused", "New revision is ready behind the preview Service")
        return False
    if spec.auto_promotion_enabled and spec.auto_promotion_seconds is not None:
        end = started + timedelta(seconds=spec.auto_promotion_seconds)
        if ctx.now >= end:
            if not dry_run:
                draft.unpause(_PAUSE)
            return True
        ctx.plan.wake_at(end)
    return False


def _ready_to_switch(b: BlueGreen) -> bool:
    ctx = b.ctx
    if b.switched or ctx.rollout.spec.paused or ctx.new_rs is None:
        return False
    if not _pre_passed(b) or not _pause_over(b):
        return False
    return ctx.new_rs.replicas >= ctx.replicas and ctx.available(ctx.new_rs)


def _switch_active(b: BlueGreen) -> None:
    ctx, draft, new_rs = b.ctx, b.ctx.draft, b.ctx.new_rs
    assert new_rs is not None
    old_active = b.active_rs
    revisions.point_service(ctx, b.spec.active_service, new_rs)
    if new_rs.scale_down_at is not None:
        ctx.plan.add(AnnotateScaleDownDeadline(name=new_rs.name, deadline=None))
    if old_active is not None and old_active is not new_rs:
        revisions.keep_for(ctx, old_active, delay_seconds=b.spec.scale_down_delay_seconds)
    draft.clear_pauses()
    _refresh_selectors(b)


def _refresh_selectors(b: BlueGreen) -> None:
    draft, ctx = b.ctx.draft, b.ctx
    draft.active_selector = revisions.selector_after_plan(ctx, b.spec.active_service) or ""
    draft.preview_selector = revisions.selector_after_plan(ctx, b.spec.preview_service) or ""


# --- 10-11. promote, retire, finish ---------------------------------------------------------------


def _promote_when_done(b: BlueGreen) -> None:
    ctx, draft = b.ctx, b.ctx.draft
    _refresh_selectors(b)
    if b.promoted or not b.switched:
        return
    if not _analysis_passed(b, draft.post_run, b.spec.post_promotion_analysis is not None):
        return
    draft.stable_rs = ctx.desired_hash
    draft.promote_full = False
    draft.clear_pauses()
    ctx.plan.event("RolloutCompleted", f"Revision {ctx.desired_hash} is now stable")


def _retire(b: BlueGreen) -> None:
    ctx = b.ctx
    revisions.retire_old(ctx, services=b.services(), revision_limit=b.spec.scale_down_delay_revision_limit)
    revisions.delete_beyond_history(ctx)
    revisions.drop_stable_anti_affinity(ctx)
    revisions.sync_pod_metadata(ctx)
    restart_at = ctx.rollout.spec.restart_at
    batch = resolve_int_or_percent(b.spec.max_unavailable, total=ctx.replicas, round_up=False)
    if revisions.restart_pods(ctx, batch=batch) and restart_at is not None and ctx.now >= restart_at:
        ctx.draft.restarted_at = restart_at


def _finish(b: BlueGreen) -> Plan:
    ctx = b.ctx
    new_rs, active = ctx.new_rs, b.active_rs
    # Healthy once the desired revision is active, stable and fully available. The previous
    # active kept warm for scaleDownDelaySeconds takes no traffic and does not count (as in Argo
    # Rollouts), so the phase stays Healthy from the promotion on instead of going back to
    # Progressing while it waits.
    completed = b.promoted and b.switched and new_rs is not None and new_rs.available >= ctx.replicas
    return finish(
        ctx,
        canary=False,
        completed=completed,
        available=active is not None and active.available >= ctx.replicas,
        progress_message=_progress_message(b),
    )


def _progress_message(b: BlueGreen) -> str:
    if not b.switched:
        return f"waiting for revision {b.ctx.desired_hash} to be ready and promoted"
    if not b.promoted:
        return "active Service switched; waiting for post-promotion analysis"
    return f"waiting for ReplicaSet {b.ctx.new_rs_name} to be fully available"
