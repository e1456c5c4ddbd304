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


def _template(success: str) -> dict[str, object]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "rate"},
        "spec": {
            "metrics": [
                {
                    "name": "up",
                    "successCondition": success,
                    "provider": {"prometheus": {"address": "http://127.0.0.1:1", "query": "vector(1)"}},
                }
            ]
        },
    }


def test_a_condition_that_does_not_parse_stops_the_analysis_before_it_starts(
    controller, kubectl: Kubectl
) -> None:
    """The engine builds the AnalysisRun while deciding: a broken condition is an InvalidSpec naming
    the template, the field and the column, and no run is created to fail minutes later."""
    steps = [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "rate"}]}}]
    sc.apply(kubectl, _template("result[0] >="))
    sc.apply(kubectl, sc.rollout("web", strategy={"canary": {"steps": steps}}, replicas=2))
    sc.wait_healthy(kubectl, "web")
    sc.set_image(kubectl, "web", "v2")
    st = sc.wait_status(kubectl, "web", "Degraded by the template", lambda s: s.get("phase") == "Degraded")
    message = sc.condition(st, "InvalidSpec")["message"]
    assert "AnalysisTemplate 'rate'" in message and "spec.metrics[0].successCondition" in message, message
    assert "column 13" in message, message
    assert any(r == "AnalysisRunError" for r, _ in sc.events(kubectl, "web"))
    runs = kubectl("get", "analysisruns.rollouts.dev", "-o", "name").stdout.split()
    assert runs == [], runs

    sc.apply(kubectl, _template("result[0] >= 1"))  # the fix: the template change wakes the Rollout
    eventually(
        lambda: kubectl("get", "analysisruns.rollouts.dev", "-o", "name").stdout.split() != [],
        what="the AnalysisRun started once the condition compiles",
    )


def test_a_pod_template_the_api_server_refuses_is_degraded_with_its_message(
    controller, kubectl: Kubectl
) -> None:
    """The CRD does not schema-check the pod template, and the offline checks do not know every rule
    (a ReplicaSet's pods must restart Always); the ReplicaSet create is refused, and that refusal is
    the Rollout's status (not Progressing forever)."""
    bad = sc.rollout("web", strategy={"canary": {"steps": [{"setWeight": 50}]}}, replicas=1)
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    sc.apply(kubectl, bad)
    st = sc.wait_status(kubectl, "web", "Degraded by the refusal", lambda s: s.get("phase") == "Degraded")
    message = sc.condition(st, "InvalidSpec")["message"]
    assert "refused ReplicaSet" in message and "restartPolicy" in message, message
    assert message.endswith("fix spec.template"), message
    assert sc.replica_sets(kubectl, "web") == {}


def test_a_bad_quantity_is_refused_before_any_replica_set_is_made(controller, kubectl: Kubectl) -> None:
    bad = sc.rollout("web", strategy={"canary": {"steps": [{"setWeight": 50}]}}, replicas=1)
    bad["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"memory": "invalid"}}
    sc.apply(kubectl, bad)
    st = sc.wait_status(kubectl, "web", "Degraded by the quantity", lambda s: s.get("phase") == "Degraded")
    message = sc.condition(st, "InvalidSpec")["message"]
    assert "resources.requests.memory 'invalid' is not a quantity" in message, message
    assert sc.replica_sets(kubectl, "web") == {}
