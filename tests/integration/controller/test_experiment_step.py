"""The canary experiment step on the real control plane: a baseline and a canary copy, judged.

The Rollout starts the Experiment at its step, the Experiment controller runs it (ReplicaSets from
the stable and canary pod templates, an analysis against the real Prometheus whose arguments are
the experiment's own pod-template hashes), and the Rollout goes on or aborts on its verdict.
"""

from __future__ import annotations

import json
from typing import Any

from e2e.cluster import Cluster
from tests.integration.controller import scenario as sc
from tests.integration.controller.test_routing import NGINX, _ingress
from tests.support import Kubectl, eventually, kubectl_json


def _template(cluster: Cluster, name: str, query: str) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {
            "args": [{"name": "baseline-hash"}, {"name": "canary-hash"}, {"name": "stable-hash"}],
            "metrics": [
                {
                    "name": "check",
                    "successCondition": "result[0] == 1",
                    "provider": {"prometheus": {"address": cluster.prometheus_url, "query": query}},
                }
            ],
        },
    }


def _rollout(template: str) -> dict[str, Any]:
    step = {
        "experiment": {
            "duration": "2s",
            "templates": [{"name": "baseline", "specRef": "stable"}, {"name": "canary", "specRef": "canary"}],
            "analyses": [
                {
                    "name": "compare",
                    "templateName": template,
                    "args": [
                        {"name": "baseline-hash", "value": "{{templates.baseline.podTemplateHash}}"},
                        {"name": "canary-hash", "value": "{{templates.canary.podTemplateHash}}"},
                        {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
                    ],
                }
            ],
        }
    }
    return sc.rollout("web", strategy={"canary": {"steps": [{"setWeight": 50}, step]}}, replicas=2)


def _experiments(kubectl: Kubectl) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl_json(kubectl, "get", "experiments")["items"]
    return items


def test_the_step_runs_a_baseline_and_a_canary_copy_and_goes_on_when_it_succeeds(
    controller: Any, kubectl: Kubectl, cluster: Cluster
) -> None:
    sc.apply(kubectl, _template(cluster, "compare", "vector(1)"))
    sc.apply(kubectl, _rollout("compare"))
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    sc.set_image(kubectl, "web", "v2")
    at_step = sc.wait_status(
        kubectl, "web", "the experiment step", lambda st: st.get("currentStepIndex") == 1
    )
    v2 = at_step["currentPodHash"]
    eventually(lambda: len(_experiments(kubectl)) == 1, what="the step's Experiment")
    [exp] = _experiments(kubectl)
    name = exp["metadata"]["name"]
    assert name == f"web-{v2}-1-1"
    assert exp["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert exp["metadata"]["labels"][sc.HASH] == v2
    images = {t["name"]: t["template"]["spec"]["containers"][0]["image"] for t in exp["spec"]["templates"]}
    assert images == {"baseline": "example.com/web:v1", "canary": "example.com/web:v2"}

    healthy = sc.wait_healthy(kubectl, "web", v2)
    assert (healthy.get("canary") or {}).get("currentExperiment") is None
    done = kubectl_json(kubectl, "get", "experiment", name)["status"]
    assert done["phase"] == "Successful"
    hashes = {t["name"]: t["podTemplateHash"] for t in done["templateStatuses"]}
    run = kubectl_json(kubectl, "get", "analysisrun", f"{name}-compare")
    args = {a["name"]: a["value"] for a in run["spec"]["args"]}
    assert args == {"baseline-hash": hashes["baseline"], "canary-hash": hashes["canary"], "stable-hash": v1}
    assert hashes["baseline"] not in (v1, v2) and hashes["canary"] not in (v1, v2)
    reasons = [reason for reason, _ in sc.events(kubectl, "web")]
    assert "ExperimentCreated" in reasons


def test_a_failed_experiment_aborts_the_update(controller: Any, kubectl: Kubectl, cluster: Cluster) -> None:
    sc.apply(kubectl, _template(cluster, "compare", "vector(0)"))
    sc.apply(kubectl, _rollout("compare"))
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    sc.set_image(kubectl, "web", "v2")
    aborted = sc.wait_status(kubectl, "web", "aborted", lambda st: st.get("abort") is True, timeout=90)
    assert "Experiment web-" in aborted["message"] and "Failed" in aborted["message"]
    assert aborted["phase"] == "Degraded" and aborted["stableRS"] == v1
    eventually(
        lambda: sc.sizes(kubectl, "web").get(aborted["currentPodHash"], 0) == 0, what="canary scaled down"
    )


def _canary_ingress(kubectl: Kubectl) -> tuple[str | None, str | None]:
    """(backend Service, canary-weight) of the canary Ingress, (None, None) while it is absent."""
    found = kubectl("get", "ingress", "web-web-canary", "-o", "json", check=False)
    if found.returncode != 0:
        return None, None
    ingress = json.loads(found.stdout)
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    return backend, (ingress["metadata"].get("annotations") or {}).get(f"{NGINX}/canary-weight")


def test_weighted_templates_share_the_canary_ingress_while_the_experiment_runs(
    controller: Any, kubectl: Kubectl
) -> None:
    sc.apply(
        kubectl,
        sc.service("web-stable", "web"),
        sc.service("web-canary", "web"),
        _ingress("web", "web-stable"),
    )
    step = {
        "experiment": {
            "duration": "4s",
            "templates": [
                {"name": "baseline", "specRef": "stable", "weight": 10},
                {"name": "canary", "specRef": "canary", "weight": 10},
            ],
        }
    }
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": {"nginx": {"stableIngress": "web"}},
            "steps": [{"setWeight": 30}, step, {"setWeight": 50}, {"pause": {}}],
        }
    }
    sc.apply(kubectl, sc.rollout("web", strategy=strategy, replicas=2))
    sc.wait_healthy(kubectl, "web")
    sc.set_image(kubectl, "web", "v2")
    sc.wait_status(kubectl, "web", "the experiment step", lambda st: st.get("currentStepIndex") == 1)
    eventually(lambda: len(_experiments(kubectl)) == 1, what="the step's Experiment")
    name = _experiments(kubectl)[0]["metadata"]["name"]

    # While it runs: the canary Ingress sends 10 + 10 to the experiment's Service, which selects
    # the pods of both templates and nothing else.
    eventually(lambda: _canary_ingress(kubectl) == (name, "20"), what="the canary Ingress on the experiment")
    service = kubectl_json(kubectl, "get", "service", name)
    assert service["spec"]["ports"] == kubectl_json(kubectl, "get", "service", "web-canary")["spec"]["ports"]
    selected = kubectl_json(
        kubectl, "get", "pods", "-l", ",".join(f"{k}={v}" for k, v in service["spec"]["selector"].items())
    )
    templates = sorted(p["metadata"]["labels"]["rollouts.dev/experiment-template"] for p in selected["items"])
    assert templates == ["baseline", "canary"]

    # After it: back to the canary Service, then the next step's weight; the experiment's Service goes.
    sc.wait_status(kubectl, "web", "paused at step 3", lambda st: st.get("currentStepIndex") == 3, timeout=60)
    assert _canary_ingress(kubectl) == ("web-canary", "50")
    eventually(
        lambda: kubectl("get", "service", name, "--ignore-not-found", "-o", "name").stdout.strip() == "",
        timeout=60,
        what="the experiment's Service removed at its scale-down",
    )
