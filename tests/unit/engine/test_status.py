"""Phase and conditions: the verdict a person or a GitOps tool reads."""

from __future__ import annotations

import pytest

from rollouts.api.enums import ConditionStatus, RolloutPhase
from rollouts.engine.status import Verdict, conditions_for, find_condition, kstatus_trio, phase_for
from tests.unit.engine.scenario import at


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
