"""Closed vocabularies of the API, as StrEnums so values compare and serialize as the strings users see.

Values are spelled exactly as in Argo Rollouts, because dashboards, Argo CD health checks and people
match on them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AnalysisPhase",
    "ConditionStatus",
    "PauseReason",
    "PingPongRole",
    "PodTemplateHashValue",
    "RolloutConditionType",
    "RolloutPhase",
    "SelectorOperator",
]


class RolloutPhase(StrEnum):
    """The one-word summary of a Rollout shown by `kubectl get rollouts`."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    DEGRADED = "Degraded"


class AnalysisPhase(StrEnum):
    """Phase of a measurement, a metric, or a whole AnalysisRun."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    def is_completed(self) -> bool:
        """True once the phase can no longer change."""
        return self not in (AnalysisPhase.PENDING, AnalysisPhase.RUNNING)


class PauseReason(StrEnum):
    """Why the controller paused a Rollout; recorded in status.pauseConditions."""

    CANARY_PAUSE_STEP = "CanaryPauseStep"
    BLUE_GREEN_PAUSE = "BlueGreenPause"
    INCONCLUSIVE_ANALYSIS_RUN = "InconclusiveAnalysisRun"
    INCONCLUSIVE_EXPERIMENT = "InconclusiveExperiment"


class PodTemplateHashValue(StrEnum):
    """Which ReplicaSet's pod-template hash an analysis argument receives."""

    STABLE = "Stable"
    LATEST = "Latest"


class RolloutConditionType(StrEnum):
    """Kubernetes-style condition types of a Rollout.

    The first seven are Argo Rollouts' (Argo CD and dashboards read them). The last three are the
    kstatus trio that Flux, ``kubectl wait`` and other generic tools read: ``Reconciling`` while a
    delivery is under way, ``Ready`` once healthy, ``Stalled`` when degraded or aborted.
    """

    AVAILABLE = "Available"
    PROGRESSING = "Progressing"
    REPLICA_FAILURE = "ReplicaFailure"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    HEALTHY = "Healthy"
    INVALID_SPEC = "InvalidSpec"
    RECONCILING = "Reconciling"
    READY = "Ready"
    STALLED = "Stalled"


class ConditionStatus(StrEnum):
    """Status of a condition, spelled as Kubernetes does."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class SelectorOperator(StrEnum):
    """Operator of a set-based label selector requirement."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class PingPongRole(StrEnum):
    """Which of a canary's two pingPong Services is the stable one (``status.canary.stablePingPong``)."""

    PING = "ping"
    PONG = "pong"

    def other(self) -> PingPongRole:
        return PingPongRole.PONG if self is PingPongRole.PING else PingPongRole.PING
