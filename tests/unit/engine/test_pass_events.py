"""The Events of one pass, coalesced (``engine.pass_events``): fewer writes, no message lost."""

from __future__ import annotations

from rollouts.engine.pass_events import coalesce
from rollouts.engine.plan import Event, EventType

WEIGHT_50 = Event(reason="TrafficWeightUpdated", message="Canary weight set to 50% (stable 50%)")
WEIGHT_0 = Event(reason="TrafficWeightUpdated", message="Canary weight set to 0% (stable 100%)")
SWITCHED = Event(reason="SwitchService", message="Switched Service web-stable to revision abc")


def _step(n: int, what: str) -> Event:
    return Event(reason="RolloutStepCompleted", message=f"Step {n}/6 completed ({what})")


def _told(events: tuple[Event, ...]) -> list[tuple[str, str, str]]:
    return [(str(e.type), e.reason, e.message) for e in events]


def test_a_pause_end_and_the_next_weight_step_are_one_event_that_tells_the_weight() -> None:
    events = coalesce([_step(2, "pause: 2s"), WEIGHT_50, _step(3, "setWeight: 50")])
    assert _told(events) == [
        (
            "Normal",
            "RolloutStepCompleted",
            "Step 2/6 completed (pause: 2s); Step 3/6 completed (setWeight: 50); "
            "Canary weight set to 50% (stable 50%)",
        )
    ]


def test_a_promotion_tells_the_traffic_it_moved_not_the_last_step() -> None:
    completed = Event(reason="RolloutCompleted", message="Revision abc is now stable")
    events = coalesce([_step(6, "pause: 2s"), completed, SWITCHED, WEIGHT_0])
    assert [e.reason for e in events] == ["RolloutStepCompleted", "RolloutCompleted"]
    assert events[1].message == (
        "Revision abc is now stable; Switched Service web-stable to revision abc; "
        "Canary weight set to 0% (stable 100%)"
    )
    assert events[0].message == "Step 6/6 completed (pause: 2s)"


def test_traffic_moved_for_anything_but_a_step_or_a_promotion_keeps_its_own_events() -> None:
    aborted = Event(reason="RolloutAborted", message="Aborted by a user", type=EventType.WARNING)
    assert coalesce([aborted, WEIGHT_0]) == (aborted, WEIGHT_0)
    deployed = Event(reason="RolloutUpdated", message="Initial deploy of revision abc: no steps to run")
    assert coalesce([deployed, SWITCHED, WEIGHT_0]) == (deployed, SWITCHED, WEIGHT_0)


def test_warnings_are_not_folded_into_normal_events_and_repeats_are_told_once() -> None:
    shared = Event(reason="SharedField", message="Ingress web: field x is shared", type=EventType.WARNING)
    normal = Event(reason="SharedField", message="not a warning")
    events = coalesce([shared, normal, shared, _step(1, "setWeight: 20"), shared])
    assert _told(events) == [
        ("Warning", "SharedField", shared.message),
        ("Normal", "SharedField", "not a warning"),
        ("Normal", "RolloutStepCompleted", "Step 1/6 completed (setWeight: 20)"),
    ]


def test_a_phase_change_the_pass_tells_is_told_in_that_event_and_a_pause_keeps_its_own() -> None:
    updated = Event(reason="RolloutUpdated", message="New revision abc: starting the canary steps")
    progressing = Event(reason="RolloutProgressing", message="Rollout d/web is Progressing (was Healthy)")
    assert _told(coalesce([updated, progressing])) == [
        ("Normal", "RolloutUpdated", f"{updated.message}; {progressing.message}")
    ]
    completed = Event(reason="RolloutCompleted", message="Revision abc is now stable")
    healthy = Event(reason="RolloutHealthy", message="Rollout d/web is Healthy (was Paused)")
    assert [e.reason for e in coalesce([completed, WEIGHT_0, healthy])] == ["RolloutCompleted"]
    paused = Event(
        reason="RolloutPaused", message="Rollout d/web is Paused (was Progressing): CanaryPauseStep"
    )
    assert coalesce([_step(1, "setWeight: 20"), paused])[1] == paused
    assert coalesce([healthy]) == (healthy,), "a phase change with no transition to tell it"


def test_no_events_stay_no_events() -> None:
    assert coalesce([]) == ()
