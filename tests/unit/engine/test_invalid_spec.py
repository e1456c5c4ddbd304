"""A Rollout that fails validation: Degraded with the fix spelled out, and nothing forgotten."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api import RolloutPhase, validation_errors
from rollouts.api.status import RolloutStatus
from rollouts.engine import EventType, canary, decide_invalid_spec
from rollouts.engine.status import find_condition
from tests.unit.engine.scenario import (
    CANARY_AT_20,
    SERVICES_V2,
    T0,
    V1,
    V2,
    apply,
    at,
    canary_rollout,
    mid,
    rs,
    snapshot,
)
from tests.unit.volume.broken import nested_lists

PAUSED_AT_STEP_1 = mid(
    1,
    pauseConditions=[{"reason": "CanaryPauseStep", "startTime": T0.isoformat()}],
    controllerPause=True,
    canary={"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}}},
)


def broken(status: dict[str, Any] | None = PAUSED_AT_STEP_1) -> dict[str, Any]:
    """A canary mid-update whose user just set a weight of 150 on step 2."""
    doc = canary_rollout(steps=[{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}]).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    doc["spec"]["strategy"]["canary"]["steps"][2]["setWeight"] = 150
    if status is not None:
        doc["status"] = status
    return doc


def cond(plan: Any, kind: str) -> tuple[str, str] | None:
    found = find_condition(plan.status.conditions or (), kind)
    return None if found is None else (str(found.status), found.message or "")


def test_invalid_rollout_is_degraded_with_a_message_naming_the_field_and_the_fix() -> None:
    plan = decide_invalid_spec(broken(), now=at(10))
    assert plan.actions == ()
    assert plan.status.phase is RolloutPhase.DEGRADED
    message = plan.status.message or ""
    assert message.startswith("InvalidSpec: Rollout default/web: ")
    assert "`spec.strategy.canary.steps[2].setWeight`: 150 is above the total weight 100 (percent)" in message
    assert cond(plan, "InvalidSpec") == ("True", message.removeprefix("InvalidSpec: "))
    assert cond(plan, "Stalled")[0] == "True"  # type: ignore[index]
    assert cond(plan, "Ready")[0] == "False"  # type: ignore[index]
    assert cond(plan, "Reconciling")[0] == "False"  # type: ignore[index]
    assert cond(plan, "Healthy")[0] == "False"  # type: ignore[index]
    assert plan.status.observed_generation == 2
    (event,) = plan.events
    assert (event.type, event.reason) == (EventType.WARNING, "InvalidSpec")
    assert "steps[2].setWeight" in event.message


def test_invalid_spec_keeps_what_the_controller_needs_to_resume() -> None:
    plan = decide_invalid_spec(broken(), now=at(10))
    status = plan.status
    assert (status.stable_rs, status.current_pod_hash, status.current_step_index) == (V1, V2, 1)
    assert [str(p.reason) for p in status.pause_conditions or []] == ["CanaryPauseStep"]
    assert status.controller_pause
    assert status.canary is not None and status.canary.weights is not None
    assert status.canary.weights.canary.weight == 20


def test_fixing_the_spec_resumes_at_the_same_step_and_clears_invalid_spec() -> None:
    invalid = decide_invalid_spec(broken(), now=at(10))
    fixed = canary_rollout(
        steps=[{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}],
        status=invalid.status.model_dump(by_alias=True, exclude_none=True, mode="json"),
    )
    plan = canary.decide(
        snapshot(
            fixed,
            now=at(20),
            **CANARY_AT_20,
        )
    )
    assert plan.status.current_step_index == 1 and plan.status.phase is RolloutPhase.PAUSED
    assert cond(plan, "InvalidSpec") is None
    assert cond(plan, "Stalled")[0] == "False"  # type: ignore[index]


def test_time_spent_invalid_does_not_count_against_the_progress_deadline() -> None:
    progressing = {
        "type": "Progressing",
        "status": "True",
        "reason": "ReplicaSetUpdated",
        "lastUpdateTime": T0.isoformat(),
        "lastTransitionTime": T0.isoformat(),
    }
    counts = {"replicas": 12, "updatedReplicas": 2, "readyReplicas": 10, "availableReplicas": 10}
    invalid = decide_invalid_spec(broken(mid(0, conditions=[progressing], **counts)), now=at(700))
    fixed = canary_rollout(status=invalid.status.model_dump(by_alias=True, exclude_none=True, mode="json"))
    snap = snapshot(
        fixed,
        now=at(701),
        replica_sets=(rs(V1, 10), rs(V2, 2, available=0, revision=2)),
        services=SERVICES_V2,
        router_canary_weight=0,
    )
    plan = canary.decide(snap)
    assert plan.status.phase is RolloutPhase.PROGRESSING  # not ProgressDeadlineExceeded
    later = canary.decide(apply(snap, plan, after=1, ready=False))
    assert later.status.phase is RolloutPhase.PROGRESSING
    assert later.wake_at == at(701 + 600)  # the 600 s deadline counts from the fix


def test_the_warning_is_only_repeated_when_the_problem_changes() -> None:
    first = decide_invalid_spec(broken(), now=at(10))
    again_doc = broken(first.status.model_dump(by_alias=True, exclude_none=True, mode="json"))
    again = decide_invalid_spec(again_doc, now=at(20))
    assert again.events == ()
    assert cond(again, "InvalidSpec") == cond(first, "InvalidSpec")
    other = broken(again.status.model_dump(by_alias=True, exclude_none=True, mode="json"))
    other["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = -1
    changed = decide_invalid_spec(other, now=at(30))
    assert [e.reason for e in changed.events] == ["InvalidSpec"]


def test_first_sight_of_an_invalid_rollout_and_a_status_that_no_longer_reads() -> None:
    plan = decide_invalid_spec(broken(status=None), now=at(0))
    assert plan.status.phase is RolloutPhase.DEGRADED and plan.status.stable_rs is None
    garbled = decide_invalid_spec(broken(status={**PAUSED_AT_STEP_1, "currentStepIndex": "two"}), now=at(0))
    assert garbled.status.stable_rs == V1 and garbled.status.current_step_index is None


def test_a_status_field_nested_thousands_deep_is_dropped_alone() -> None:
    # found by tests/unit/volume: the status model's enum error took the repr of it: RecursionError
    plan = decide_invalid_spec(broken(status={**PAUSED_AT_STEP_1, "phase": nested_lists(5000)}), now=at(0))
    assert plan.status.phase is RolloutPhase.DEGRADED and plan.status.stable_rs == V1


def test_given_errors_are_used_and_a_valid_rollout_is_refused() -> None:
    doc = broken()
    plan = decide_invalid_spec(doc, now=at(0), errors=validation_errors(doc))
    assert plan.status.message == decide_invalid_spec(doc, now=at(0)).status.message
    valid = canary_rollout().model_dump(by_alias=True, exclude_none=True, mode="json")
    with pytest.raises(ValueError, match="valid"):
        decide_invalid_spec(valid, now=at(0))


EVERY_FIELD = {
    **mid(1),
    "phase": "Paused",
    "message": "CanaryPauseStep",
    "observedGeneration": 1,
    "currentStepHash": "steps1",
    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": T0.isoformat()}],
    "controllerPause": True,
    "abort": True,
    "abortedAt": T0.isoformat(),
    "promoteFull": True,
    "restartedAt": T0.isoformat(),
    "replicas": 12,
    "updatedReplicas": 2,
    "readyReplicas": 11,
    "availableReplicas": 10,
    "selector": "app=web",
    "collisionCount": 1,
    "conditions": [{"type": "Paused", "status": "True", "reason": "RolloutPaused"}],
    "canary": {"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}}},
    "blueGreen": {"activeSelector": V1},
}


def test_an_invalid_spec_keeps_every_status_field_it_does_not_decide() -> None:
    old = RolloutStatus.model_validate(EVERY_FIELD)
    assert old.model_fields_set == set(RolloutStatus.model_fields)  # a new field belongs above too
    status = decide_invalid_spec(broken(EVERY_FIELD), now=at(10)).status
    decided = {"phase", "message", "observed_generation", "conditions"}
    for name in set(RolloutStatus.model_fields) - decided:
        assert getattr(status, name) == getattr(old, name), name
