"""One pass, one status write: a step transition decided in rounds (``Reconciler._settle``).

The real reconciler, caches, engine and NGINX router run over the volume tests' in-memory API
server (``FakeApi``, which plays the ReplicaSet controller between passes); the clock moves 10 s a
pass, so every 5 s pause has ended by the next pass.
"""

from __future__ import annotations

from typing import Any

from tests.unit.volume.harness import ROLLOUT_KEY, Controller
from tests.unit.volume.valid import GROUP_VERSION, LABELS, NAME, ingress, metadata, service

STEPS = [{"setWeight": 20}, {"pause": {"duration": "5s"}}, {"setWeight": 50}, {"pause": {"duration": "5s"}}]


def _rollout() -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Rollout",
        "metadata": metadata(NAME),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {"containers": [{"name": "app", "image": "v1"}]},
            },
            "strategy": {
                "canary": {
                    "canaryService": "web-canary",
                    "stableService": "web-stable",
                    "trafficRouting": {"nginx": {"stableIngress": NAME}},
                    "steps": STEPS,
                }
            },
        },
    }


class Counted(Controller):
    """The harness, counting the status writes and canary Ingress applies of each pass."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        super().__init__(objects)
        self.status_writes = self.ingress_applies = 0
        replace, apply = self.api.replace, self.api.apply

        async def counted_replace(obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
            self.status_writes += kw.get("subresource") == "status"
            return await replace(obj, **kw)

        async def counted_apply(obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
            self.ingress_applies += obj.get("kind") == "Ingress"
            return await apply(obj, **kw)

        self.api.replace = counted_replace  # type: ignore[method-assign]
        self.api.apply = counted_apply  # type: ignore[method-assign]

    def one_pass(self) -> tuple[int, int]:
        before = (self.status_writes, self.ingress_applies)
        self.outcomes = self.reconcile(1)
        return self.status_writes - before[0], self.ingress_applies - before[1]


def _weight(c: Controller) -> str | None:
    """The canary Ingress's weight (the one Ingress that is not the user's)."""
    canary = next((o for k, o in c.api.objects.items() if k[1] == "Ingress" and k[3] != NAME), {})
    return (canary.get("metadata", {}).get("annotations") or {}).get(
        "nginx.ingress.kubernetes.io/canary-weight"
    )


def test_a_pause_end_writes_the_next_weight_and_starts_the_next_pause_in_one_status_write() -> None:
    c = Counted([service("web-stable"), service("web-canary"), ingress("web-stable"), _rollout()])
    c.deliver(_rollout(), passes=0)
    c.recorder.events.clear()
    seen: list[tuple[int, int, int | None, str | None]] = []
    for _ in range(8):
        writes, applies = c.one_pass()
        seen.append((writes, applies, c.status.get("currentStepIndex"), _weight(c)))
        if c.status.get("phase") == "Healthy" and c.status.get("currentStepIndex") == len(STEPS):
            break
    assert all(writes <= 1 for writes, *_ in seen), f"(status writes, Ingress applies, step, weight): {seen}"
    assert (1, 1, 3, "50") in seen, f"the end of the first pause: {seen}"
    assert c.status["phase"] == "Healthy", seen
    # The traffic each step or the promotion moved is told in its Event (``coalesce``).
    reasons = [r for _, r, _ in c.recorder.events]
    assert "TrafficWeightUpdated" not in reasons and "SwitchService" not in reasons, c.recorder.events
    assert c.api.objects[ROLLOUT_KEY]["status"]["currentStepIndex"] == len(STEPS)


def test_a_step_transition_and_a_promotion_end_their_pass_settled_without_a_follow_up_pass() -> None:
    """The round after a status-only change or a promotion is decided in the same pass: when it
    has nothing to do, its status joins the write (the weight 0 read back after the promotion) and
    the pass asks only for its wake-up, not for another pass at once."""
    c = Counted([service("web-stable"), service("web-canary"), ingress("web-stable"), _rollout()])
    c.deliver(_rollout(), passes=0)
    seen: list[tuple[int, str | None, float | None]] = []
    for _ in range(8):
        writes, _ = c.one_pass()
        seen.append((writes, c.status.get("phase"), c.outcomes[0].requeue_after))
        if c.status.get("phase") == "Healthy" and c.status.get("currentStepIndex") == len(STEPS):
            break
    paused = [s for s in seen if s[1] == "Paused"]
    assert paused and all(after != 0 for _, _, after in paused), seen
    promoted = c.status["canary"]["weights"]
    assert promoted["canary"]["weight"] == 0 and promoted["verified"] is True, promoted
    assert seen[-1][0] == 1 and seen[-1][2] != 0, f"(status writes, phase, requeue_after): {seen}"
    assert c.one_pass() == (0, 0), "the pass after the promotion has nothing to write"
