"""What the demo prints: facts read from the objects kubectl lists, and one line per real change."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.demo.progress import State, changes, describe_step, format_value

HASH = "rollouts-pod-template-hash"


def _rollout(*, phase: str = "Progressing", step: int | None = 1, abort: bool = False) -> dict[str, Any]:
    return {
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}},
            "strategy": {
                "canary": {
                    "stableService": "web-stable",
                    "steps": [
                        {"setWeight": 20},
                        {"analysis": {"templates": [{"templateName": "success-rate-demo"}]}},
                        {"pause": {"duration": "10s"}},
                        {"pause": {}},
                    ],
                }
            },
        },
        "status": {
            "phase": phase,
            "message": "at step 2 of 4 (analysis)",
            "currentStepIndex": step,
            "stableRS": "aaa",
            "currentPodHash": "bbb",
            "abort": abort,
            # The status may claim a weight; the demo shows the one in the canary Ingress.
            "canary": {"weights": {"canary": {"weight": 99}, "stable": {"weight": 1}}},
        },
    }


def _ingress(name: str, notes: dict[str, str]) -> dict[str, Any]:
    return {"kind": "Ingress", "metadata": {"name": name, "annotations": notes}}


def _canary(weight: str) -> dict[str, Any]:
    notes = {
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": weight,
    }
    return _ingress("web-web-canary", notes)


def _service(name: str, pod_hash: str) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "web", HASH: pod_hash}},
    }


def _measurement(value: str, phase: str = "Successful", *, done: bool = True) -> dict[str, Any]:
    m: dict[str, Any] = {"phase": phase, "value": value, "startedAt": "2026-01-01T00:00:00Z"}
    if done:
        m["finishedAt"] = "2026-01-01T00:00:01Z"
    return m


def _run(*measurements: dict[str, Any], phase: str = "Running", count: int | None = None) -> dict[str, Any]:
    return {
        "kind": "AnalysisRun",
        "metadata": {
            "name": "web-bbb-step-1-1",
            "labels": {HASH: "bbb"},
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "status": {
            "phase": phase,
            "metricResults": [
                {
                    "name": "success-rate",
                    "count": count or len(measurements),
                    "measurements": list(measurements),
                }
            ],
        },
    }


def _state(*extra: dict[str, Any], weight: str = "20", rollout: dict[str, Any] | None = None) -> State:
    items = [
        rollout or _rollout(),
        _ingress("web", {}),
        _canary(weight),
        _service("web-stable", "aaa"),
        *extra,
    ]
    return State.read(items, rollout="web")


def test_weight_is_read_from_the_canary_ingress_not_the_status() -> None:
    state = _state(weight="20")
    assert state.canary_weight == 20
    assert state.weight_text() == "canary Ingress web-web-canary: canary-weight 20"


def test_no_canary_ingress_is_said_as_such() -> None:
    state = State.read([_rollout(), _ingress("web", {})], rollout="web")
    assert state.canary_weight is None
    assert "all traffic on the stable Ingress" in state.weight_text()


def test_facts_of_the_rollout_and_the_stable_service() -> None:
    state = _state()
    assert (state.phase, state.stable_hash, state.current_hash, state.stable_selector) == (
        "Progressing",
        "aaa",
        "bbb",
        "aaa",
    )
    assert state.step_text() == "1/4 (analysis success-rate-demo)"
    assert _state(rollout=_rollout(step=4)).step_text() == "4/4 (all steps done)"


def test_a_missing_rollout_is_an_error_naming_it() -> None:
    with pytest.raises(LookupError, match="Rollout web not found"):
        State.read([_ingress("web", {})], rollout="web")


def test_nothing_changed_prints_nothing() -> None:
    state = _state(_run(_measurement("[0.99]")))
    assert changes(state, state) == []


def test_a_weight_change_is_one_line() -> None:
    assert changes(_state(weight="20"), _state(weight="0")) == [
        "canary Ingress web-web-canary: canary-weight 0"
    ]


def test_a_new_measurement_shows_its_value_before_the_phase_it_decided() -> None:
    before = _state(_run(_measurement("[1.0]")))
    after = _state(
        _run(_measurement("[1.0]"), _measurement("[0.7021276595744681]", "Failed"), phase="Failed")
    )
    assert changes(before, after) == [
        "AnalysisRun web-bbb-step-1-1: success-rate #2 = [0.7021] -> Failed",
        "AnalysisRun web-bbb-step-1-1 Failed",
    ]


def test_a_measurement_in_progress_is_not_shown_until_it_has_a_result() -> None:
    state = _state(_run(_measurement("", "Running", done=False)))
    assert state.runs[0].measurements == ()


def test_measurements_are_numbered_by_count_when_older_ones_were_dropped() -> None:
    kept = [_measurement(f"[{i}]") for i in range(10)]
    state = _state(_run(*kept, count=12))
    assert [m.number for m in state.runs[0].measurements] == list(range(3, 13))


def test_the_first_read_says_everything() -> None:
    lines = changes(None, _state(_run(_measurement("[0.99]"))))
    assert lines[:2] == [
        "phase Progressing: at step 2 of 4 (analysis)",
        "step 1/4 (analysis success-rate-demo)",
    ]
    assert "stable Service web-stable selects rollouts-pod-template-hash=aaa" in lines
    assert "AnalysisRun web-bbb-step-1-1: success-rate #1 = [0.9900] -> Successful" in lines


@pytest.mark.parametrize(
    ("step", "text"),
    [
        ({"setWeight": 20}, "setWeight 20"),
        ({"pause": {"duration": "10s"}}, "pause 10s"),
        ({"pause": {}}, "pause until promoted"),
        ({"analysis": {"templates": [{"templateName": "a"}, {"templateName": "b"}]}}, "analysis a, b"),
    ],
)
def test_steps_in_a_few_words(step: dict[str, Any], text: str) -> None:
    assert describe_step(step) == text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("[0.99912345]", "[0.9991]"),
        ("0.5", "0.5000"),
        ("[]", "[]"),
        ("[3]", "[3]"),
        ("NaN", "NaN"),
        ("[NaN]", "[NaN]"),
        ("x", "x"),
    ],
)
def test_values_are_shown_as_recorded_with_short_floats(value: str, shown: str) -> None:
    assert format_value(value) == shown


def _pod(name: str, *, scheduled: bool, message: str = "") -> dict[str, Any]:
    condition = {"type": "PodScheduled", "status": "True" if scheduled else "False", "message": message}
    return {"kind": "Pod", "metadata": {"name": name}, "status": {"conditions": [condition]}}


def test_pods_the_scheduler_cannot_place_are_said_with_its_reason_and_when_that_ends() -> None:
    full = "0/3 nodes are available:\n 3 Too many pods."
    waiting = _state(_pod("web-bbb-1", scheduled=False, message=full), _pod("web-aaa-1", scheduled=True))
    assert waiting.unschedulable == (full,)
    assert changes(_state(), waiting) == [
        "1 pod(s) cannot be scheduled yet: 0/3 nodes are available: 3 Too many pods."
    ]
    assert changes(waiting, _state(_pod("web-bbb-1", scheduled=True))) == ["every pod is scheduled"]
