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


class StepWatch(threading.Thread):
    """Samples the Rollout's (currentPodHash, currentStepIndex) every 0.1 s."""

    def __init__(self, kubectl: Kubectl) -> None:
        super().__init__(daemon=True)
        self.kubectl = kubectl
        self.seen: list[tuple[str | None, int | None]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                status = kubectl_json(self.kubectl, "get", "rollout.rollouts.dev", "web").get("status") or {}
                self.seen.append((status.get("currentPodHash"), status.get("currentStepIndex")))
            except AssertionError:
                pass
            time.sleep(0.1)


def test_sigkill_mid_canary_then_restart_finishes_every_step_exactly_once(
    controller, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    strategy = {"canary": {"canaryService": "web-canary", "stableService": "web-stable", "steps": STEPS}}
    sc.apply(kubectl, sc.rollout("web", strategy=strategy, replicas=4))
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    watch = sc.TrafficWatch(kubectl)
    watch.start()
    step_watch = StepWatch(kubectl)
    step_watch.start()
    try:
        sc.set_image(kubectl, "web", "v2")
        sc.wait_status(kubectl, "web", "past step 2", lambda st: (st.get("currentStepIndex") or 0) >= 2)
        controller.kill()  # SIGKILL: no clean-up, no last status write
        time.sleep(3)  # the running pause ends while nobody watches
        controller.start()
        done = sc.wait_healthy(kubectl, "web", timeout=60)
    finally:
        for w in (watch, step_watch):
            w.stop.set()
            w.join(timeout=10)
    v2 = done["stableRS"]
    assert v2 != v1 and done["currentStepIndex"] == len(STEPS)
    eventually(lambda: sc.sizes(kubectl, "web") == {v1: 0, v2: 4}, what="v2 at full size, v1 at zero")
    # The status is the record: the step index of v2 only ever moved forward, to the end.
    v2_steps = [index for pod, index in step_watch.seen if pod == v2 and index is not None]
    assert v2_steps == sorted(v2_steps) and v2_steps[-1] == len(STEPS), v2_steps
    # Events are best effort, as everywhere in Kubernetes: the pass that SIGKILL cut may lose its
    # Event, but no step's Event is ever repeated or out of order.
    events = sc.steps_completed(kubectl, "web")
    numbers = [int(e.split()[1].split("/")[0]) for e in events]
    assert numbers == sorted(set(numbers)) and len(STEPS) - len(numbers) <= 1, events
    assert watch.samples > 5 and watch.violations == []
    assert controller.starts == 2
