"""The Experiment kind: run one or more ReplicaSets from pod templates for a while, with analyses.

An Experiment is the tool for "run version B next to version A, measure, then tear both down": most
often a *baseline* (the stable version started fresh) beside the canary, so both see the same
traffic and the same start-up effects, and a judge compares them. Its life, which the engine
(``rollouts.engine.experiment``) decides from the status alone:

1. **Pending**: one ReplicaSet per template, scaled to its replicas; the experiment waits until
   every one is fully available (within ``progressDeadlineSeconds``, else Failed);
2. **Running** from ``status.availableAt``: one AnalysisRun per entry of ``analyses``. A run that
   fails, errors or is inconclusive ends the experiment with that phase at once;
3. it is **Successful** once ``duration`` has passed since availableAt *and* every analysis marked
   ``requiredForCompletion`` has succeeded. With neither a duration nor a required analysis it runs
   until ``terminate: true``;
4. once completed, its unfinished AnalysisRuns are terminated and, ``scaleDownDelaySeconds`` later,
   its ReplicaSets scaled to zero. Nothing is deleted: deleting the Experiment deletes what it owns.

Field names follow Argo Rollouts' Experiment, so an Argo manifest migrates by its ``apiVersion``.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal, Self

from pydantic import Field, model_validator

from rollouts.api.analysis import Argument, DryRun, MeasurementRetention
from rollouts.api.common import (
    GROUP_VERSION,
    ApiModel,
    Duration,
    LabelSelector,
    ObjectMeta,
    Timestamp,
    TopLevelObject,
    rule_error,
    shown,
)
from rollouts.api.enums import AnalysisPhase
from rollouts.api.pod_template import pod_template_problems

__all__ = [
    "DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS",
    "DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS",
    "Experiment",
    "ExperimentAnalysis",
    "ExperimentAnalysisRunStatus",
    "ExperimentService",
    "ExperimentSpec",
    "ExperimentStatus",
    "ExperimentTemplate",
    "ExperimentTrafficService",
    "TemplateState",
    "TemplateStatus",
    "check_unique_names",
]

DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS: Final = 600
DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS: Final = 30

# A template's name becomes part of its ReplicaSet's name and a label value: a DNS label, short
# enough that "<experiment>-<template>" usually fits.
_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_MAX: Final = 52


def check_unique_names(names: list[str], *, what: str, at: str) -> None:
    """Refuse a name given twice: templates and analyses are found by name."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise rule_error(f"{what} name {name!r} is used twice; give each {what} its own name", at=at)
        seen.add(name)


def _check_name(name: str, *, what: str) -> None:
    if len(name) > _NAME_MAX or not _NAME.match(name):
        raise rule_error(
            f"{what} name {shown(name)} must be lowercase letters, digits and '-', start and end "
            f"with a letter or digit, at most {_NAME_MAX} characters (it goes into object names)",
            at="name",
        )


class ExperimentService(ApiModel):
    """Ask for a Service in front of the template's pods (selecting only them)."""

    name: str | None = Field(
        default=None,
        description="Name of the Service; default: the template's ReplicaSet name.",
    )


class ExperimentTrafficService(ApiModel):
    """One Service in front of several templates' pods together (their pods get the label
    ``rollouts.dev/experiment-traffic: <name>``). A Rollout's weighted experiment step asks for it:
    its NGINX canary Ingress sends the step's weight to this Service, so the templates share it by
    their pods. Not in Argo Rollouts."""

    name: str = Field(min_length=1, max_length=63, description="Name of the Service.")
    templates: list[str] = Field(min_length=1, description="The templates whose pods it selects.")
    ports: list[dict[str, Any]] = Field(
        min_length=1,
        description="The Service's ports (as in a Service spec).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


class ExperimentTemplate(ApiModel):
    """One ReplicaSet the experiment runs: its pods and how many."""

    name: str = Field(description="Name of the template, unique in the experiment.")
    replicas: int = Field(default=1, ge=0, description="Number of pods (default 1).")
    min_ready_seconds: int = Field(
        default=0, ge=0, description="Seconds a new pod must be ready before it counts as available."
    )
    selector: LabelSelector = Field(description="Selects the template's pods; must match its labels.")
    template: dict[str, Any] = Field(
        description="Pod template (a Kubernetes PodTemplateSpec).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    service: ExperimentService | None = Field(
        default=None, description="Create a Service for the template's pods, removed with the experiment."
    )

    @model_validator(mode="after")
    def _runnable(self) -> Self:
        _check_name(self.name, what="template")
        if self.selector.is_empty():
            raise rule_error(
                "selector is empty and would select every pod; set selector.matchLabels", at="selector"
            )
        metadata = self.template.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, dict) else None
        if not isinstance(labels, dict) or not self.selector.matches(labels):
            raise rule_error(
                f"selector {self.selector.to_selector_string()!r} does not match template.metadata.labels "
                f"{shown(labels or {})}; give the template every label the selector requires",
                at="selector",
            )
        spec = self.template.get("spec")
        containers = spec.get("containers") if isinstance(spec, dict) else None
        if not isinstance(containers, list) or not containers:
            raise rule_error("template.spec.containers must list at least one container", at="template")
        problems = pod_template_problems(self.template)
        if problems:
            raise rule_error("; ".join(problems), at="template")
        if self.service is not None:
            self._check_service_ports(containers)
        return self

    @staticmethod
    def _check_service_ports(containers: list[Any]) -> None:
        ports = [p for c in containers if isinstance(c, dict) for p in c.get("ports") or []]
        if not ports:
            raise rule_error(
                "service is set but no container declares a port; add ports[].containerPort to the "
                "container the Service should reach",
                at="service",
            )
        if len(ports) > 1 and not all(isinstance(p, dict) and p.get("name") for p in ports):
            raise rule_error(
                "service is set and the containers declare several ports; give each one a name "
                "(a Service with more than one port needs named ports)",
                at="service",
            )


class ExperimentAnalysis(ApiModel):
    """An AnalysisRun the experiment starts once all its templates are available."""

    name: str = Field(description="Name of the analysis, unique in the experiment.")
    template_name: str = Field(min_length=1, description="Name of the AnalysisTemplate to run.")
    cluster_scope: bool = Field(
        default=False, description="Look the name up among ClusterAnalysisTemplates instead."
    )
    args: list[Argument] | None = Field(
        default=None, description="Arguments for the template: a value, or valueFrom a Secret."
    )
    required_for_completion: bool = Field(
        default=False,
        description="The experiment completes only once this analysis has succeeded (even past duration).",
    )

    @model_validator(mode="after")
    def _checked(self) -> Self:
        _check_name(self.name, what="analysis")
        for arg in self.args or []:
            if arg.value is None and arg.value_from is None:
                raise rule_error(f"argument {arg.name!r}: set value or valueFrom", at="args")
            if arg.value_from is not None and arg.value_from.field_ref is not None:
                raise rule_error(
                    f"argument {arg.name!r}: valueFrom.fieldRef is not available in an Experiment; "
                    "write the value, or read it from a Secret with valueFrom.secretKeyRef",
                    at="args",
                )
        return self


class ExperimentSpec(ApiModel):
    """What to run, for how long, and what decides the outcome."""

    templates: list[ExperimentTemplate] = Field(min_length=1, description="The ReplicaSets to run.")
    duration: Duration | None = Field(
        default=None,
        description=(
            "How long to run once every template is available (e.g. 10m). Unset: until every "
            "requiredForCompletion analysis has succeeded, or until terminate."
        ),
    )
    progress_deadline_seconds: int = Field(
        default=DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS,
        ge=1,
        description="Seconds the templates may take to become available before the experiment fails.",
    )
    scale_down_delay_seconds: int = Field(
        default=DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS,
        ge=0,
        description="Seconds after completion before the ReplicaSets are scaled to zero (default 30).",
    )
    analyses: list[ExperimentAnalysis] | None = Field(
        default=None, description="AnalysisRuns started once every template is available."
    )
    dry_run: list[DryRun] | None = Field(
        default=None, description="Metrics of the analyses in dry-run mode (recorded, never deciding)."
    )
    measurement_retention: list[MeasurementRetention] | None = Field(
        default=None, description="Measurements kept per metric of the analyses."
    )
    terminate: bool = Field(
        default=False, description="Stop the experiment now (Successful unless something already failed)."
    )
    traffic_service: ExperimentTrafficService | None = Field(
        default=None, description="A Service in front of several templates' pods together (see its fields)."
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        check_unique_names([t.name for t in self.templates], what="template", at="templates")
        check_unique_names([a.name for a in self.analyses or []], what="analysis", at="analyses")
        services = [t.service.name for t in self.templates if t.service is not None and t.service.name]
        check_unique_names(services, what="service", at="templates")
        if self.traffic_service is not None:
            names = [t.name for t in self.templates]
            unknown = [name for name in self.traffic_service.templates if name not in names]
            if unknown:
                raise rule_error(
                    f"names templates {unknown} the experiment does not have", at="trafficService"
                )
        return self


TemplateState = Literal["Progressing", "Running", "Successful", "Failed", "Error"]


class TemplateStatus(ApiModel):
    """How one template's ReplicaSet is doing."""

    name: str = Field(description="Name of the template.")
    replicas: int = Field(default=0, description="Pods that exist.")
    updated_replicas: int = Field(default=0, description="Pods of the template's revision.")
    ready_replicas: int = Field(default=0, description="Ready pods.")
    available_replicas: int = Field(default=0, description="Available pods.")
    status: TemplateState = Field(default="Progressing", description="Progressing, Running, or final.")
    message: str | None = Field(default=None, description="Why the template is in this state.")
    last_transition_time: Timestamp | None = Field(default=None, description="When status last changed.")
    pod_template_hash: str | None = Field(default=None, description="The template's pod-template hash.")
    replica_set_name: str | None = Field(default=None, description="The template's ReplicaSet.")
    service_name: str | None = Field(default=None, description="The template's Service, if it has one.")


class ExperimentAnalysisRunStatus(ApiModel):
    """The AnalysisRun of one entry of ``spec.analyses``, and its latest phase."""

    name: str = Field(description="Name of the analysis in spec.analyses.")
    analysis_run: str = Field(description="Name of the AnalysisRun.")
    phase: AnalysisPhase = Field(description="Latest phase of the run.")
    message: str | None = Field(default=None, description="The run's message.")


class ExperimentStatus(ApiModel):
    """Observed state of the experiment, written by the controller."""

    phase: AnalysisPhase = Field(
        default=AnalysisPhase.PENDING,
        description="Pending, Running, then Successful, Failed, Error or Inconclusive.",
    )
    message: str | None = Field(default=None, description="Why the experiment is in this phase.")
    available_at: Timestamp | None = Field(
        default=None, description="When every template was first available (the duration counts from it)."
    )
    completed_at: Timestamp | None = Field(
        default=None, description="When the experiment completed (the scale-down delay counts from it)."
    )
    template_statuses: list[TemplateStatus] | None = Field(default=None, description="One per template.")
    analysis_runs: list[ExperimentAnalysisRunStatus] | None = Field(
        default=None, description="One per analysis started."
    )
    observed_generation: int | None = Field(
        default=None, description="The generation of the spec this status was decided from."
    )

    def template(self, name: str) -> TemplateStatus | None:
        return next((t for t in self.template_statuses or [] if t.name == name), None)

    def run_of(self, analysis: str) -> ExperimentAnalysisRunStatus | None:
        return next((r for r in self.analysis_runs or [] if r.name == analysis), None)


class Experiment(TopLevelObject):
    """A limited run of one or more ReplicaSets, with analyses, then torn down."""

    api_version: Literal["rollouts.dev/v1alpha1"] = Field(
        default=GROUP_VERSION, description="rollouts.dev/v1alpha1"
    )
    kind: Literal["Experiment"] = Field(default="Experiment", description="Experiment")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: ExperimentSpec = Field(description="Desired state.")
    status: ExperimentStatus | None = Field(
        default=None, description="Observed state, written by the controller."
    )
