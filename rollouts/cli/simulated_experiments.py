"""The Experiments of a simulated delivery, and the shortest time an analysis takes.

``plan`` runs the engine over a synthetic cluster (:mod:`rollouts.cli.simulation`); this is the
part of that cluster that runs the Experiments an experiment step starts. An Experiment is built
from the Rollout with the controller's own :func:`~rollouts.engine.rollout_experiments.build_experiment`
(``specRef: stable`` copies the file's pod template: the previous revision is synthetic), so an
argument the controller cannot resolve stops ``plan`` as it would stop the controller. Its templates
are available at once, so it runs from its creation:

* with a ``duration`` and/or ``requiredForCompletion`` analyses it is Successful after the longest
  of the duration and those analyses' shortest times (each analysis built as the Experiment
  controller builds its AnalysisRun when its template is in the files; a template not in them
  counts as instant); a required analysis with an interval and no count never ends, and neither
  does the experiment;
* open-ended (neither) it runs until the engine terminates it, after the step's pause is promoted;
* ``TerminateExperiment`` makes it Successful, as ``spec.terminate`` does in the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from rollouts.api import (
    AnalysisPhase,
    AnalysisRun,
    AnalysisTemplateSpec,
    ArgTemplate,
    ClusterAnalysisTemplate,
    Rollout,
    RolloutAnalysis,
    TemplateMetric,
    parse_duration,
)
from rollouts.api.experiment import Experiment
from rollouts.cli.offline_runs import PLACEHOLDER_UID
from rollouts.engine import CreateExperiment
from rollouts.engine.analysis_runs import Template, build_experiment_analysis_run
from rollouts.engine.rollout_experiments import build_experiment
from rollouts.engine.snapshot import ObservedExperiment

__all__ = ["ExperimentTiming", "SimulatedExperiments", "TemplateKey", "analysis_seconds", "template_key"]

TemplateKey = tuple[bool, str]
"""(clusterScope, name) of an analysis template."""


def template_key(template: Template) -> TemplateKey:
    return (isinstance(template, ClusterAnalysisTemplate), template.metadata.name or "")


def _metric_seconds(initial: float, interval: float | None, count: int | None) -> float | None:
    if interval is None:
        return initial  # measured once
    if not count:
        return None  # an interval without a count measures until the run is stopped
    return initial + (count - 1) * interval


def _literal_seconds(metric: TemplateMetric) -> tuple[float, float | None, int | None] | None:
    """A template metric's timing when it is written literally (``None``: it takes an argument)."""
    interval, delay, count = metric.interval, metric.initial_delay, metric.count
    if isinstance(interval, ArgTemplate) or isinstance(delay, ArgTemplate) or isinstance(count, ArgTemplate):
        return None
    seconds = None if interval is None else parse_duration(interval).total_seconds()
    return (0.0 if delay is None else parse_duration(delay).total_seconds()), seconds, count


def _longest(timings: list[tuple[float, float | None, int | None]]) -> float | None:
    longest = 0.0
    for initial, interval, count in timings:
        seconds = _metric_seconds(initial, interval, count)
        if seconds is None:
            return None
        longest = max(longest, seconds)
    return longest


def analysis_seconds(
    analysis: RolloutAnalysis,
    templates: Mapping[TemplateKey, AnalysisTemplateSpec],
    run: AnalysisRun | None = None,
) -> float | None:
    """The shortest time an AnalysisRun of ``analysis`` can take; ``None`` when it never ends.

    With the ``run`` the engine built, its metrics (every ``{{args.NAME}}`` filled in) decide.
    Otherwise the templates' do: templates not in ``templates``, and metrics whose timing takes
    an argument, count as instant (their durations are unknown here).
    """
    if run is not None:
        return _run_seconds(run)
    timings = []
    for ref in analysis.templates:
        spec = templates.get((ref.cluster_scope, ref.template_name))
        for metric in spec.metrics if spec is not None else ():
            timing = _literal_seconds(metric)
            if timing is not None:
                timings.append(timing)
    return _longest(timings)


def _run_seconds(run: AnalysisRun) -> float | None:
    return _longest([(m.initial_delay_seconds, m.interval_seconds, m.count) for m in run.spec.metrics])


@dataclass(frozen=True, kw_only=True)
class ExperimentTiming:
    """How long a simulated Experiment runs: ``seconds`` (``None``: until it is ended), and why."""

    seconds: float | None
    duration: float | None = None
    open_ended: bool = False
    analyses: tuple[tuple[str, float | None], ...] = ()
    """(name, shortest seconds; ``None``: never ends) of each required analysis."""
    uncounted: tuple[str, ...] = ()
    """Templates of its analyses not in the files: their durations are not counted."""


@dataclass
class SimulatedExperiments:
    """The Experiments of the synthetic cluster, their ends and timings."""

    templates: Mapping[TemplateKey, AnalysisTemplateSpec] = field(default_factory=dict)
    analysis_templates: Sequence[Template] = ()
    rollout: Rollout | None = None
    """The Rollout as the pass that plans a CreateExperiment saw it (the experiment is built from it)."""
    experiments: dict[str, ObservedExperiment] = field(default_factory=dict)
    ends: dict[str, datetime | None] = field(default_factory=dict)
    timings: dict[str, ExperimentTiming] = field(default_factory=dict)

    def observed(self) -> tuple[ObservedExperiment, ...]:
        return tuple(self.experiments.values())

    def _running(self, name: str) -> bool:
        return self.experiments[name].phase is AnalysisPhase.RUNNING

    def finish(self, now: datetime) -> None:
        for name, end in self.ends.items():
            if self._running(name) and end is not None and end <= now:
                self.experiments[name] = replace(
                    self.experiments[name], phase=AnalysisPhase.SUCCESSFUL, available=False
                )

    def ends_after(self, now: datetime) -> list[datetime]:
        return [
            end for name, end in self.ends.items() if end is not None and end > now and self._running(name)
        ]

    def never_ending(self) -> str:
        """Why a running Experiment never ends by itself ("" when none is stuck that way)."""
        for name, timing in self.timings.items():
            stuck = [analysis for analysis, seconds in timing.analyses if seconds is None]
            if self._running(name) and stuck:
                return (
                    f"Experiment {name} never finishes: its required analysis {', '.join(stuck)} has a "
                    "metric with an interval but no count"
                )
        return ""

    def terminate(self, name: str) -> None:
        """``spec.terminate``: Successful, unless it already ended otherwise."""
        experiment = self.experiments[name]
        phase = AnalysisPhase.SUCCESSFUL if experiment.phase is AnalysisPhase.RUNNING else experiment.phase
        self.experiments[name] = replace(experiment, phase=phase, terminating=True, available=False)

    def start(self, action: CreateExperiment, now: datetime) -> None:
        """Build the experiment as the controller does; its templates are up at once."""
        assert self.rollout is not None
        experiment = build_experiment(
            rollout=self.rollout,
            name=action.name,
            step_index=action.step_index,
            stable_template=self.rollout.spec.pod_template,
            pod_template_hash=action.pod_template_hash,
            stable_hash=action.stable_hash,
            traffic_ports=({"port": 80},),  # the canary Service's, which the files may not hold
        )
        metadata = experiment.metadata.model_copy(update={"uid": PLACEHOLDER_UID})
        experiment = experiment.model_copy(update={"metadata": metadata})
        timing = self._timing(experiment)
        self.timings[action.name] = timing
        self.ends[action.name] = None if timing.seconds is None else now + timedelta(seconds=timing.seconds)
        traffic = experiment.spec.traffic_service
        self.experiments[action.name] = ObservedExperiment(
            name=action.name,
            pod_template_hash=action.pod_template_hash,
            step_index=action.step_index,
            phase=AnalysisPhase.RUNNING,
            available=True,
            traffic_service=traffic.name if traffic is not None else None,
        )
        self.finish(now)

    def _timing(self, experiment: Experiment) -> ExperimentTiming:
        spec = experiment.spec
        required: list[tuple[str, float | None]] = []
        uncounted: list[str] = []
        for analysis in spec.analyses or []:
            key = (analysis.cluster_scope, analysis.template_name)
            found = [t for t in self.analysis_templates if template_key(t) == key]
            seconds: float | None = 0.0
            if found:  # built as the controller builds it: a run it refuses stops the plan
                name = f"{experiment.metadata.name}-{analysis.name}"
                run = build_experiment_analysis_run(
                    experiment=experiment, analysis=analysis, name=name, templates=found
                )
                seconds = _run_seconds(run)
            elif key in self.templates:
                seconds = _longest(
                    [t for m in self.templates[key].metrics if (t := _literal_seconds(m)) is not None]
                )
            else:
                uncounted.append(analysis.template_name)
            if analysis.required_for_completion:
                required.append((analysis.name, seconds))
        duration = None if spec.duration is None else parse_duration(spec.duration).total_seconds()
        if duration is None and not required:
            return ExperimentTiming(seconds=None, open_ended=True, uncounted=tuple(uncounted))
        times = [duration or 0.0, *(seconds for _, seconds in required)]
        longest = None if None in times else max(t for t in times if t is not None)
        return ExperimentTiming(
            seconds=longest, duration=duration, analyses=tuple(required), uncounted=tuple(uncounted)
        )
