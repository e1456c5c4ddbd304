"""Canary scenarios where an update stops or starts over: abort, retry, a new revision, rollback
to the stable template, an edit of the steps, and the progress deadline."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api.enums import AnalysisPhase, PauseReason, RolloutPhase
from rollouts.engine import canary
from rollouts.engine.plan import (
    CreateAnalysisRun,
    CreateReplicaSet,
    ScaleReplicaSet,
    SetWeight,
)
from rollouts.engine.snapshot import AnalysisRunKind, ObservedAnalysisRun
from tests.unit.engine.scenario import (
    SERVICES_V1,
    SERVICES_V2,
    T0,
    V1,
    V2,
    V3,
    at,
    canary_rollout,
    mid,
    of_type,
    rs,
    snapshot,
    svc,
    with_spec,
)

# --- abort and retry ------------------------------------------------------------------------------


def test_abort_sends_all_traffic_to_stable_before_anything_is_scaled_down() -> None:
    ro = canary_rollout(abortScaleDownDelaySeconds=0, status=mid(1, abort=True))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V2, router_canary_weight=20
    )
    plan = canary.decide(snap)
    assert plan.actions[0] == SetWeight(canary_weight=0, canary_hash=V2, stable_hash=V1)
    assert plan.status.phase is RolloutPhase.DEGRADED
    assert plan.status.current_step_index == 0


@pytest.mark.parametrize(("now", "scaled"), [(10, False), (30, True)])
def test_abort_scales_canary_down_after_abort_delay(now: float, scaled: bool) -> None:
    ro = canary_rollout(status=mid(0, abort=True, abortedAt=T0))
    snap = snapshot(
        ro,
        now=at(now),
        replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)),
        services=SERVICES_V2,
        router_canary_weight=0,
    )
    plan = canary.decide(snap)
    assert (
        ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=0, previous=2) in plan.actions
    ) is scaled


def test_retry_after_abort_restarts_steps_with_a_fresh_analysis_run() -> None:
    steps = [{"analysis": {"templates": [{"templateName": "rate"}]}}]
    name = f"web-{V2}-step-0-1"
    status = mid(0, abortedAt=T0, canary={"currentStepAnalysisRunStatus": {"name": name, "status": "Failed"}})
    ro = canary_rollout(steps=steps, status=status)
    failed = ObservedAnalysisRun(
        name=name, kind=AnalysisRunKind.STEP, phase=AnalysisPhase.FAILED, pod_template_hash=V2, step_index=0
    )
    plan = canary.decide(
        snapshot(
            ro,
            replica_sets=(rs(V1, 10), rs(V2, 0, revision=2)),
            services=SERVICES_V1,
            router_canary_weight=0,
            analysis_runs=(failed,),
        )
    )
    assert [r.name for r in of_type(plan, CreateAnalysisRun)] == [f"web-{V2}-step-0-2"]
    assert not plan.status.abort and plan.status.aborted_at is None
    assert plan.status.phase is RolloutPhase.PROGRESSING


# --- new revisions and rollback -------------------------------------------------------------------


def test_new_revision_mid_canary_moves_traffic_off_old_canary_then_scales_it_down() -> None:
    ro = canary_rollout(image="web:3", status=mid(1))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V2, router_canary_weight=20
    )
    plan = canary.decide(snap)
    assert plan.status.current_step_index == 0 and plan.status.current_pod_hash == V3
    weight = plan.actions.index(SetWeight(canary_weight=0, canary_hash=V3, stable_hash=V1))
    scale_down = plan.actions.index(
        ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=0, previous=2)
    )
    assert weight < scale_down
    assert of_type(plan, CreateReplicaSet)[0].pod_template_hash == V3


def test_rollback_to_stable_template_skips_all_steps() -> None:
    ro = canary_rollout(image="web:1", status=mid(1))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V2, router_canary_weight=20
    )
    plan = canary.decide(snap)
    assert plan.status.current_step_index == 2 and plan.status.stable_rs == V1
    assert plan.actions.index(
        SetWeight(canary_weight=0, canary_hash=V1, stable_hash=V1)
    ) < plan.actions.index(ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=0, previous=2))
    assert any(e.reason == "SkipSteps" for e in plan.events)


# --- progress deadline ----------------------------------------------------------------------------


def _stuck(abort: bool, now: float) -> Any:
    cond = {
        "type": "Progressing",
        "status": "True",
        "reason": "ReplicaSetUpdated",
        "lastUpdateTime": T0,
        "lastTransitionTime": T0,
    }
    counts = {"replicas": 12, "updatedReplicas": 2, "readyReplicas": 10, "availableReplicas": 10}
    ro = with_spec(canary_rollout(status=mid(0, conditions=[cond], **counts)), progress_deadline_abort=abort)
    snap = snapshot(
        ro,
        now=at(now),
        replica_sets=(rs(V1, 10), rs(V2, 2, available=0, revision=2)),
        services=SERVICES_V1,
        router_canary_weight=0,
    )
    return canary.decide(snap)


def test_progress_deadline_marks_degraded_and_aborts_only_when_asked() -> None:
    early = _stuck(False, 599)
    assert early.status.phase is RolloutPhase.PROGRESSING and early.wake_at == at(600)
    late = _stuck(False, 600)
    assert late.status.phase is RolloutPhase.DEGRADED and not late.status.abort
    assert "ProgressDeadlineExceeded" in (late.status.message or "")
    aborted = _stuck(True, 600)
    assert aborted.status.abort and aborted.status.phase is RolloutPhase.DEGRADED


# --- an edit of the steps mid-update --------------------------------------------------------------

OLD_STEPS: list[dict[str, Any]] = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
NEW_STEPS: list[dict[str, Any]] = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}]


def recorded_steps_hash(steps: list[dict[str, Any]]) -> str:
    """The ``currentStepHash`` a pass over a stable Rollout with ``steps`` records."""
    ro = canary_rollout(image="web:1", steps=steps, status={"currentPodHash": V1, "stableRS": V1})
    recorded = canary.decide(snapshot(ro, replica_sets=(rs(V1, 10),), services=SERVICES_V1)).status
    assert recorded.current_step_hash
    return recorded.current_step_hash


def paused_at_step_3(steps: list[dict[str, Any]], **status: Any) -> Any:
    pause = {"pauseConditions": [{"reason": "CanaryPauseStep", "startTime": T0}], "controllerPause": True}
    ro = canary_rollout(steps=steps, status=mid(3, **pause, **status))
    return snapshot(
        ro,
        now=at(60),
        replica_sets=(rs(V1, 10), rs(V2, 5, revision=2)),
        services=SERVICES_V2,
        router_canary_weight=50,
    )


def test_steps_edited_mid_update_restart_from_the_first_step_moving_traffic_back_first() -> None:
    snap = paused_at_step_3(NEW_STEPS, currentStepHash=recorded_steps_hash(OLD_STEPS))
    plan = canary.decide(snap)
    assert plan.status.current_step_index == 0
    assert plan.status.current_step_hash == recorded_steps_hash(NEW_STEPS)
    assert not plan.status.pause_conditions and plan.status.phase is RolloutPhase.PROGRESSING
    assert any(e.reason == "RolloutStepsChanged" for e in plan.events)
    weight = plan.actions.index(SetWeight(canary_weight=10, canary_hash=V2, stable_hash=V1))
    shrink = plan.actions.index(
        ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=1, previous=5)
    )
    assert weight < shrink


def test_unchanged_steps_keep_the_current_step() -> None:
    plan = canary.decide(paused_at_step_3(OLD_STEPS, currentStepHash=recorded_steps_hash(OLD_STEPS)))
    assert plan.status.current_step_index == 3 and plan.status.phase is RolloutPhase.PAUSED
    assert [p.reason for p in plan.status.pause_conditions or []] == [PauseReason.CANARY_PAUSE_STEP]


def test_a_status_without_a_steps_hash_is_not_a_change_and_gets_one() -> None:
    plan = canary.decide(paused_at_step_3(NEW_STEPS))
    assert plan.status.current_step_index == 3
    assert plan.status.current_step_hash == recorded_steps_hash(NEW_STEPS)


def test_steps_edited_while_healthy_only_moves_the_index_to_the_end() -> None:
    status = {
        "currentPodHash": V2,
        "stableRS": V2,
        "currentStepIndex": 4,
        "currentStepHash": recorded_steps_hash(OLD_STEPS),
    }
    ro = canary_rollout(steps=NEW_STEPS, status=status)
    plan = canary.decide(
        snapshot(
            ro,
            replica_sets=(rs(V2, 10, revision=2),),
            services=(svc("web-stable", V2), svc("web-canary", V2)),
            router_canary_weight=0,
        )
    )
    assert plan.actions == ()
    assert plan.status.current_step_index == 3 and plan.status.phase is RolloutPhase.HEALTHY
