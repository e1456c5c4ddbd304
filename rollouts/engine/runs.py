"""AnalysisRun bookkeeping shared by both strategies: which run is current, start one, stop the rest.

The status remembers each current run by name (``RunRef``, the status's own
:class:`~rollouts.api.status.RolloutAnalysisRunStatus`). A run's name is deterministic,
``<rollout>-<hash>-<kind>[-<step>]-<attempt>``, where ``attempt`` counts the runs of that name
prefix already in the cluster. So:

* a pass that crashed after creating a run but before writing status adopts the run it finds
  (a run of the right kind and revision that has not finished) instead of starting a twin;
* a retry after an abort, or a promote after an inconclusive result, starts a fresh attempt
  rather than re-reading the old verdict;
* every run that is not current and still running is terminated at the end of the pass;
* finished runs of earlier revisions beyond ``spec.analysis``'s history limits (5 successful, 5
  unsuccessful by default, as in Argo) are deleted, the oldest first. The runs of the revision
  being delivered are kept, and a new attempt's number is one more than the highest in the
  cluster, so a deleted run's name is never given to a new one.

Judging a run's measurements is ``analysis.py``'s job; here only its phase is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from rollouts.api.enums import AnalysisPhase, PauseReason
from rollouts.api.rollout_analysis import AnalysisRunHistory
from rollouts.api.strategy import RolloutAnalysis
from rollouts.engine.analysis_runs import build_analysis_run
from rollouts.engine.context import PassContext, RunRef, draft_from
from rollouts.engine.plan import CreateAnalysisRun, DeleteAnalysisRun, TerminateAnalysisRun
from rollouts.engine.snapshot import AnalysisRunKind, ObservedAnalysisRun

__all__ = ["act_on_verdicts", "current_run", "ensure_run", "retire_runs"]


def _prefix(ctx: PassContext, kind: AnalysisRunKind, step_index: int | None) -> str:
    step = "" if step_index is None else f"-{step_index}"
    return f"{ctx.name}-{ctx.desired_hash}-{kind.value}{step}-"


def _ref(run: ObservedAnalysisRun) -> RunRef:
    """The status's record of an observed run (an empty message becomes ``None``, as the status writes it)."""
    return RunRef(name=run.name, status=run.phase, message=run.message or None)


def _belongs(run: ObservedAnalysisRun, ctx: PassContext, kind: AnalysisRunKind, step: int | None) -> bool:
    return run.kind is kind and run.pod_template_hash == ctx.desired_hash and run.step_index == step


def current_run(
    ctx: PassContext, ref: RunRef | None, *, kind: AnalysisRunKind, step_index: int | None = None
) -> RunRef | None:
    """The status's run reference refreshed from the cluster, or ``None`` when it is not current.

    A reference to a run of another revision, kind or step is not current. A referenced run that
    the cluster does not show yet (created a moment ago) keeps its last known phase.
    """
    if ref is None:
        return None
    observed = ctx.snap.analysis_run(ref.name)
    if observed is None:
        return ref if ref.name.startswith(_prefix(ctx, kind, step_index)) else None
    if not _belongs(observed, ctx, kind, step_index):
        return None
    return _ref(observed)


def ensure_run(
    ctx: PassContext,
    ref: RunRef | None,
    *,
    kind: AnalysisRunKind,
    analysis: RolloutAnalysis,
    step_index: int | None = None,
    fresh: bool = False,
) -> RunRef:
    """The current run for this kind/step, starting one when there is none (or ``fresh`` asks).

    ``fresh`` is for a retry or a promote after an inconclusive run: the old verdict must not
    be read again, so a new attempt starts.
    """
    current = None if fresh else current_run(ctx, ref, kind=kind, step_index=step_index)
    if current is not None:
        return current
    prefix = _prefix(ctx, kind, step_index)
    if not fresh:
        for run in ctx.snap.analysis_runs:
            unfinished = not AnalysisPhase(run.phase).is_completed() and not run.terminating
            if _belongs(run, ctx, kind, step_index) and unfinished and run.name.startswith(prefix):
                return _ref(run)
    attempts = [run.name[len(prefix) :] for run in ctx.snap.analysis_runs if run.name.startswith(prefix)]
    attempt = 1 + max((int(n) for n in attempts if n.isdigit()), default=0)
    name = f"{prefix}{attempt}"
    action = CreateAnalysisRun(
        name=name, kind=kind, pod_template_hash=ctx.desired_hash, analysis=analysis, step_index=step_index
    )
    templates = ctx.snap.templates
    if templates is not None:  # AnalysisRunError leaves decide(): nothing of this plan is carried out
        action = replace(
            action, run=build_analysis_run(rollout=ctx.rollout, action=action, templates=templates)
        )
    ctx.plan.add(action)
    ctx.plan.event("AnalysisRunCreated", f"Started {kind.value} AnalysisRun {name}")
    return RunRef(name=name, status=AnalysisPhase.PENDING)


def retire_runs(ctx: PassContext, keep: set[str]) -> None:
    """Terminate every run that is still going but no longer current (named in ``keep``), and
    delete the finished ones of earlier revisions beyond the history limits and those whose
    ``ttlStrategy`` has run out."""
    for run in sorted(ctx.snap.analysis_runs, key=lambda r: r.name):
        if run.name in keep or run.terminating or AnalysisPhase(run.phase).is_completed():
            continue
        ctx.plan.add(TerminateAnalysisRun(name=run.name))
    for name in sorted(_beyond_history(ctx) | _expired(ctx)):
        ctx.plan.add(DeleteAnalysisRun(name=name))


def _beyond_history(ctx: PassContext) -> set[str]:
    """The finished runs of earlier revisions beyond the history limits (the oldest of each outcome)."""
    history = ctx.rollout.spec.analysis or AnalysisRunHistory()
    limits = {True: history.successful_run_history_limit, False: history.unsuccessful_run_history_limit}
    finished = [
        run
        for run in ctx.snap.analysis_runs
        if run.pod_template_hash != ctx.desired_hash and AnalysisPhase(run.phase).is_completed()
    ]
    newest_first = sorted(finished, key=lambda r: (r.created is not None, r.created, r.name), reverse=True)
    beyond: set[str] = set()
    for successful, limit in limits.items():
        runs = [r for r in newest_first if (r.phase is AnalysisPhase.SUCCESSFUL) == successful]
        beyond.update(r.name for r in runs[limit:])
    return beyond


def _expired(ctx: PassContext) -> set[str]:
    """Finished runs past their ``ttlStrategy``. A run the status this pass started from names
    goes only once that status holds its final phase: deleted before, its verdict could never be
    read again (this pass may have read it, but its status write can still fail). The pass wakes
    when the next one is due."""
    due: set[str] = set()
    for run in ctx.snap.analysis_runs:
        if run.expires is not None and ctx.now < run.expires:
            ctx.plan.wake_at(run.expires)
        elif run.expires is not None:
            due.add(run.name)
    if not due:  # the usual case: no status to read back
        return due
    old = draft_from(ctx.old)
    refs = (old.step_run, old.background_run, old.pre_run, old.post_run)
    unread = {ref.name for ref in refs if ref is not None and not AnalysisPhase(ref.status).is_completed()}
    return due - unread


def act_on_verdicts(ctx: PassContext, refs: Iterable[RunRef | None]) -> str | None:
    """Read the verdicts of the current runs: the abort message of the first Failed or Error run.

    An Inconclusive run pauses the rollout (reason ``InconclusiveAnalysisRun``) for a human to
    promote or abort; Running and Successful runs need nothing here (the strategy reads them).
    """
    inconclusive = PauseReason.INCONCLUSIVE_ANALYSIS_RUN
    for ref in refs:
        if ref is None:
            continue
        if ref.status in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
            detail = f": {ref.message}" if ref.message else ""
            return f"AnalysisRun {ref.name} {ref.status}{detail}"
        if ref.status == AnalysisPhase.INCONCLUSIVE and inconclusive not in ctx.draft.pause_conditions:
            ctx.draft.pause(inconclusive, ctx.now)
            ctx.plan.event("RolloutPaused", f"AnalysisRun {ref.name} is inconclusive: waiting for a human")
    return None
