"""Phase and conditions: the verdict a person or a GitOps tool reads."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api.enums import ConditionStatus, RolloutPhase
from rollouts.api.status import RolloutStatus
from rollouts.engine import canary
from rollouts.engine.plan import Plan
from rollouts.engine.status import Verdict, conditions_for, find_condition, kstatus_trio, phase_for
from tests.unit.api.crd_check import crd_schemas, server_errors
from tests.unit.engine.scenario import (
    CANARY_AT_20,
    SERVICES_V2,
    T0,
    V1,
    V2,
    at,
    canary_rollout,
    mid,
    rs,
    snapshot,
    svc,
)


@pytest.mark.parametrize(
    ("verdict", "phase"),
    [
        (Verdict(aborted=True, paused=True, timed_out=True), RolloutPhase.DEGRADED),
        (Verdict(timed_out=True, paused=True), RolloutPhase.DEGRADED),
        (Verdict(invalid_spec="bad"), RolloutPhase.DEGRADED),
        (Verdict(paused=True, pause_message="CanaryPauseStep"), RolloutPhase.PAUSED),
        (Verdict(completed=True), RolloutPhase.HEALTHY),
        (Verdict(), RolloutPhase.PROGRESSING),
    ],
)
def test_phase_most_severe_first(verdict: Verdict, phase: RolloutPhase) -> None:
    assert phase_for(verdict)[0] is phase


@pytest.mark.parametrize("phase", list(RolloutPhase))
def test_kstatus_never_reconciling_and_stalled(phase: RolloutPhase) -> None:
    trio = kstatus_trio(phase)
    assert not (trio["Reconciling"] and trio["Stalled"])
    assert trio["Ready"] is (phase is RolloutPhase.HEALTHY)
    assert trio["Stalled"] is (phase is RolloutPhase.DEGRADED)


def test_last_transition_time_only_moves_when_status_flips() -> None:
    first = conditions_for((), verdict=Verdict(progressed=True), now=at(0))
    again = conditions_for(first, verdict=Verdict(progressed=True), now=at(10))
    progressing = find_condition(again, "Progressing")
    assert progressing is not None
    assert progressing.last_transition_time == at(0) and progressing.last_update_time == at(10)
    aborted = conditions_for(again, verdict=Verdict(aborted=True, abort_message="x"), now=at(20))
    cond = find_condition(aborted, "Progressing")
    assert cond is not None and cond.status is ConditionStatus.FALSE and cond.reason == "RolloutAborted"
    assert cond.last_transition_time == at(20)
    available = find_condition(aborted, "Available")
    assert available is not None and available.last_transition_time == at(0)


def test_healthy_and_paused_conditions() -> None:
    conds = conditions_for((), verdict=Verdict(completed=True, available=True), now=at(0))
    healthy = find_condition(conds, "Healthy")
    assert healthy is not None and healthy.status is ConditionStatus.TRUE
    progressing = find_condition(conds, "Progressing")
    assert progressing is not None and progressing.reason == "NewReplicaSetAvailable"
    paused = conditions_for(conds, verdict=Verdict(paused=True, pause_message="CanaryPauseStep"), now=at(5))
    cond = find_condition(paused, "Paused")
    assert cond is not None and cond.status is ConditionStatus.TRUE and cond.reason == "RolloutPaused"


# --- the kstatus trio as a plan writes it ---------------------------------------------------------


def _trio(plan: Plan) -> dict[str, str]:
    conds = plan.status.conditions or []
    return {str(c.type): str(c.status) for c in conds if str(c.type) in ("Reconciling", "Ready", "Stalled")}


def _canary_plan(status: dict[str, Any], *, image: str = "web:2", **observed: Any) -> Plan:
    return canary.decide(snapshot(canary_rollout(image=image, status=status), **observed))


HEALTHY = dict(
    status={"currentPodHash": V2, "stableRS": V2, "currentStepIndex": 2},
    replica_sets=(rs(V2, 10, revision=2),),
    services=(svc("web-stable", V2), svc("web-canary", V2)),
    router_canary_weight=0,
)
PAUSED = dict(
    status=mid(1),
    **CANARY_AT_20,
)
ABORTED = dict(
    status=mid(1, abort=True, abortedAt=T0),
    replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)),
    services=SERVICES_V2,
    router_canary_weight=0,
)


@pytest.mark.parametrize(
    ("case", "phase", "trio"),
    [
        (HEALTHY, RolloutPhase.HEALTHY, {"Reconciling": "False", "Ready": "True", "Stalled": "False"}),
        (PAUSED, RolloutPhase.PAUSED, {"Reconciling": "True", "Ready": "False", "Stalled": "False"}),
        (ABORTED, RolloutPhase.DEGRADED, {"Reconciling": "False", "Ready": "False", "Stalled": "True"}),
    ],
    ids=["healthy", "paused", "aborted"],
)
def test_plans_write_the_kstatus_trio(
    case: dict[str, Any], phase: RolloutPhase, trio: dict[str, str]
) -> None:
    plan = _canary_plan(**case)
    assert plan.status.phase is phase
    assert _trio(plan) == trio


def test_a_status_with_the_trio_passes_the_crd_schema_and_round_trips() -> None:
    plan = _canary_plan(**ABORTED)
    status = plan.status.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert RolloutStatus.model_validate(status) == plan.status
    ro = canary_rollout(status=mid(1)).model_dump(by_alias=True, exclude_none=True, mode="json")
    assert server_errors({**ro, "status": status}, crd_schemas()) == []


def test_timed_out_rollout_is_stalled_not_reconciling() -> None:
    conds = conditions_for((), verdict=Verdict(timed_out=True, progress_message="stuck"), now=at(0))
    stalled, reconciling = find_condition(conds, "Stalled"), find_condition(conds, "Reconciling")
    assert stalled is not None and stalled.status is ConditionStatus.TRUE
    assert reconciling is not None and reconciling.status is ConditionStatus.FALSE
