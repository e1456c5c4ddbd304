"""Bad input: the Rollout says what is wrong (condition + Event naming the field and the fix), the
cluster is left alone, and other Rollouts keep being served."""

from __future__ import annotations

import json

from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually

CANARY = {
    "canary": {"canaryService": "web-canary", "stableService": "web-stable", "steps": [{"setWeight": 50}]}
}


def test_invalid_rollout_gets_invalid_spec_and_nothing_is_created(controller, kubectl: Kubectl) -> None:
    bad = sc.rollout("bad", strategy={"canary": {"steps": [{"setWeight": 50}]}}, replicas=2)
    bad["spec"]["progressDeadlineSeconds"] = 5
    bad["spec"]["minReadySeconds"] = 10  # the server accepts it; our validation says why it cannot work
    sc.apply(kubectl, bad)
    st = sc.wait_status(kubectl, "bad", "Degraded with InvalidSpec", lambda s: s.get("phase") == "Degraded")
    invalid = sc.condition(st, "InvalidSpec")
    assert invalid["status"] == "True"
    assert "progressDeadlineSeconds" in invalid["message"] and "minReadySeconds" in invalid["message"]
    assert sc.condition(st, "Stalled")["status"] == "True"
    assert sc.replica_sets(kubectl, "bad") == {}
    warnings = [m for r, m in sc.events(kubectl, "bad") if r == "InvalidSpec"]
    assert warnings and "progressDeadlineSeconds" in warnings[0]

    # Fixing the field lets the Rollout proceed.
    kubectl(
        "patch",
        "rollout.rollouts.dev",
        "bad",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"minReadySeconds": 0}}),
    )
    healthy = sc.wait_healthy(kubectl, "bad")
    assert sc.condition(healthy, "InvalidSpec") == {}
    assert sc.sizes(kubectl, "bad") == {healthy["stableRS"]: 2}


def test_missing_service_is_named_and_other_rollouts_keep_going(controller, kubectl: Kubectl) -> None:
    sc.apply(kubectl, sc.rollout("web", strategy=CANARY, replicas=1))
    other = sc.rollout("other", strategy={"canary": {"steps": [{"setWeight": 50}]}}, replicas=1)
    sc.apply(kubectl, other)
    st = sc.wait_status(
        kubectl, "web", "Degraded for its missing Service", lambda s: s.get("phase") == "Degraded"
    )
    message = sc.condition(st, "InvalidSpec")["message"]
    assert "web-canary" in message or "web-stable" in message
    assert "spec.strategy.canary." in message and "create it" in message
    assert any(r == "ServiceNotFound" for r, _ in sc.events(kubectl, "web"))
    sc.wait_healthy(kubectl, "other")

    # Creating the Services is the fix; the controller notices them without a restart.
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    healthy = sc.wait_healthy(kubectl, "web")
    eventually(
        lambda: sc.selector_hash(kubectl, "web-stable") == healthy["stableRS"], what="stable Service pointed"
    )
