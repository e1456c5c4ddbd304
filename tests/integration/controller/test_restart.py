"""The controller killed with SIGKILL in the middle of a canary, and started again."""

from __future__ import annotations

import time

from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually

STEPS = [
    {"setWeight": 25},
    {"pause": {"duration": "2s"}},
    {"setWeight": 50},
    {"pause": {"duration": "2s"}},
    {"setWeight": 75},
    {"pause": {"duration": "2s"}},
]


def test_sigkill_mid_canary_then_restart_finishes_every_step_exactly_once(
    controller, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    strategy = {"canary": {"canaryService": "web-canary", "stableService": "web-stable", "steps": STEPS}}
    sc.apply(kubectl, sc.rollout("web", strategy=strategy, replicas=4))
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    watch = sc.TrafficWatch(kubectl)
    watch.start()
    try:
        sc.set_image(kubectl, "web", "v2")
        sc.wait_status(kubectl, "web", "past step 2", lambda st: (st.get("currentStepIndex") or 0) >= 2)
        controller.kill()  # SIGKILL: no clean-up, no last status write
        time.sleep(3)  # the running pause ends while nobody watches
        controller.start()
        done = sc.wait_healthy(kubectl, "web", timeout=60)
    finally:
        watch.stop.set()
        watch.join(timeout=10)
    v2 = done["stableRS"]
    assert v2 != v1 and done["currentStepIndex"] == len(STEPS)
    eventually(lambda: sc.sizes(kubectl, "web") == {v1: 0, v2: 4}, what="v2 at full size, v1 at zero")
    steps = [m.split(" completed")[0] for r, m in sc.events(kubectl, "web") if r == "RolloutStepCompleted"]
    assert steps == [f"Step {i}/{len(STEPS)}" for i in range(1, len(STEPS) + 1)], steps
    assert watch.samples > 5 and watch.violations == []
    assert controller.starts == 2
