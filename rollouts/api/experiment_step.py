"""The canary ``experiment`` step: run an Experiment from the Rollout's own pod templates.

The step starts an Experiment (``rollouts.api.experiment``) owned by the Rollout, whose templates
copy the stable or the canary pod template (``specRef``), and waits for it: Successful goes on to
the next step, Failed or Error aborts the update, Inconclusive pauses for a human (a promote goes
on). Without a duration or a required analysis the experiment runs until someone ends it: the step
pauses, and a promote (or ``terminate: true`` on the Experiment) ends it and goes on. The typical
use is a *baseline* (``specRef: stable``, started fresh) beside a canary copy, so an analysis can
compare the two on equal terms. The templates' pods get their own pod-template hashes and are
selected by none of the Rollout's Services.

A template with a ``weight`` takes that much traffic while the experiment runs (traffic routing
only). Behind NGINX, which allows one canary Ingress per host and path, the weighted templates
share one Service that the canary Ingress points at for the step (with the sum of the weights):
each template then gets the share of its pods, so the weights must be in proportion to the
replicas (equal weights and equal replicas for a baseline and a canary). The Rollout's own canary
has no weight during such a step. Istio is not supported yet for weighted templates.

Arguments of the analyses may take ``valueFrom.podTemplateHashValue`` (the Rollout's Stable or
Latest revision) or ``valueFrom.fieldRef`` (a Rollout field), resolved when the experiment is
created, and ``{{templates.<name>.podTemplateHash}}`` in a value, which is the hash of that
experiment template's pods (Argo Rollouts' syntax), so a query can select exactly them.
"""

from __future__ import annotations

import re
from typing import Final, Literal, Self

from pydantic import Field, model_validator

from rollouts.api.common import ApiModel, Duration, LabelSelector, rule_error
from rollouts.api.experiment import ExperimentService, check_unique_names
from rollouts.api.rollout_analysis import AnalysisRunArgument

__all__ = [
    "TEMPLATE_HASH_PLACEHOLDER",
    "RolloutExperimentAnalysis",
    "RolloutExperimentStep",
    "RolloutExperimentTemplate",
    "TemplateMetadata",
]

TEMPLATE_HASH_PLACEHOLDER: Final = re.compile(r"\{\{\s*templates\.([A-Za-z0-9-]+)\.podTemplateHash\s*\}\}")
"""``{{templates.<name>.podTemplateHash}}`` in an analysis argument's value."""


class TemplateMetadata(ApiModel):
    """Labels and annotations added to an experiment template's pods."""

    labels: dict[str, str] | None = Field(default=None, description="Labels added to the pods.")
    annotations: dict[str, str] | None = Field(default=None, description="Annotations added to the pods.")


class RolloutExperimentTemplate(ApiModel):
    """One ReplicaSet of the step's experiment, from the Rollout's stable or canary pod template."""

    name: str = Field(min_length=1, description="Name of the template, unique in the step.")
    spec_ref: Literal["stable", "canary"] = Field(
        description="Which pod template to run: the stable revision's or the canary's."
    )
    replicas: int = Field(default=1, ge=0, description="Number of pods (default 1).")
    weight: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Traffic for the template's pods while the experiment runs, taken from the stable (NGINX:"
            " weighted templates share the canary Ingress, so give them weights in proportion to"
            " their replicas)."
        ),
    )
    metadata: TemplateMetadata | None = Field(
        default=None, description="Labels and annotations for its pods."
    )
    selector: LabelSelector | None = Field(
        default=None, description="Selector of its pods; default: the Rollout's selector."
    )
    service: ExperimentService | None = Field(
        default=None, description="Create a Service for its pods, removed with the experiment."
    )


class RolloutExperimentAnalysis(ApiModel):
    """An analysis the step's experiment runs once its templates are available."""

    name: str = Field(min_length=1, description="Name of the analysis, unique in the step.")
    template_name: str = Field(min_length=1, description="Name of the AnalysisTemplate to run.")
    cluster_scope: bool = Field(
        default=False, description="Look the name up among ClusterAnalysisTemplates instead."
    )
    args: list[AnalysisRunArgument] | None = Field(
        default=None,
        description=(
            "Arguments for the template; a value may use {{templates.<name>.podTemplateHash}}, and "
            "valueFrom a Rollout field or revision hash."
        ),
    )
    required_for_completion: bool = Field(
        default=False, description="The experiment completes only once this analysis has succeeded."
    )


class RolloutExperimentStep(ApiModel):
    """Run an Experiment and wait for its verdict before the next step."""

    duration: Duration | None = Field(
        default=None,
        description="How long the experiment runs once available; unset: until required analyses succeed.",
    )
    templates: list[RolloutExperimentTemplate] = Field(min_length=1, description="The ReplicaSets to run.")
    analyses: list[RolloutExperimentAnalysis] | None = Field(
        default=None, description="Analyses of the experiment."
    )

    @model_validator(mode="after")
    def _checked(self) -> Self:
        names = [t.name for t in self.templates]
        check_unique_names(names, what="template", at="templates")
        check_unique_names([a.name for a in self.analyses or []], what="analysis", at="analyses")
        for analysis in self.analyses or []:
            for arg in analysis.args or []:
                for used in TEMPLATE_HASH_PLACEHOLDER.findall(arg.value or ""):
                    if used not in names:
                        raise rule_error(
                            f"analysis {analysis.name!r} argument {arg.name!r} uses "
                            f"{{{{templates.{used}.podTemplateHash}}}} but the step has no template "
                            f"{used!r} (templates: {', '.join(names)})",
                            at="analyses",
                        )
        return self

    def weighted(self) -> list[RolloutExperimentTemplate]:
        """The templates that take traffic while the experiment runs."""
        return [t for t in self.templates if t.weight is not None]

    @property
    def open_ended(self) -> bool:
        """No duration and no required analysis: the experiment runs until someone ends it (the
        step pauses, and a promote terminates the experiment and goes on)."""
        return self.duration is None and not any(a.required_for_completion for a in self.analyses or [])
