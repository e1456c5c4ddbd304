"""The canary's experiment step: start its Experiment, read its verdict, stop the ones not current.

* Reaching an experiment step starts its Experiment (``CreateExperiment``), named
  ``<rollout>-<hash>-<step>-<attempt>`` like the analysis runs (``runs.py``): a pass that crashed
  after creating one adopts it, and a retry after an abort starts a new attempt.
* Successful completes the step; Failed or Error aborts the update; Inconclusive pauses with
  reason ``InconclusiveExperiment`` for a human: a promote goes on to the next step.
* An open-ended experiment (no duration, no required analysis) pauses the step once it runs; a
  promote goes on (and the experiment, no longer current, is terminated).
* Any experiment of the Rollout that is still running and not the current step's is terminated:
  after the step, an abort, a promote-full or a new revision.
* Weighted templates (NGINX) take the step's traffic only while the experiment runs with every
  template available (``experiment_traffic``): ``canary_traffic`` then sends the sum of their
  weights to the experiment's traffic Service instead of the canary's weight to the canary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rollouts.api.enums import AnalysisPhase, PauseReason
from rollouts.engine.context import RunRef
from rollouts.engine.plan import CreateExperiment, TerminateExperiment
from rollouts.engine.snapshot import ObservedExperiment

if TYPE_CHECKING:
    from rollouts.engine.canary import Canary

__all__ = ["experiment_done", "experiment_traffic", "judge_experiment"]

_INCONCLUSIVE = PauseReason.INCONCLUSIVE_EXPERIMENT


def judge_experiment(c: Canary) -> str | None:
    """Start or read the current step's experiment; the abort message when it failed."""
    draft = c.ctx.draft
    step = c.step
    if draft.abort or draft.promote_full or c.promoted or step is None or step.experiment is None:
        if not draft.abort:
            draft.experiment = None
        _retire(c, keep=None)
        return None
    ref = _current(c, draft.experiment) or _start(c)
    draft.experiment = ref
    _retire(c, keep=ref.name)
    if ref.status in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        detail = f": {ref.message}" if ref.message else ""
        return f"Experiment {ref.name} {ref.status}{detail}"
    if _promoted_by_a_human(c):
        return None
    if ref.status == AnalysisPhase.INCONCLUSIVE and _INCONCLUSIVE not in draft.pause_conditions:
        draft.pause(_INCONCLUSIVE, c.ctx.now)
        c.ctx.plan.event("RolloutPaused", f"Experiment {ref.name} is inconclusive: waiting for a human")
    elif (
        ref.status == AnalysisPhase.RUNNING
        and step.experiment.open_ended
        and PauseReason.CANARY_PAUSE_STEP not in draft.pause_conditions
    ):
        draft.pause(PauseReason.CANARY_PAUSE_STEP, c.ctx.now)
        c.ctx.plan.event(
            "RolloutPaused",
            f"Experiment {ref.name} runs until ended (no duration, no required analysis): promote to go on",
        )
    return None


def experiment_done(c: Canary) -> bool:
    """The step's experiment succeeded, or a human promoted past an inconclusive or open-ended one."""
    ref = c.ctx.draft.experiment
    if ref is None:
        return False
    return ref.status == AnalysisPhase.SUCCESSFUL or (
        _promoted_by_a_human(c) and ref.status in (AnalysisPhase.INCONCLUSIVE, AnalysisPhase.RUNNING)
    )


def experiment_traffic(c: Canary) -> tuple[str, int] | None:
    """The traffic Service and weight of the current step's weighted templates, while its
    experiment runs with every template available; ``None`` otherwise (the canary's own weight)."""
    step, draft = c.step, c.ctx.draft
    if step is None or step.experiment is None or draft.abort or c.promoted or draft.experiment is None:
        return None
    weighted = step.experiment.weighted()
    observed = c.ctx.snap.experiment(draft.experiment.name)
    if not weighted or observed is None or not observed.available or observed.traffic_service is None:
        return None
    return observed.traffic_service, sum(t.weight or 0 for t in weighted)


def _promoted_by_a_human(c: Canary) -> bool:
    """The controller paused this step and the pause conditions are gone: someone promoted."""
    draft = c.ctx.draft
    return draft.controller_pause and not draft.pause_conditions


def _prefix(c: Canary) -> str:
    return f"{c.ctx.name}-{c.ctx.desired_hash}-{c.index}-"


def _belongs(c: Canary, e: ObservedExperiment) -> bool:
    return e.pod_template_hash == c.ctx.desired_hash and e.step_index == c.index


def _ref(e: ObservedExperiment) -> RunRef:
    return RunRef(name=e.name, status=e.phase, message=e.message or None)


def _current(c: Canary, ref: RunRef | None) -> RunRef | None:
    """The status's experiment refreshed from the cluster; ``None`` when it is not this step's."""
    if ref is None:
        return None
    observed = c.ctx.snap.experiment(ref.name)
    if observed is None:
        return ref if ref.name.startswith(_prefix(c)) else None  # created a moment ago
    return _ref(observed) if _belongs(c, observed) else None


def _start(c: Canary) -> RunRef:
    prefix = _prefix(c)
    experiments = c.ctx.snap.experiments
    for e in experiments:
        if _belongs(c, e) and e.name.startswith(prefix) and not e.phase.is_completed() and not e.terminating:
            return _ref(e)  # ours, created by a pass whose status write was lost
    attempts = [e.name[len(prefix) :] for e in experiments if e.name.startswith(prefix)]
    name = f"{prefix}{1 + max((int(n) for n in attempts if n.isdigit()), default=0)}"
    stable = c.ctx.draft.stable_rs
    c.ctx.plan.add(
        CreateExperiment(
            name=name, pod_template_hash=c.ctx.desired_hash, stable_hash=stable, step_index=c.index
        )
    )
    c.ctx.plan.event("ExperimentCreated", f"Started Experiment {name} for step {c.index}")
    return RunRef(name=name, status=AnalysisPhase.PENDING)


def _retire(c: Canary, *, keep: str | None) -> None:
    for e in sorted(c.ctx.snap.experiments, key=lambda e: e.name):
        if e.name != keep and not e.terminating and not e.phase.is_completed():
            c.ctx.plan.add(TerminateExperiment(name=e.name))
