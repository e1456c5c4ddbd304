"""How a Rollout asks for analysis: template references and the arguments it passes them.

Used by canary steps, canary background analysis, and blue-green pre/post-promotion analysis; the
templates themselves live in `rollouts.api.analysis`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from rollouts.api.analysis import DryRun, MeasurementRetention
from rollouts.api.common import ApiModel, FieldRef, rule_error
from rollouts.api.enums import PodTemplateHashValue

__all__ = [
    "AnalysisRunArgument",
    "AnalysisRunHistory",
    "AnalysisRunMetadata",
    "AnalysisTemplateRef",
    "ArgumentValueFrom",
    "RolloutAnalysis",
    "RolloutAnalysisBackground",
]


class AnalysisTemplateRef(ApiModel):
    """A reference to the AnalysisTemplate (or ClusterAnalysisTemplate) an analysis runs."""

    template_name: str = Field(min_length=1, description="Name of the AnalysisTemplate to run.")
    cluster_scope: bool = Field(
        default=False, description="Look the name up among ClusterAnalysisTemplates instead."
    )


class ArgumentValueFrom(ApiModel):
    """Where an analysis argument's value comes from when it is not written literally."""

    pod_template_hash_value: PodTemplateHashValue | None = Field(
        default=None, description="Pass the pod-template hash of the Stable or Latest ReplicaSet."
    )
    field_ref: FieldRef | None = Field(default=None, description="Pass the value of a Rollout field.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.pod_template_hash_value is None) == (self.field_ref is None):
            raise rule_error("set exactly one of podTemplateHashValue or fieldRef")
        return self


class AnalysisRunArgument(ApiModel):
    """A value passed to the analysis templates' arguments of the same name."""

    name: str = Field(min_length=1, description="Name of the template argument to set.")
    value: str | None = Field(default=None, description="Literal value of the argument.")
    value_from: ArgumentValueFrom | None = Field(
        default=None, description="Take the value from the Rollout instead of writing it literally."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.value is None) == (self.value_from is None):
            raise rule_error(f"argument {self.name!r}: set exactly one of value or valueFrom")
        return self


_RESERVED_LABELS = ("rollouts-pod-template-hash", "rollouts.dev/")


class AnalysisRunMetadata(ApiModel):
    """Labels and annotations the AnalysisRun gets besides the controller's own."""

    labels: dict[str, str] | None = Field(default=None, description="Labels added to the run.")
    annotations: dict[str, str] | None = Field(default=None, description="Annotations added to the run.")

    @model_validator(mode="after")
    def _not_ours(self) -> Self:
        taken = sorted(k for k in self.labels or {} if k.startswith(_RESERVED_LABELS))
        if taken:
            raise rule_error(
                f"labels {taken} are the controller's (it finds a Rollout's runs by them); use other keys",
                at="labels",
            )
        return self


class RolloutAnalysis(ApiModel):
    """Analysis run from a step or around blue-green promotion: the templates to run and their args."""

    templates: list[AnalysisTemplateRef] = Field(
        min_length=1, description="Templates whose metrics make up the AnalysisRun."
    )
    args: list[AnalysisRunArgument] | None = Field(default=None, description="Arguments for the templates.")
    dry_run: list[DryRun] | None = Field(
        default=None,
        description="Metrics in dry-run mode (recorded, never deciding), besides the templates' own.",
    )
    measurement_retention: list[MeasurementRetention] | None = Field(
        default=None, description="Measurements kept per metric; checked before the templates' rules."
    )
    analysis_run_metadata: AnalysisRunMetadata | None = Field(
        default=None, description="Labels and annotations for the AnalysisRuns this block starts."
    )


class RolloutAnalysisBackground(RolloutAnalysis):
    """Analysis that runs in the background for the whole canary, from `startingStep` on."""

    starting_step: int | None = Field(
        default=None, ge=0, description="Index of the step at which the background analysis starts."
    )


DEFAULT_RUN_HISTORY_LIMIT = 5


class AnalysisRunHistory(ApiModel):
    """How many finished AnalysisRuns of earlier revisions the Rollout keeps; older ones are
    deleted (with the Jobs of their job metrics). The runs of the revision being delivered are
    always kept."""

    successful_run_history_limit: int = Field(
        default=DEFAULT_RUN_HISTORY_LIMIT, ge=0, description="Successful runs to keep (default 5)."
    )
    unsuccessful_run_history_limit: int = Field(
        default=DEFAULT_RUN_HISTORY_LIMIT,
        ge=0,
        description="Failed, Error and Inconclusive runs to keep (default 5).",
    )
