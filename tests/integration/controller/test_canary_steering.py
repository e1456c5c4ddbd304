"""Steering a canary through the API as ``kubectl rollouts`` does: promote-full, abort and retry,
rollback to the stable template, a second update mid-canary, and the progress deadline."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually


def _canary(**extra: Any) -> dict[str, Any]:
    return {
        "canary": {
            "canaryService": "app-canary",
            "stableService": "app-stable",
            "maxSurge": 1,
            "maxUnavailable": 0,
            "steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}],
            **extra,
        }
    }


def _start(kubectl: Kubectl, **spec: Any) -> tuple[str, str]:
    """A Healthy v1 Rollout "app" with 4 pods, updated to v2 and paused at step 1: (v1, v2)."""
    strategy = spec.pop("strategy", None) or _canary()
    sc.apply(kubectl, sc.service("app-stable", "app"), sc.service("app-canary", "app"))
    sc.apply(kubectl, sc.rollout("app", strategy=strategy, replicas=4, **spec))
    v1 = sc.wait_healthy(kubectl, "app")["stableRS"]
    sc.set_image(kubectl, "app", "v2")
    paused = sc.wait_status(
        kubectl,
        "app",
        "paused at step 1",
        lambda st: st.get("phase") == "Paused" and st.get("currentStepIndex") == 1,
    )
    return v1, paused["currentPodHash"]


def test_promote_full_skips_the_remaining_steps(controller, kubectl: Kubectl) -> None:
    v1, v2 = _start(kubectl)
    sc.promote_full(kubectl, "app")
    done = sc.wait_healthy(kubectl, "app", v2)
    assert done["currentStepIndex"] == 4
    eventually(lambda: sc.sizes(kubectl, "app") == {v1: 0, v2: 4}, what="v2 at full size, v1 at zero")
    assert sc.selector_hash(kubectl, "app-stable") == v2
    steps = sc.steps_completed(kubectl, "app")
    assert len(steps) == 1, f"only step 1 ran before promote-full; got {steps}"


def test_abort_sends_everything_back_to_stable_and_retry_starts_over(controller, kubectl: Kubectl) -> None:
    v1, v2 = _start(kubectl, strategy=_canary(abortScaleDownDelaySeconds=1))
    sc.abort(kubectl, "app")
    aborted = sc.wait_status(kubectl, "app", "Degraded after abort", lambda st: st.get("phase") == "Degraded")
    assert aborted["abort"] is True and aborted["stableRS"] == v1
    progressing = sc.condition(aborted, "Progressing")
    assert progressing["status"] == "False" and progressing["reason"] == "RolloutAborted"
    assert sc.condition(aborted, "Stalled")["status"] == "True"
    assert sc.condition(aborted, "Reconciling")["status"] == "False"
    eventually(lambda: sc.sizes(kubectl, "app") == {v1: 4, v2: 0}, what="stable at full size, canary at zero")
    assert sc.selector_hash(kubectl, "app-stable") == v1

    sc.retry(kubectl, "app")
    again = sc.wait_status(
        kubectl,
        "app",
        "paused at step 1 again after retry",
        lambda st: st.get("phase") == "Paused" and st.get("currentStepIndex") == 1 and not st.get("abort"),
    )
    assert again["currentPodHash"] == v2 and again["stableRS"] == v1
    eventually(lambda: sc.sizes(kubectl, "app").get(v2) == 1, what="one canary pod again")
    assert "RolloutAborted" in [r for r, _ in sc.events(kubectl, "app")] or "RolloutDegraded" in [
        r for r, _ in sc.events(kubectl, "app")
    ]


def test_going_back_to_the_stable_template_skips_the_steps(controller, kubectl: Kubectl) -> None:
    v1, v2 = _start(kubectl)
    sc.set_image(kubectl, "app", "v1")
    done = sc.wait_healthy(kubectl, "app", v1)
    assert done["currentPodHash"] == v1
    eventually(lambda: sc.sizes(kubectl, "app") == {v1: 4, v2: 0}, what="canary scaled away")
    assert sc.selector_hash(kubectl, "app-canary") == v1
    assert "SkipSteps" in [r for r, _ in sc.events(kubectl, "app")]


def test_a_rollback_within_the_window_is_promoted_at_once(controller, kubectl: Kubectl) -> None:
    v1, v2 = _start(kubectl, rollbackWindow={"revisions": 1})
    sc.promote_full(kubectl, "app")
    sc.wait_healthy(kubectl, "app", v2)
    sc.set_image(kubectl, "app", "v1")  # back one revision: within the window
    done = sc.wait_healthy(kubectl, "app", v1, timeout=60)
    assert done["currentPodHash"] == v1 and not done.get("pauseConditions")
    assert "RollbackWithinWindow" in [r for r, _ in sc.events(kubectl, "app")]
    eventually(lambda: sc.sizes(kubectl, "app") == {v1: 4, v2: 0}, what="v1 back at full size")


def test_a_second_update_mid_canary_restarts_the_steps_for_the_newest_revision(
    controller, kubectl: Kubectl
) -> None:
    v1, v2 = _start(kubectl)
    sc.set_image(kubectl, "app", "v3")
    paused = sc.wait_status(
        kubectl,
        "app",
        "paused at step 1 of v3",
        lambda st: st.get("phase") == "Paused" and st.get("currentPodHash") not in (v1, v2),
    )
    v3 = paused["currentPodHash"]
    assert paused["stableRS"] == v1 and paused["currentStepIndex"] == 1
    eventually(
        lambda: sc.sizes(kubectl, "app") in ({v1: 3, v2: 0, v3: 1}, {v1: 4, v2: 0, v3: 1}),
        what="v2 gone, v3 at 25%",
    )
    assert sc.selector_hash(kubectl, "app-canary") == v3
    sc.promote_full(kubectl, "app")
    sc.wait_healthy(kubectl, "app", v3)


@pytest.mark.parametrize("abort", [False, True], ids=["mark-degraded", "abort"])
def test_progress_deadline_marks_a_stuck_update_degraded(controller, kubectl: Kubectl, abort: bool) -> None:
    strategy = _canary()
    sc.apply(kubectl, sc.service("app-stable", "app"), sc.service("app-canary", "app"))
    sc.apply(
        kubectl,
        sc.rollout(
            "app", strategy=strategy, replicas=2, progressDeadlineSeconds=3, progressDeadlineAbort=abort
        ),
    )
    v1 = sc.wait_healthy(kubectl, "app")["stableRS"]
    # v2's pods can never be scheduled (no node has this label), so the update makes no progress.
    rollout = sc.get_rollout(kubectl, "app")
    rollout["spec"]["template"]["spec"]["nodeSelector"] = {"kube-rollouts.test/never": "true"}
    kubectl("replace", "-f", "-", stdin=__import__("json").dumps(rollout))
    stuck = sc.wait_status(
        kubectl, "app", "Degraded by the progress deadline", lambda st: st.get("phase") == "Degraded"
    )
    progressing = sc.condition(stuck, "Progressing")
    assert progressing["reason"] == ("RolloutAborted" if abort else "ProgressDeadlineExceeded")
    assert "deadline" in stuck["message"].lower(), stuck["message"]
    assert stuck["stableRS"] == v1
    assert bool(stuck.get("abort")) is abort
    assert sc.selector_hash(kubectl, "app-stable") == v1
    assert "RolloutDegraded" in [r for r, _ in sc.events(kubectl, "app")]
