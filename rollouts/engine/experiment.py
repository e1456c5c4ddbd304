"""The Experiment's decisions: (Experiment, what it owns, now) -> actions, status, wake-up. Pure.

The lifecycle is in ``rollouts.api.experiment``'s docstring. Everything is decided from the status
and the objects as read, nothing from memory, so a restarted controller goes on where it stopped:

* the duration counts from ``status.availableAt`` (the first pass that saw every template fully
  available), the scale-down delay from ``status.completedAt``;
* a template is Progressing from the ``lastTransitionTime`` at which it stopped being available (or
  was created); staying so for ``progressDeadlineSeconds`` fails the experiment, before and after
  it started running;
* an analysis is started once: its run's phase is copied into ``status.analysisRuns``, and a run
  recorded as completed there is never started again, even if someone deletes it.

A template's pods get the ``rollouts-pod-template-hash`` label from a hash of the template *and*
the experiment's name (its pods also carry it as the ``rollouts.dev/experiment`` annotation), so a
baseline started from the stable pod template never shares a hash, and so a metric series, with
the stable ReplicaSet or with another experiment's baseline.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from rollouts.api.analysis import AnalysisRun
from rollouts.api.common import parse_duration
from rollouts.api.enums import AnalysisPhase
from rollouts.api.experiment import (
    Experiment,
    ExperimentAnalysisRunStatus,
    ExperimentSpec,
    ExperimentStatus,
    ExperimentTemplate,
    TemplateState,
    TemplateStatus,
)
from rollouts.engine.analysis_runs import build_experiment_analysis_run
from rollouts.engine.hashing import pod_template_hash
from rollouts.engine.plan import Event, EventType, ScaleReplicaSet, TerminateAnalysisRun
from rollouts.engine.snapshot import ObservedReplicaSet, Template

__all__ = [
    "EXPERIMENT_ANNOTATION",
    "EXPERIMENT_TEMPLATE_LABEL",
    "EXPERIMENT_TRAFFIC_LABEL",
    "CreateAnalysisRunOf",
    "CreateTemplateReplicaSet",
    "CreateTemplateService",
    "CreateTrafficService",
    "DeleteTemplateService",
    "ExperimentAction",
    "ExperimentPlan",
    "ExperimentSnapshot",
    "ObservedExperimentRun",
    "decide_experiment",
    "template_hash",
    "template_pod_template",
    "template_replica_set_name",
    "traffic_service_of",
]

EXPERIMENT_TEMPLATE_LABEL: Final = "rollouts.dev/experiment-template"
"""On a template's ReplicaSet, pods and Service: the name of the template."""

EXPERIMENT_TRAFFIC_LABEL: Final = "rollouts.dev/experiment-traffic"
"""On the pods of the templates a ``trafficService`` selects: its name (what it selects them by)."""

EXPERIMENT_ANNOTATION: Final = "rollouts.dev/experiment"
"""On a template's pods: the name of the Experiment (names can be longer than a label value)."""

_FAILED: Final = (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)


@dataclass(frozen=True, kw_only=True)
class ObservedExperimentRun:
    """An AnalysisRun the experiment owns, by the analysis it is for."""

    name: str
    phase: AnalysisPhase
    message: str = ""
    terminating: bool = False


@dataclass(frozen=True, kw_only=True)
class ExperimentSnapshot:
    """What one decision about an experiment may look at, frozen at ``now``: its ReplicaSets and
    runs (owned by its uid) by template and analysis name, the names of the Services it owns, and
    the AnalysisTemplates of its namespace and the cluster."""

    experiment: Experiment
    now: datetime
    replica_sets: Mapping[str, ObservedReplicaSet] = field(default_factory=dict)
    services: frozenset[str] = frozenset()
    runs: Mapping[str, ObservedExperimentRun] = field(default_factory=dict)
    templates: Sequence[Template] = ()


@dataclass(frozen=True, kw_only=True)
class CreateTemplateReplicaSet:
    """Create the ReplicaSet of one template (``template_pod_template`` gives its pods)."""

    template: str
    name: str
    pod_template_hash: str
    replicas: int


@dataclass(frozen=True, kw_only=True)
class CreateTemplateService:
    """Create the Service a template asks for, selecting its pods only."""

    template: str
    name: str
    pod_template_hash: str


@dataclass(frozen=True, kw_only=True)
class CreateTrafficService:
    """Create the ``trafficService``, selecting its templates' pods by their traffic label."""

    name: str


@dataclass(frozen=True, kw_only=True)
class DeleteTemplateService:
    """Delete a template's Service once the experiment is scaled down."""

    name: str


@dataclass(frozen=True, kw_only=True)
class CreateAnalysisRunOf:
    """Create the AnalysisRun of one entry of ``spec.analyses`` (built whole at decision)."""

    analysis: str
    run: AnalysisRun = field(compare=False, repr=False)
    name: str = ""


ExperimentAction = (
    CreateTemplateReplicaSet
    | ScaleReplicaSet
    | CreateTemplateService
    | CreateTrafficService
    | DeleteTemplateService
    | CreateAnalysisRunOf
    | TerminateAnalysisRun
)


@dataclass(frozen=True, kw_only=True)
class ExperimentPlan:
    """The actions in order (ReplicaSets and Services, runs, then scale-down), the next status,
    the Events, and when to look again (``None``: only on a change)."""

    actions: tuple[ExperimentAction, ...]
    status: ExperimentStatus
    events: tuple[Event, ...] = ()
    wake_at: datetime | None = None


def template_replica_set_name(experiment: str, template: str) -> str:
    """``<experiment>-<template>``: the name of a template's ReplicaSet (and default Service)."""
    return f"{experiment}-{template}"


def traffic_service_of(spec: ExperimentSpec, template: str) -> str | None:
    """The name of the ``trafficService`` that selects ``template``'s pods, if one does."""
    traffic = spec.traffic_service
    return traffic.name if traffic is not None and template in traffic.templates else None


def template_pod_template(
    experiment: str, template: ExperimentTemplate, *, traffic: str | None = None
) -> dict[str, Any]:
    """The template's pods as its ReplicaSet runs them, without the hash label: the experiment's
    annotation and the template's label added, and the traffic Service's label when ``traffic``
    (``traffic_service_of``) names one."""
    pods = copy.deepcopy(template.template)
    meta = pods.setdefault("metadata", {})
    labels = {**(meta.get("labels") or {}), EXPERIMENT_TEMPLATE_LABEL: template.name}
    if traffic is not None:
        labels[EXPERIMENT_TRAFFIC_LABEL] = traffic
    meta["labels"] = labels
    meta["annotations"] = {**(meta.get("annotations") or {}), EXPERIMENT_ANNOTATION: experiment}
    return pods


def template_hash(experiment: str, template: ExperimentTemplate, *, traffic: str | None = None) -> str:
    """The pod-template hash of a template's pods in ``experiment``."""
    return pod_template_hash(template_pod_template(experiment, template, traffic=traffic))


class _Pass:
    """One decision: the snapshot's reading and the plan being built."""

    def __init__(self, snap: ExperimentSnapshot) -> None:
        self.snap = snap
        self.exp = snap.experiment
        self.name = self.exp.metadata.name or ""
        self.previous = self.exp.status or ExperimentStatus()
        self.actions: list[ExperimentAction] = []
        self.events: list[Event] = []
        self.wakes: list[datetime] = []

    def hash(self, t: ExperimentTemplate) -> str:
        return template_hash(self.name, t, traffic=traffic_service_of(self.exp.spec, t.name))

    def wake(self, at: datetime) -> None:
        if at > self.snap.now:
            self.wakes.append(at)

    # -- templates ---------------------------------------------------------------------------

    def template_status(self, t: ExperimentTemplate, *, final: TemplateState | None) -> TemplateStatus:
        rs = self.snap.replica_sets.get(t.name)
        pod_hash = rs.pod_template_hash if rs is not None else self.hash(t)
        available = rs.available if rs is not None else 0
        state: TemplateState
        if final is not None:
            state, message = final, None
        elif rs is not None and available >= t.replicas:
            state, message = "Running", None
        else:
            state = "Progressing"
            message = f"{available} of {t.replicas} pods available" if rs is not None else "creating pods"
        before = self.previous.template(t.name)
        changed = before is None or before.status != state
        service = None
        if t.service is not None:
            service = t.service.name or template_replica_set_name(self.name, t.name)
        return TemplateStatus(
            name=t.name,
            replicas=rs.actual if rs is not None else 0,
            updated_replicas=rs.actual if rs is not None else 0,
            ready_replicas=rs.ready if rs is not None else 0,
            available_replicas=available,
            status=state,
            message=message,
            last_transition_time=self.snap.now if changed or before is None else before.last_transition_time,
            pod_template_hash=pod_hash,
            replica_set_name=rs.name if rs is not None else template_replica_set_name(self.name, t.name),
            service_name=service,
        )

    def run_templates(self) -> None:
        """Create what is missing and keep each ReplicaSet at its template's replicas."""
        for t in self.exp.spec.templates:
            rs = self.snap.replica_sets.get(t.name)
            if rs is None:
                self.actions.append(
                    CreateTemplateReplicaSet(
                        template=t.name,
                        name=template_replica_set_name(self.name, t.name),
                        pod_template_hash=self.hash(t),
                        replicas=t.replicas,
                    )
                )
            elif rs.replicas != t.replicas:
                self.actions.append(
                    ScaleReplicaSet(
                        name=rs.name,
                        pod_template_hash=rs.pod_template_hash,
                        replicas=t.replicas,
                        previous=rs.replicas,
                    )
                )
            if t.service is not None:
                name = t.service.name or template_replica_set_name(self.name, t.name)
                if name not in self.snap.services:
                    pod_hash = rs.pod_template_hash if rs is not None else self.hash(t)
                    self.actions.append(
                        CreateTemplateService(template=t.name, name=name, pod_template_hash=pod_hash)
                    )

    def run_traffic_service(self) -> None:
        traffic = self.exp.spec.traffic_service
        if traffic is not None and traffic.name not in self.snap.services:
            self.actions.append(CreateTrafficService(name=traffic.name))

    def missed_deadline(self, statuses: Sequence[TemplateStatus]) -> str | None:
        deadline = timedelta(seconds=self.exp.spec.progress_deadline_seconds)
        for status in statuses:
            if status.status != "Progressing" or status.last_transition_time is None:
                continue
            due = status.last_transition_time + deadline
            if self.snap.now >= due:
                return (
                    f"template {status.name!r}: {status.available_replicas} of "
                    f"{self._replicas(status.name)} pods available after progressDeadlineSeconds "
                    f"({self.exp.spec.progress_deadline_seconds}s); see the events of ReplicaSet "
                    f"{status.replica_set_name}"
                )
            self.wake(due)
        return None

    def _replicas(self, template: str) -> int:
        return next(t.replicas for t in self.exp.spec.templates if t.name == template)

    # -- analyses ----------------------------------------------------------------------------

    def run_analyses(self) -> list[ExperimentAnalysisRunStatus]:
        """Start each analysis not yet started; the runs' phases as the status records them."""
        out: list[ExperimentAnalysisRunStatus] = []
        for analysis in self.exp.spec.analyses or []:
            known = self.run_status(analysis.name)
            if known is not None and (analysis.name in self.snap.runs or known.phase.is_completed()):
                out.append(known)
            else:
                name = f"{self.name}-{analysis.name}"
                built = build_experiment_analysis_run(
                    experiment=self.exp, analysis=analysis, name=name, templates=self.snap.templates
                )
                self.actions.append(CreateAnalysisRunOf(analysis=analysis.name, name=name, run=built))
                out.append(
                    ExperimentAnalysisRunStatus(
                        name=analysis.name, analysis_run=name, phase=AnalysisPhase.PENDING
                    )
                )
        return out

    def run_status(self, analysis: str) -> ExperimentAnalysisRunStatus | None:
        """The run of ``analysis`` as read, else as the status last recorded it."""
        run = self.snap.runs.get(analysis)
        if run is None:
            return self.previous.run_of(analysis)
        message = run.message or None
        return ExperimentAnalysisRunStatus(
            name=analysis, analysis_run=run.name, phase=run.phase, message=message
        )

    def verdict(
        self, available_at: datetime | None, runs: Sequence[ExperimentAnalysisRunStatus]
    ) -> tuple[AnalysisPhase, str | None]:
        """The experiment's phase and message, given its runs."""
        for run in runs:
            if run.phase in _FAILED:
                detail = f": {run.message}" if run.message else ""
                return (
                    run.phase,
                    f"analysis {run.name!r} (AnalysisRun {run.analysis_run}) is {run.phase.value}{detail}",
                )
        spec = self.exp.spec
        if spec.terminate:
            return AnalysisPhase.SUCCESSFUL, "terminated (spec.terminate is true)"
        if available_at is None:
            return AnalysisPhase.PENDING, "waiting for every template to be available"
        required = [a.name for a in spec.analyses or [] if a.required_for_completion]
        phases = {run.name: run.phase for run in runs}
        waiting = [name for name in required if phases.get(name) is not AnalysisPhase.SUCCESSFUL]
        if spec.duration is None and not required:
            return AnalysisPhase.RUNNING, "running until terminated (no duration, no required analysis)"
        ends = available_at + parse_duration(spec.duration) if spec.duration is not None else None
        if ends is not None and self.snap.now < ends:
            self.wake(ends)
            return AnalysisPhase.RUNNING, f"running until {ends.isoformat().replace('+00:00', 'Z')}"
        if waiting:
            return AnalysisPhase.RUNNING, f"waiting for required analyses {waiting} to succeed"
        return AnalysisPhase.SUCCESSFUL, "ran its duration" + (
            f"; {', '.join(required)} succeeded" if required else ""
        )

    # -- completion --------------------------------------------------------------------------

    def wind_down(self, completed_at: datetime) -> None:
        """Terminate unfinished runs at once; scale down and remove Services after the delay."""
        for run in self.snap.runs.values():
            if not run.phase.is_completed() and not run.terminating:
                self.actions.append(TerminateAnalysisRun(name=run.name))
        scale_at = completed_at + timedelta(seconds=self.exp.spec.scale_down_delay_seconds)
        if self.snap.now < scale_at:
            self.wake(scale_at)
            return
        for rs in self.snap.replica_sets.values():
            if rs.replicas != 0:
                self.actions.append(
                    ScaleReplicaSet(
                        name=rs.name, pod_template_hash=rs.pod_template_hash, replicas=0, previous=rs.replicas
                    )
                )
        for name in sorted(self.snap.services):
            self.actions.append(DeleteTemplateService(name=name))


def _template_final(phase: AnalysisPhase) -> TemplateState:
    if phase is AnalysisPhase.SUCCESSFUL:
        return "Successful"
    return "Error" if phase is AnalysisPhase.ERROR else "Failed"


def decide_experiment(snap: ExperimentSnapshot) -> ExperimentPlan:
    """What to do about one experiment now. Raises ``AnalysisRunError`` when an analysis cannot be
    built (a missing template or argument): the controller reports it and nothing is changed."""
    p = _Pass(snap)
    previous = p.previous
    spec = p.exp.spec
    completed_at: datetime | None
    if previous.phase.is_completed():
        phase, message, available_at = previous.phase, previous.message, previous.available_at
        final: TemplateState | None = _template_final(phase)
        statuses = [p.template_status(t, final=final) for t in spec.templates]
        runs = [r for a in spec.analyses or [] if (r := p.run_status(a.name)) is not None]
        completed_at = previous.completed_at or snap.now
    else:
        p.run_templates()
        p.run_traffic_service()
        statuses = [p.template_status(t, final=None) for t in spec.templates]
        everyone_up = all(s.status == "Running" for s in statuses)
        available_at = previous.available_at or (snap.now if everyone_up else None)
        runs = (
            p.run_analyses()
            if available_at is not None and not spec.terminate
            else list(previous.analysis_runs or [])
        )
        missed = p.missed_deadline(statuses)
        if missed is not None:
            phase, message = AnalysisPhase.FAILED, missed
        else:
            phase, message = p.verdict(available_at, runs)
        completed_at = snap.now if phase.is_completed() else None
        if phase.is_completed():
            final = _template_final(phase)
            statuses = [
                s.model_copy(update={"status": final, "message": None, "last_transition_time": snap.now})
                for s in statuses
            ]
            p.actions = []  # nothing more is started; wind_down says what stops
        if phase is not previous.phase:
            failed = phase in _FAILED
            p.events.append(
                Event(
                    reason=f"Experiment{phase.value}",
                    message=f"Experiment {p.name} {phase.value}" + (f": {message}" if message else ""),
                    type=EventType.WARNING if failed else EventType.NORMAL,
                )
            )
    if completed_at is not None:
        p.wind_down(completed_at)
    status = ExperimentStatus(
        phase=phase,
        message=message,
        available_at=available_at,
        completed_at=completed_at,
        template_statuses=statuses,
        analysis_runs=runs or None,
        observed_generation=p.exp.metadata.generation,
    )
    return ExperimentPlan(
        actions=tuple(p.actions), status=status, events=tuple(p.events), wake_at=min(p.wakes, default=None)
    )
