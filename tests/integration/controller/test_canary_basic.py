"""Canary without traffic routing, on the real controller: pod-ratio steps, pause and promote."""

from __future__ import annotations

from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually


def test_canary_without_routing_runs_every_step_to_promotion(controller, kubectl: Kubectl) -> None:
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "maxSurge": 1,
            "maxUnavailable": 0,
            "steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "1s"}}],
        }
    }
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    sc.apply(kubectl, sc.rollout("web", strategy=strategy, replicas=4))
    first = sc.wait_healthy(kubectl, "web")
    v1 = first["stableRS"]
    assert sc.sizes(kubectl, "web") == {v1: 4}
    assert sc.selector_hash(kubectl, "web-stable") == v1

    sc.set_image(kubectl, "web", "v2")
    paused = sc.wait_status(kubectl, "web", "paused at step 1", lambda st: st.get("phase") == "Paused")
    v2 = paused["currentPodHash"]
    assert v2 != v1 and paused["stableRS"] == v1 and paused["currentStepIndex"] == 1
    assert [c["reason"] for c in paused["pauseConditions"]] == ["CanaryPauseStep"]
    # 25% of 4 pods: one canary pod beside the full stable set (maxUnavailable 0).
    eventually(lambda: sc.sizes(kubectl, "web") in ({v1: 3, v2: 1}, {v1: 4, v2: 1}), what="canary at 25%")
    assert sc.selector_hash(kubectl, "web-stable") == v1
    assert sc.selector_hash(kubectl, "web-canary") == v2

    sc.promote(kubectl, "web")
    done = sc.wait_healthy(kubectl, "web", v2)
    assert done["currentStepIndex"] == 4
    eventually(lambda: sc.sizes(kubectl, "web").get(v2) == 4, what="new revision at full size")
    eventually(lambda: sc.sizes(kubectl, "web").get(v1) == 0, what="old revision scaled down")
    assert sc.selector_hash(kubectl, "web-stable") == v2
    events = sc.events(kubectl, "web")
    reasons = [reason for reason, _ in events]
    assert "RolloutUpdated" in reasons and "RolloutPaused" in reasons, events
    # Healthy is told in the promotion's Event when that pass ends Healthy, else in its own.
    healthy = [r for r, m in events if "is Healthy (was" in m]
    assert healthy and set(healthy) <= {"RolloutCompleted", "RolloutHealthy"}, events
    assert sc.steps_completed(kubectl, "web") == ["Step 1/4", "Step 2/4", "Step 3/4", "Step 4/4"]
