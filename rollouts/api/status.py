"""The observed state of a Rollout, written by the controller.

The status holds everything the controller needs to resume after a crash (see DESIGN.md section 3):
where the rollout is (currentStepIndex, currentPodHash, stableRS), why it is paused (pauseConditions),
what traffic split is in place (canary.weights) and which AnalysisRuns belong to the current step.
Shapes follow Argo Rollouts so tools that read Argo's status read ours.
"""

from __future__ import annotations

from pydantic import Field

from rollouts.api.common import ApiModel, Timestamp
from rollouts.api.enums import (
    AnalysisPhase,
    ConditionStatus,
    PauseReason,
    PingPongRole,
    RolloutConditionType,
    RolloutPhase,
)
from rollouts.api.traffic_routing import MAX_TRAFFIC_WEIGHT, RolloutTrafficRouting

__all__ = [
    "BlueGreenStatus",
    "CanaryStatus",
    "PauseCondition",
    "RolloutAnalysisRunStatus",
    "RolloutCondition",
    "RolloutStatus",
    "TrafficWeights",
    "WeightDestination",
]


class PauseCondition(ApiModel):
    """One reason the rollout is paused, and since when (pause durations count from startTime)."""

    reason: PauseReason = Field(description="Why the rollout is paused.")
    start_time: Timestamp = Field(description="When this pause began.")


class RolloutCondition(ApiModel):
    """A Kubernetes-style condition of the Rollout."""

    type: RolloutConditionType = Field(description="Kind of condition.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str | None = Field(default=None, description="One-word CamelCase reason for the last transition.")
    message: str | None = Field(default=None, description="Human-readable detail of the last transition.")
    last_update_time: Timestamp | None = Field(
        default=None, description="When the condition was last updated."
    )
    last_transition_time: Timestamp | None = Field(
        default=None, description="When the condition last changed status."
    )


class RolloutAnalysisRunStatus(ApiModel):
    """The AnalysisRun started for a step or a promotion, and its latest phase."""

    name: str = Field(description="Name of the AnalysisRun.")
    status: AnalysisPhase = Field(description="Phase of the AnalysisRun when last observed.")
    message: str | None = Field(default=None, description="Message of the AnalysisRun, if any.")


class WeightDestination(ApiModel):
    """The traffic weight one side of the canary receives."""

    weight: int = Field(
        ge=0,
        le=MAX_TRAFFIC_WEIGHT,
        description="Traffic sent to this side: a percentage, or out of trafficRouting.maxTrafficWeight.",
    )
    service_name: str | None = Field(default=None, description="Service that receives this traffic.")
    pod_template_hash: str | None = Field(
        default=None, description="Pod-template hash of the pods behind it."
    )


class TrafficWeights(ApiModel):
    """The traffic split the router has been set to (canary.weight + stable.weight: the total weight)."""

    canary: WeightDestination = Field(description="Weight of the canary.")
    stable: WeightDestination = Field(description="Weight of the stable version.")
    verified: bool | None = Field(
        default=None, description="Whether the weights were read back from the router and match."
    )


class CanaryStatus(ApiModel):
    """Canary-only state."""

    weights: TrafficWeights | None = Field(default=None, description="Traffic split currently in place.")
    current_step_analysis_run_status: RolloutAnalysisRunStatus | None = Field(
        default=None, description="AnalysisRun of the current analysis step."
    )
    current_background_analysis_run_status: RolloutAnalysisRunStatus | None = Field(
        default=None, description="AnalysisRun of the background analysis."
    )
    current_experiment: RolloutAnalysisRunStatus | None = Field(
        default=None, description="Experiment of the current experiment step, and its phase."
    )
    stable_ping_pong: PingPongRole | None = Field(
        default=None,
        description="With spec.strategy.canary.pingPong: which of its Services (ping or pong) is stable now.",
    )
    traffic_routing: RolloutTrafficRouting | None = Field(
        default=None,
        description="The traffic routing the controller shifts weights through. When "
        "spec.strategy.canary.trafficRouting is removed or changed, all traffic is first sent back to "
        "stable through this one.",
    )


class BlueGreenStatus(ApiModel):
    """Blue-green-only state."""

    active_selector: str | None = Field(
        default=None, description="Pod-template hash the active Service selects."
    )
    preview_selector: str | None = Field(
        default=None, description="Pod-template hash the preview Service selects."
    )
    pre_promotion_analysis_run_status: RolloutAnalysisRunStatus | None = Field(
        default=None, description="AnalysisRun before promotion."
    )
    post_promotion_analysis_run_status: RolloutAnalysisRunStatus | None = Field(
        default=None, description="AnalysisRun after promotion."
    )


class RolloutStatus(ApiModel):
    """Observed state of the Rollout, written by the controller."""

    phase: RolloutPhase | None = Field(default=None, description="Healthy, Progressing, Paused or Degraded.")
    message: str | None = Field(default=None, description="Why the rollout is in its phase.")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation the controller last acted on."
    )
    current_pod_hash: str | None = Field(default=None, description="Pod-template hash of spec.template.")
    current_step_hash: str | None = Field(
        default=None, description="Hash of the steps, to notice when they change mid-rollout."
    )
    stable_rs: str | None = Field(
        default=None, alias="stableRS", description="Pod-template hash of the stable ReplicaSet."
    )
    current_step_index: int | None = Field(
        default=None, ge=0, description="Index of the current canary step (== len(steps) when done)."
    )
    pause_conditions: list[PauseCondition] | None = Field(
        default=None, description="Why and since when the controller paused the rollout."
    )
    controller_pause: bool | None = Field(
        default=None, description="True while the controller (not the user) holds the rollout paused."
    )
    abort: bool | None = Field(default=None, description="True once the update was aborted.")
    aborted_at: Timestamp | None = Field(default=None, description="When the update was aborted.")
    promote_full: bool | None = Field(
        default=None, description="Skip the remaining steps and analysis and promote (set by promote --full)."
    )
    restarted_at: Timestamp | None = Field(
        default=None, description="The spec.restartAt the controller last completed."
    )
    replicas: int | None = Field(default=None, ge=0, description="Pods of all versions.")
    updated_replicas: int | None = Field(default=None, ge=0, description="Pods of the current version.")
    ready_replicas: int | None = Field(default=None, ge=0, description="Ready pods.")
    available_replicas: int | None = Field(default=None, ge=0, description="Available pods.")
    selector: str | None = Field(
        default=None, description="spec.selector as a string, for the scale subresource (HPA)."
    )
    collision_count: int | None = Field(
        default=None, ge=0, description="Bumped to make a new pod-template hash on a hash collision."
    )
    conditions: list[RolloutCondition] | None = Field(default=None, description="Conditions of the rollout.")
    canary: CanaryStatus | None = Field(default=None, description="Canary-only state.")
    blue_green: BlueGreenStatus | None = Field(default=None, description="Blue-green-only state.")
