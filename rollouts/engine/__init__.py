"""The pure decision engine: (Rollout, observed cluster, now) -> Plan. No I/O, no clock reads.

Public API of the step machines (other engine modules are imported directly):
``decide_canary``/``decide_bluegreen`` (or ``decide``, which picks by strategy), the
:class:`Snapshot` they read and the :class:`Plan` they return with its actions, and
``decide_invalid_spec`` for a Rollout that fails validation (no actions, a Degraded status that
keeps the rollout's progress, an ``InvalidSpec`` warning).
"""

from __future__ import annotations

from rollouts.engine.bluegreen import decide as decide_bluegreen
from rollouts.engine.canary import decide as decide_canary
from rollouts.engine.invalid_spec import decide_invalid_spec
from rollouts.engine.plan import (
    Action,
    AnnotateScaleDownDeadline,
    CreateAnalysisRun,
    CreateExperiment,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    Event,
    EventType,
    InjectedAntiAffinity,
    Plan,
    RemoveAntiAffinity,
    RestartPod,
    RestoreStableTraffic,
    ScaleReplicaSet,
    ScaleWorkload,
    SetPodMetadata,
    SetRoutes,
    SetWeight,
    SwitchServiceSelector,
    TerminateAnalysisRun,
    TerminateExperiment,
)
from rollouts.engine.snapshot import (
    AnalysisRunKind,
    ObservedAnalysisRun,
    ObservedPod,
    ObservedReplicaSet,
    ObservedService,
    Snapshot,
)

__all__ = [
    "Action",
    "AnalysisRunKind",
    "AnnotateScaleDownDeadline",
    "CreateAnalysisRun",
    "CreateExperiment",
    "CreateReplicaSet",
    "DeleteAnalysisRun",
    "DeleteReplicaSet",
    "Event",
    "EventType",
    "InjectedAntiAffinity",
    "ObservedAnalysisRun",
    "ObservedPod",
    "ObservedReplicaSet",
    "ObservedService",
    "Plan",
    "RemoveAntiAffinity",
    "RestartPod",
    "RestoreStableTraffic",
    "ScaleReplicaSet",
    "ScaleWorkload",
    "SetPodMetadata",
    "SetRoutes",
    "SetWeight",
    "Snapshot",
    "SwitchServiceSelector",
    "TerminateAnalysisRun",
    "TerminateExperiment",
    "decide",
    "decide_bluegreen",
    "decide_canary",
    "decide_invalid_spec",
]


def decide(snapshot: Snapshot) -> Plan:
    """Decide one pass for the Rollout in ``snapshot``, by its strategy."""
    if snapshot.rollout.spec.strategy.blue_green is not None:
        return decide_bluegreen(snapshot)
    return decide_canary(snapshot)
