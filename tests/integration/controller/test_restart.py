"""The controller killed with SIGKILL in the middle of a canary, and started again."""

from __future__ import annotations

import threading
import time

from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually, kubectl_json

STEPS = [
    {"setWeight": 25},
    {"pause": {"duration": "2s"}},
    {"setWeight": 50},
    {"pause": {"duration": "2s"}},
    {"setWeight": 75},
    {"pause": {"duration": "2s"}},
]


class TrafficWatch(threading.Thread):
    """Samples the Services and ReplicaSets; records any moment a Service selects a revision
    that has no available pod (traffic sent to pods that are not ready)."""

    def __init__(self, kubectl: Kubectl) -> None:
        super().__init__(daemon=True)
        self.kubectl = kubectl
        self.violations: list[str] = []
        self.samples = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            # ReplicaSets first, then Services: the controller moves a selector before it scales
            # the old revision down, so this order never sees a correct switch as a violation,
            # while a scale-down that came before the switch is still caught.
            rs = sc.replica_sets(self.kubectl, "web")
            services = kubectl_json(self.kubectl, "get", "services")["items"]
            for svc in services:
                selected = (svc["spec"].get("selector") or {}).get(sc.HASH)
                if selected and selected in rs and rs[selected]["available"] == 0:
                    self.violations.append(f"{svc['metadata']['name']} -> {selected} with {rs[selected]}")
            self.samples += 1
            time.sleep(0.2)


def test_sigkill_mid_canary_then_restart_finishes_every_step_exactly_once(
    controller, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    strategy = {"canary": {"canaryService": "web-canary", "stableService": "web-stable", "steps": STEPS}}
    sc.apply(kubectl, sc.rollout("web", strategy=strategy, replicas=4))
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    watch = TrafficWatch(kubectl)
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
