"""Canary analysis: start, read and act on the step run and the background run.

* An analysis step starts its run when reached; the step completes when the run is Successful.
* The background run starts at ``analysis.startingStep`` (default 0) and runs until promotion.
* Failed or Error aborts the update (the caller aborts with the message returned here).
* Inconclusive pauses with reason ``InconclusiveAnalysisRun``; a promote (the user clearing the
  pause) starts a fresh run instead of reading the inconclusive one again.
* Nothing runs on a first deploy, a rollback to stable, after promote-full or while aborted;
  runs that are no longer current are terminated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rollouts.api.enums import AnalysisPhase, PauseReason
from rollouts.api.strategy import RolloutAnalysis
from rollouts.engine.context import RunRef
from rollouts.engine.runs import act_on_verdicts, current_run, ensure_run, retire_runs
from rollouts.engine.snapshot import AnalysisRunKind

if TYPE_CHECKING:
    from rollouts.engine.canary import Canary

__all__ = ["judge_analysis"]

_INCONCLUSIVE = PauseReason.INCONCLUSIVE_ANALYSIS_RUN


def judge_analysis(c: Canary) -> str | None:
    """Start or read the current runs; return an abort message when one failed."""
    ctx, draft = c.ctx, c.ctx.draft
    if draft.abort or draft.promote_full or c.promoted:
        if not draft.abort:
            draft.step_run = draft.background_run = None
        retire_runs(ctx, keep=set())
        return None
    step = c.step
    if step is not None and step.analysis is not None:
        draft.step_run = _run(c, draft.step_run, AnalysisRunKind.STEP, step.analysis, c.index)
    else:
        draft.step_run = None
    background = c.spec.analysis
    if background is not None and c.index >= (background.starting_step or 0):
        draft.background_run = _run(c, draft.background_run, AnalysisRunKind.BACKGROUND, background, None)
    else:
        draft.background_run = None
    refs = [ref for ref in (draft.step_run, draft.background_run) if ref is not None]
    retire_runs(ctx, keep={ref.name for ref in refs})
    return act_on_verdicts(ctx, refs)


def _run(
    c: Canary, ref: RunRef | None, kind: AnalysisRunKind, analysis: RolloutAnalysis, step: int | None
) -> RunRef:
    ctx, draft = c.ctx, c.ctx.draft
    if _INCONCLUSIVE in draft.pause_conditions:
        return current_run(ctx, ref, kind=kind, step_index=step) or ref or _start(c, kind, analysis, step)
    promoted = (
        ref is not None
        and ref.status == AnalysisPhase.INCONCLUSIVE
        and draft.controller_pause
        and not draft.pause_conditions
    )
    if promoted:
        draft.controller_pause = False
    return ensure_run(ctx, ref, kind=kind, analysis=analysis, step_index=step, fresh=promoted)


def _start(c: Canary, kind: AnalysisRunKind, analysis: RolloutAnalysis, step: int | None) -> RunRef:
    return ensure_run(c.ctx, None, kind=kind, analysis=analysis, step_index=step)
