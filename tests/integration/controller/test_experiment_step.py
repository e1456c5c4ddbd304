"""The canary experiment step on the real control plane: a baseline and a canary copy, judged.

The Rollout starts the Experiment at its step, the Experiment controller runs it (ReplicaSets from
the stable and canary pod templates, an analysis against the real Prometheus whose arguments are
the experiment's own pod-template hashes), and the Rollout goes on or aborts on its verdict.
"""

from __future__ import annotations

from typing import Any

from e2e.cluster import Cluster
from tests.integration.controller import scenario as sc
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
