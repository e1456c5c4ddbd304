"""The rows of a delivery plan, read off a :class:`~rollouts.cli.simulation.Simulation`.

Rows are derived only from what the engine did in the simulation (its step index, the actions it
planned, the status it wrote), never from a second reading of the spec, so a row cannot claim
something the controller would not do. A canary gets one row per step; a blue-green rollout one row
per stage (preview, pre-promotion analysis, pause, switch, post-promotion analysis). Both end with
the promotion and, when old pods are kept for a delay, their scale-down.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from rollouts.api import AnalysisTemplateSpec, CanaryStep, PauseReason, RolloutAnalysis, parse_duration
from rollouts.api.experiment_step import RolloutExperimentStep
from rollouts.cli.simulation import PREVIOUS, ExperimentTiming, Moment, Simulation, TemplateKey
from rollouts.engine import AnalysisRunKind, CreateAnalysisRun, ScaleReplicaSet, SwitchServiceSelector
from rollouts.engine.canary_routes import describe_route

__all__ = ["Row", "describe_experiment", "format_duration", "rows_of"]


@dataclass(frozen=True, kw_only=True)
class Row:
    """One line of the plan: what happens at ``at``, the traffic and pods after it, how long it holds."""

    at: timedelta
    step: int | None
    action: str
    weight: float
    """Percent of traffic on the new revision (a fraction with ``maxTrafficWeight``: 0.5)."""
    new_replicas: int
    old_replicas: int
    wait: timedelta | None = None
    manual: bool = False
    note: str = ""


def format_duration(value: timedelta | float) -> str:
    """``1h2m3s``, ``5m``, ``30s``, ``0s``: Go's duration style, which manifests use."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


@dataclass(frozen=True)
class _Reader:
    """Questions about a simulation's moments."""

    sim: Simulation

    def first(self, test: Callable[[Moment], bool], *, after: int = 0) -> int | None:
        moments = self.sim.moments
        return next((i for i in range(after, len(moments)) if test(moments[i])), None)

    def weight(self, m: Moment) -> float:
        """Percent of traffic the new revision receives after moment ``m``."""
        status, desired = m.status, self.sim.desired_hash
        if status.stable_rs == desired:
            return 100
        if self.sim.rollout.spec.strategy.blue_green is not None:
            return 100 if status.blue_green and status.blue_green.active_selector == desired else 0
        canary = self.sim.rollout.spec.strategy.canary
        if m.router_weight is not None and canary is not None:
            return _whole_or_fraction(m.router_weight * 100 / canary.weight_total())
        new, old = m.replicas_of(desired), m.replicas_of(PREVIOUS)
        return round(100 * new / (new + old)) if new + old else 0

    def row(self, index: int, *, start: int | None = None, **fields: object) -> Row:
        m = self.sim.moments[index]
        at = self.sim.moments[start].at if start is not None else m.at
        return Row(
            at=at,
            weight=self.weight(m),
            new_replicas=m.replicas_of(self.sim.desired_hash),
            old_replicas=m.replicas_of(PREVIOUS),
            **fields,  # type: ignore[arg-type]
        )


def _analysis_note(analysis: RolloutAnalysis, templates: Mapping[TemplateKey, AnalysisTemplateSpec]) -> str:
    missing = [
        ref.template_name
        for ref in analysis.templates
        if (ref.cluster_scope, ref.template_name) not in templates
    ]
    if missing:
        return f"template {', '.join(missing)} not in the file: its duration is not counted"
    return ""


def describe_experiment(step: RolloutExperimentStep) -> str:
    """``experiment 10m: baseline (stable, 1 pod), canary (canary, 1 pod); analyses: judge (required)``."""
    duration = "" if step.duration is None else f" {format_duration(parse_duration(step.duration))}"
    templates = ", ".join(
        f"{t.name} ({t.spec_ref}, {t.replicas} pod{'s' if t.replicas != 1 else ''}"
        + (f", weight {t.weight}" if t.weight is not None else "")
        + ")"
        for t in step.templates
    )
    analyses = ", ".join(
        a.name + (" (required)" if a.required_for_completion else "") for a in step.analyses or []
    )
    return f"experiment{duration}: {templates}" + (f"; analyses: {analyses}" if analyses else "")


def _experiment_note(timing: ExperimentTiming | None) -> str:
    """What an experiment step waits for besides its duration."""
    if timing is None:
        return ""
    notes = []
    if timing.open_ended:
        notes.append("runs until promoted (no duration, no required analysis)")
    longer = [
        name
        for name, seconds in timing.analyses
        if seconds is not None and seconds > (timing.duration or 0) and seconds == timing.seconds
    ]
    if longer and timing.seconds:
        notes.append(f"waits for its analyses: {', '.join(longer)} ({format_duration(timing.seconds)})")
    if timing.uncounted:
        notes.append(f"template {', '.join(timing.uncounted)} not in the file: its duration is not counted")
    return "; ".join(notes)


def _step_timing(sim: Simulation, index: int) -> ExperimentTiming | None:
    """The timing of the last Experiment the step started."""
    prefix = f"{sim.rollout.metadata.name}-{sim.desired_hash}-{index}-"
    names = sorted((n for n in sim.experiments if n.startswith(prefix)), key=lambda n: int(n[len(prefix) :]))
    return sim.experiments[names[-1]] if names else None


def _whole_or_fraction(percent: float) -> float:
    """``20`` stays an int (so JSON shows 20, not 20.0); ``0.5`` stays a fraction."""
    return int(percent) if percent == int(percent) else percent


def _describe_step(step: CanaryStep, total: int) -> str:
    """The step as written; a weight out of a ``maxTrafficWeight`` other than 100 says so."""
    of = "" if total == 100 else f"/{total}"
    if step.set_weight is not None:
        return f"setWeight: {step.set_weight}{of}"
    if step.pause is not None:
        return (
            "pause" if step.pause.duration is None else f"pause: {format_duration(step.pause.seconds or 0)}"
        )
    if step.analysis is not None:
        return "analysis: " + ", ".join(ref.template_name for ref in step.analysis.templates)
    if step.experiment is not None:
        return describe_experiment(step.experiment)
    route = step.managed_route()
    if route is not None:
        return describe_route(route)
    scale = step.set_canary_scale
    if scale is not None and scale.replicas is not None:
        return f"setCanaryScale: {scale.replicas} pod{'s' if scale.replicas != 1 else ''}"
    if scale is not None and scale.weight is not None:
        return f"setCanaryScale: {scale.weight}{of or '%'}"
    return "setCanaryScale: matchTrafficWeight"


def _canary_rows(r: _Reader, templates: Mapping[TemplateKey, AnalysisTemplateSpec]) -> list[Row]:
    canary = r.sim.rollout.spec.strategy.canary
    rows: list[Row] = []
    total = 100 if canary is None else canary.weight_total()
    for index, step in enumerate(canary.steps or [] if canary else []):
        start = r.first(partial(_reached_step, index))
        if start is None:
            break
        end = r.first(partial(_past_step, index), after=start)
        if end is None:
            break
        m = r.sim.moments[end]
        manual = m.promoted_by_user
        note = _analysis_note(step.analysis, templates) if step.analysis is not None else ""
        if step.experiment is not None:
            note = _experiment_note(_step_timing(r.sim, index))
        wait = m.at - r.sim.moments[start].at
        # The pass that completes a step may already start the next one (scale, weight): the step's
        # own state is the one before that pass.
        rows.append(
            r.row(
                max(0, end - 1),
                start=start,
                step=index,
                action=_describe_step(step, total),
                wait=wait,
                manual=manual,
                note=note,
            )
        )
    return rows


def _bluegreen_rows(r: _Reader, templates: Mapping[TemplateKey, AnalysisTemplateSpec]) -> list[Row]:
    spec = r.sim.rollout.spec.strategy.blue_green
    assert spec is not None
    rows: list[Row] = []

    def acted(test: Callable[[object], bool]) -> Callable[[Moment], bool]:
        return lambda m: any(test(action) for action in m.plan.actions)

    preview = r.first(
        acted(lambda a: isinstance(a, SwitchServiceSelector) and a.service == spec.preview_service)
    )
    if preview is not None:
        rows.append(
            r.row(preview, step=None, action=f"preview: Service {spec.preview_service} to the new pods")
        )
    for kind, analysis, label in (
        (AnalysisRunKind.PRE, spec.pre_promotion_analysis, "pre-promotion analysis"),
        (AnalysisRunKind.POST, spec.post_promotion_analysis, "post-promotion analysis"),
    ):
        if analysis is None:
            continue
        start = r.first(acted(partial(_starts_run, kind)))
        if start is None:
            continue
        end = r.first(partial(_run_succeeded, kind=kind), after=start)
        end = start if end is None else end
        names = ", ".join(ref.template_name for ref in analysis.templates)
        wait = r.sim.moments[end].at - r.sim.moments[start].at
        rows.append(
            r.row(
                end,
                start=start,
                step=None,
                action=f"{label}: {names}",
                wait=wait,
                note=_analysis_note(analysis, templates),
            )
        )
    paused = r.first(lambda m: _bg_paused(m))
    if paused is not None:
        resumed = r.first(lambda m: not _bg_paused(m), after=paused)
        if resumed is not None:
            m = r.sim.moments[resumed]
            wait = m.at - r.sim.moments[paused].at
            note = "" if m.promoted_by_user else "autoPromotionSeconds"
            rows.append(
                r.row(
                    resumed,
                    start=paused,
                    step=None,
                    action="pause",
                    wait=wait,
                    manual=m.promoted_by_user,
                    note=note,
                )
            )
    full = r.first(acted(lambda a: _scales_up(a, r.sim.desired_hash)))
    if full is not None:
        rows.append(r.row(full, step=None, action="scale the new revision to full size"))
    switch = r.first(
        acted(lambda a: isinstance(a, SwitchServiceSelector) and a.service == spec.active_service)
    )
    if switch is not None:
        rows.append(r.row(switch, step=None, action=f"switch: Service {spec.active_service} to the new pods"))
    return sorted(rows, key=lambda row: row.at)


def _scales_up(action: object, pod_template_hash: str) -> bool:
    return (
        isinstance(action, ScaleReplicaSet)
        and action.pod_template_hash == pod_template_hash
        and action.replicas > action.previous
    )


def _reached_step(index: int, m: Moment) -> bool:
    """At the step or past it: a pass can enter a step and complete it at once."""
    return (m.status.current_step_index or 0) >= index


def _past_step(index: int, m: Moment) -> bool:
    return (m.status.current_step_index or 0) > index


def _starts_run(kind: AnalysisRunKind, action: object) -> bool:
    return isinstance(action, CreateAnalysisRun) and action.kind is kind


def _run_succeeded(m: Moment, *, kind: AnalysisRunKind) -> bool:
    bg = m.status.blue_green
    run = None
    if bg is not None:
        run = (
            bg.pre_promotion_analysis_run_status
            if kind is AnalysisRunKind.PRE
            else bg.post_promotion_analysis_run_status
        )
    return run is not None and str(run.status) == "Successful"


def _bg_paused(m: Moment) -> bool:
    return any(c.reason is PauseReason.BLUE_GREEN_PAUSE for c in m.status.pause_conditions or ())


def rows_of(
    sim: Simulation, *, templates: Mapping[TemplateKey, AnalysisTemplateSpec] | None = None
) -> list[Row]:
    """Every row of the plan, in time order: the strategy's steps, the promotion, the scale-down."""
    r, templates = _Reader(sim), templates or {}
    rows = _canary_rows(r, templates) if sim.rollout.spec.strategy.canary else _bluegreen_rows(r, templates)
    promoted = r.first(lambda m: m.status.stable_rs == sim.desired_hash)
    if promoted is not None:
        rows.append(r.row(promoted, step=None, action="promoted: the new revision is stable"))
        done = r.first(lambda m: m.replicas_of(PREVIOUS) == 0, after=promoted)
        if done is not None and sim.moments[done].at > sim.moments[promoted].at:
            wait = sim.moments[done].at - sim.moments[promoted].at
            rows.append(
                r.row(
                    done,
                    start=promoted,
                    step=None,
                    action="old revision scaled down",
                    wait=wait,
                    note="scaleDownDelaySeconds",
                )
            )
    return rows
