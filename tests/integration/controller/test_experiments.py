"""Experiments on the real control plane: ReplicaSets from templates, a Service, analyses, the end.

The controller process runs them (``kube-rollouts run``, as deployed); the analyses query the
local cluster's real Prometheus with constant queries, so their verdict is known in advance and
the test is about what the experiment does with it.
"""

from __future__ import annotations

from typing import Any

from e2e.cluster import Cluster
from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually, kubectl_json


def _template(name: str, image: str, **extra: Any) -> dict[str, Any]:
    labels = {"app": "web", "role": name}
    container = {"name": "app", "image": f"example.com/web:{image}", "ports": [{"containerPort": 8080}]}
    return {
        "name": name,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        **extra,
    }


def _analysis_template(cluster: Cluster, name: str, query: str) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {
            "metrics": [
                {
                    "name": "check",
                    "successCondition": "result[0] == 1",
                    "provider": {"prometheus": {"address": cluster.prometheus_url, "query": query}},
                }
            ]
        },
    }


def _experiment(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": {
            "templates": [_template("baseline", "v1"), _template("canary", "v2", service={})],
            "scaleDownDelaySeconds": 1,
            **spec,
        },
    }


def _status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    status: dict[str, Any] = kubectl_json(kubectl, "get", "experiment", name).get("status") or {}
    return status


def _wait_phase(kubectl: Kubectl, name: str, phase: str, timeout: float = 60) -> dict[str, Any]:
    eventually(lambda: _status(kubectl, name).get("phase") == phase, timeout=timeout, what=f"{name} {phase}")
    return _status(kubectl, name)


def _replica_sets(kubectl: Kubectl, experiment: str) -> dict[str, dict[str, Any]]:
    uid = kubectl_json(kubectl, "get", "experiment", experiment)["metadata"]["uid"]
    found = {}
    for rs in kubectl_json(kubectl, "get", "replicasets")["items"]:
        if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or []):
            found[rs["metadata"]["labels"]["rollouts.dev/experiment-template"]] = rs
    return found


def _events(kubectl: Kubectl, kind: str, name: str) -> list[str]:
    items = kubectl_json(kubectl, "get", "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return [e["reason"] for e in items if e["involvedObject"]["kind"] == kind]


def test_an_experiment_runs_its_templates_and_analysis_then_succeeds_and_scales_down(
    controller: Any, kubectl: Kubectl, cluster: Cluster
) -> None:
    sc.apply(kubectl, _analysis_template(cluster, "always-one", "vector(1)"))
    analyses = [{"name": "check", "templateName": "always-one", "requiredForCompletion": True}]
    sc.apply(kubectl, _experiment("exp", duration="3s", analyses=analyses))

    running = _wait_phase(kubectl, "exp", "Running")
    assert running["availableAt"] and [t["status"] for t in running["templateStatuses"]] == ["Running"] * 2
    rs = _replica_sets(kubectl, "exp")
    assert sorted(rs) == ["baseline", "canary"] and rs["canary"]["metadata"]["name"] == "exp-canary"
    hashes = {t["name"]: t["podTemplateHash"] for t in running["templateStatuses"]}
    assert hashes["baseline"] != hashes["canary"]
    for name, replica_set in rs.items():
        assert replica_set["spec"]["selector"]["matchLabels"][sc.HASH] == hashes[name]
        assert replica_set["spec"]["template"]["metadata"]["annotations"]["rollouts.dev/experiment"] == "exp"
    service = kubectl_json(kubectl, "get", "service", "exp-canary")
    assert service["spec"]["selector"] == {"app": "web", "role": "canary", sc.HASH: hashes["canary"]}
    assert service["spec"]["ports"][0]["port"] == 8080
    run = kubectl_json(kubectl, "get", "analysisrun", "exp-check")
    assert run["metadata"]["ownerReferences"][0]["kind"] == "Experiment"

    done = _wait_phase(kubectl, "exp", "Successful")
    assert done["analysisRuns"][0]["phase"] == "Successful" and done["completedAt"]
    eventually(
        lambda: all(r["spec"]["replicas"] == 0 for r in _replica_sets(kubectl, "exp").values()),
        what="the templates scaled to zero after scaleDownDelaySeconds",
    )
    eventually(
        lambda: (
            kubectl("get", "service", "exp-canary", "--ignore-not-found", "-o", "name").stdout.strip() == ""
        ),
        what="the template's Service removed",
    )
    assert {"ExperimentRunning", "ExperimentSuccessful"} <= set(_events(kubectl, "Experiment", "exp"))


def test_a_failed_analysis_fails_the_experiment_at_once(
    controller: Any, kubectl: Kubectl, cluster: Cluster
) -> None:
    sc.apply(kubectl, _analysis_template(cluster, "always-zero", "vector(0)"))
    sc.apply(
        kubectl,
        _experiment("bad", duration="1h", analyses=[{"name": "check", "templateName": "always-zero"}]),
    )
    failed = _wait_phase(kubectl, "bad", "Failed")
    assert "analysis 'check' (AnalysisRun bad-check) is Failed" in failed["message"]
    assert [t["status"] for t in failed["templateStatuses"]] == ["Failed", "Failed"]
    eventually(
        lambda: all(r["spec"]["replicas"] == 0 for r in _replica_sets(kubectl, "bad").values()),
        what="the templates scaled to zero",
    )
    assert "ExperimentFailed" in _events(kubectl, "Experiment", "bad")


def test_a_missing_analysis_template_is_reported_and_creating_it_is_enough(
    controller: Any, kubectl: Kubectl, cluster: Cluster
) -> None:
    sc.apply(
        kubectl, _experiment("late", duration="2s", analyses=[{"name": "check", "templateName": "later"}])
    )
    eventually(
        lambda: "AnalysisTemplate 'later' does not exist" in (_status(kubectl, "late").get("message") or ""),
        what="the missing template in the status",
    )
    assert "AnalysisRunError" in _events(kubectl, "Experiment", "late")
    sc.apply(kubectl, _analysis_template(cluster, "later", "vector(1)"))
    _wait_phase(kubectl, "late", "Successful", timeout=90)


def test_terminate_stops_an_experiment_that_would_run_forever(controller: Any, kubectl: Kubectl) -> None:
    sc.apply(kubectl, _experiment("open"))
    running = _wait_phase(kubectl, "open", "Running")
    assert "until terminated" in running["message"]
    kubectl("patch", "experiment", "open", "--type=merge", "-p", '{"spec": {"terminate": true}}')
    done = _wait_phase(kubectl, "open", "Successful")
    assert "terminate" in done["message"]
