"""The Rollout kind: a Deployment-like workload that updates through a canary or blue-green strategy."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from rollouts.api.common import (
    GROUP_VERSION,
    ApiModel,
    LabelSelector,
    ObjectMeta,
    Timestamp,
    TopLevelObject,
    cel,
    rule_error,
    shown,
)
from rollouts.api.pod_template import pod_template_problems
from rollouts.api.rollout_analysis import AnalysisRunHistory
from rollouts.api.status import RolloutStatus
from rollouts.api.strategy import RolloutStrategy

__all__ = ["RollbackWindow", "Rollout", "RolloutSpec", "WorkloadRef"]


class RollbackWindow(ApiModel):
    """How far back a rollback skips the steps (``spec.rollbackWindow``)."""

    revisions: int = Field(
        ge=0,
        description=(
            "Going back to one of this many revisions before the stable one (their ReplicaSets still"
            " kept) skips the steps, pauses and analysis and promotes at once, as going back to the"
            " stable template always does."
        ),
    )


class WorkloadRef(ApiModel):
    """A Deployment whose pod template the Rollout runs (``spec.workloadRef``), instead of its own."""

    api_version: Literal["apps/v1"] = Field(default="apps/v1", description="apps/v1")
    kind: Literal["Deployment"] = Field(default="Deployment", description="Deployment (the only kind)")
    name: str = Field(min_length=1, description="Name of the Deployment, in the Rollout's namespace.")
    scale_down: Literal["never", "onsuccess", "progressively"] = Field(
        default="never",
        description=(
            "What happens to the Deployment's own pods: never (left as they are), onsuccess (scaled to"
            " 0 once the Rollout is Healthy), progressively (scaled down as the Rollout's pods become"
            " available). The Deployment gets them back if the update fails or the Rollout is deleted."
        ),
    )


class RolloutSpec(ApiModel):
    """Desired state of the Rollout: the pods to run and how to move to a new version of them."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("has(self.template) != has(self.workloadRef)", "set exactly one of template or workloadRef")
        )
    )

    replicas: int = Field(default=1, ge=0, description="Number of pods of the desired version.")
    selector: LabelSelector = Field(
        description="Selects the Rollout's pods; must match template labels and cannot change.",
        json_schema_extra=cel(("self == oldSelf", "spec.selector is immutable")),
    )
    template: dict[str, Any] | None = Field(
        default=None,
        description="Pod template (a Kubernetes PodTemplateSpec); a change starts an update.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    workload_ref: WorkloadRef | None = Field(
        default=None,
        description=(
            "Take the pod template from this Deployment instead of spec.template: an edit of the"
            " Deployment's template starts an update. The Deployment is only ever scaled, as scaleDown says."
        ),
    )
    min_ready_seconds: int = Field(
        default=0, ge=0, description="Seconds a new pod must be ready before it counts as available."
    )
    revision_history_limit: int = Field(
        default=10, ge=0, description="Old ReplicaSets to keep (scaled to zero) for rollback."
    )
    paused: bool = Field(
        default=False, description="Pause the rollout; set by a user or `kubectl rollouts pause`."
    )
    progress_deadline_seconds: int = Field(
        default=600, ge=1, description="Seconds an update may make no progress before it is marked Degraded."
    )
    progress_deadline_abort: bool = Field(
        default=False, description="Also abort the update when the progress deadline is exceeded."
    )
    restart_at: Timestamp | None = Field(
        default=None, description="Restart all pods (one at a time) once this time has passed."
    )
    strategy: RolloutStrategy = Field(description="How to update: canary or blueGreen.")
    analysis: AnalysisRunHistory | None = Field(
        default=None, description="How many finished AnalysisRuns of earlier revisions to keep (5 and 5)."
    )
    rollback_window: RollbackWindow | None = Field(
        default=None, description="A rollback to a recent revision is promoted at once, skipping the steps."
    )

    @model_validator(mode="after")
    def _selector_matches_template(self) -> Self:
        if self.selector.is_empty():
            raise rule_error(
                "selector is empty and would select every pod; set selector.matchLabels (e.g. app: <name>)",
                at="selector",
            )
        if (self.template is None) == (self.workload_ref is None):
            raise rule_error(
                "set exactly one of template (the pods, written here) or workloadRef (a Deployment whose "
                "template the Rollout runs)",
                at="template" if self.template is not None else "workloadRef",
            )
        if self.template is not None:
            problem = self.template_problem(self.template)
            if problem is not None:
                raise rule_error(problem[1], at=problem[0])
        if self.progress_deadline_seconds <= self.min_ready_seconds:
            raise rule_error(
                f"progressDeadlineSeconds ({self.progress_deadline_seconds}) must be greater than "
                f"minReadySeconds ({self.min_ready_seconds}), or every update would miss its deadline",
                at="progressDeadlineSeconds",
            )
        self._side_labels_keep_the_selector()
        return self

    def _side_labels_keep_the_selector(self) -> None:
        selected = set(self.selector.match_labels or {})
        for path, side in self.strategy.pod_metadata_sides():
            clash = sorted(selected & set(side.labels or {})) if side is not None else []
            if clash:
                raise rule_error(
                    f"sets {clash}, which spec.selector selects the pods by; use other keys",
                    at=f"strategy.{path}.labels",
                )

    def template_problem(self, template: dict[str, Any]) -> tuple[str, str] | None:
        """What is wrong with ``template`` as this Rollout's pods, as (field, message); ``None``
        when nothing is. The one check of ``spec.template`` and of a workloadRef's template."""
        metadata = template.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, dict) else None
        if not isinstance(labels, dict) or not self.selector.matches(labels):
            return (
                "selector",
                f"selector {self.selector.to_selector_string()!r} does not match template.metadata.labels "
                f"{shown(labels or {})}; give the template every label the selector requires",
            )
        spec = template.get("spec")
        containers = spec.get("containers") if isinstance(spec, dict) else None
        if not isinstance(containers, list) or not containers:
            return "template", "template.spec.containers must list at least one container"
        problems = pod_template_problems(template)
        return ("template", "; ".join(problems)) if problems else None

    def with_template(self, template: dict[str, Any]) -> RolloutSpec:
        """This spec running ``template`` (a workloadRef's, as read): raises ``ValueError`` with
        the problem when the template cannot be this Rollout's pods."""
        problem = self.template_problem(template)
        if problem is not None:
            raise ValueError(problem[1])
        return self.model_copy(update={"template": template})

    @property
    def pod_template(self) -> dict[str, Any]:
        """The pod template in force: spec.template, or the workloadRef's once read (``with_template``)."""
        if self.template is None:
            raise ValueError("the workloadRef's template has not been read (RolloutSpec.with_template)")
        return self.template

    @property
    def template_labels(self) -> dict[str, str]:
        """The pod template's labels (validated to exist and match the selector)."""
        labels: dict[str, str] = self.pod_template["metadata"]["labels"]
        return labels


class Rollout(TopLevelObject):
    """A workload that replaces its pods through a canary or blue-green strategy, gated by analysis."""

    api_version: Literal["rollouts.dev/v1alpha1"] = Field(
        default=GROUP_VERSION, description="rollouts.dev/v1alpha1"
    )
    kind: Literal["Rollout"] = Field(default="Rollout", description="Rollout")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: RolloutSpec = Field(description="Desired state.")
    status: RolloutStatus | None = Field(
        default=None, description="Observed state, written by the controller."
    )

    def with_service_roles(self) -> Rollout:
        """This Rollout with a pingPong canary's two Services in their current roles (from
        ``status.canary.stablePingPong``) as canaryService and stableService; itself otherwise."""
        canary = self.spec.strategy.canary
        if canary is None or canary.ping_pong is None:
            return self
        status = self.status.canary if self.status is not None else None
        resolved = canary.with_ping_pong_roles(status.stable_ping_pong if status is not None else None)
        strategy = self.spec.strategy.model_copy(update={"canary": resolved})
        return self.model_copy(update={"spec": self.spec.model_copy(update={"strategy": strategy})})
