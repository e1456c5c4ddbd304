"""The canary judge end to end: a Rollout behind NGINX whose analysis step compares the canary's
error rate with the stable's in the real Prometheus, fed by the simulator, and acts on the verdict.

The samples are the applications' own request metrics (the simulator's ``http_requests_total``,
labelled ``rollouts_pod_template_hash`` as Prometheus' pod relabelling would): the canary is the
Rollout's latest pod-template-hash, the baseline its stable hash, both passed as args by the Rollout
(``podTemplateHashValue: Latest`` / ``Stable``). The simulator's counters are expected values, so a
healthy version's error rate is 0.1 % and a ``shaky`` one's 1.1 % in every step, up to the
counters' whole-request rounding; ``minEffect: 0.005`` (half a point) is what a user would set for
error rates, and keeps that rounding from ever failing two equal versions.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e.simulator.launcher import RunningSimulator
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery import manifests as m
from tests.integration.delivery.conftest import SHAKY, error_rate_query
from tests.integration.delivery.reads import canary_weight, finished_run, metric_result, wait_phase
from tests.support import Kubectl, eventually


def _judge_template() -> dict[str, Any]:
    """Shaped like examples/analysis-template-judge.yaml, with a 40 s window at 2 s steps: the
    measurement waits 35 s for the canary's traffic (about 15 samples after the rate's warm-up)."""
    judge = {
        "canaryQuery": error_rate_query("canary-hash"),
        "baselineQuery": error_rate_query("stable-hash"),
        "window": "40s",
        "step": "2s",
        "direction": "HigherIsWorse",
        "minSamples": 10,
        "minEffect": 0.005,
        "timeout": 5,
    }
    metric = {"name": "errors-vs-stable", "initialDelay": "35s", "provider": {"judge": judge}}
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "judge"},
        "spec": {
            "args": [{"name": "namespace"}, {"name": "canary-hash"}, {"name": "stable-hash"}],
            "metrics": [metric],
        },
    }


ANALYSIS = {
    "templates": [{"templateName": "judge"}],
    "args": [
        {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
    ],
}


def _start(kubectl: Kubectl, steps: list[dict[str, Any]]) -> str:
    sc.apply(kubectl, *m.nginx_app(), _judge_template())
    sc.apply(kubectl, m.canary_rollout(steps, abortScaleDownDelaySeconds=1))
    stable: str = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]
    return stable


def _judgment(run: dict[str, Any]) -> dict[str, str]:
    (measurement,) = metric_result(run, "errors-vs-stable")["measurements"]
    metadata: dict[str, str] = measurement["metadata"]
    return metadata


STEPS = [{"setWeight": 50}, {"analysis": ANALYSIS}]


def test_a_canary_with_one_point_more_errors_fails_the_judge_and_is_aborted(
    controller: ControllerProcess, busy_traffic: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    v1 = _start(kubectl, STEPS)
    sc.set_image(kubectl, "web", SHAKY)
    st = wait_phase(kubectl, "Degraded", timeout=120)
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Failed"
    seen = _judgment(run)
    assert seen["decision"] == "Fail", seen
    assert int(seen["canaryCount"]) >= 10 and int(seen["baselineCount"]) >= 10, seen
    assert float(seen["pValue"]) < 0.05
    assert float(seen["canaryMedian"]) == pytest.approx(0.011, abs=0.002), seen
    assert float(seen["baselineMedian"]) == pytest.approx(0.001, abs=0.001), seen
    canary_hash = st["currentPodHash"]
    assert f'rollouts_pod_template_hash="{canary_hash}"' in seen["canaryQuery"], seen
    assert f'rollouts_pod_template_hash="{v1}"' in seen["baselineQuery"], seen
    assert f'namespace="{namespace}"' in seen["canaryQuery"]
    assert run["metadata"]["name"] in st["message"] and "errors-vs-stable" in st["message"]
    assert st["stableRS"] == v1 and st.get("abort") is True
    assert canary_weight(kubectl) == 0 and sc.selector_hash(kubectl, "web-stable") == v1


def test_a_canary_with_the_stables_error_rate_passes_the_judge_and_is_promoted(
    controller: ControllerProcess, busy_traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    v1 = _start(kubectl, STEPS)
    sc.set_image(kubectl, "web", m.GOOD)
    st = sc.wait_status(
        kubectl, "web", "promoted", lambda s: s.get("phase") == "Healthy" and s["stableRS"] != v1, 120
    )
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Successful"
    seen = _judgment(run)
    assert seen["decision"] == "Pass", seen
    assert int(seen["canaryCount"]) >= 10 and int(seen["baselineCount"]) >= 10, seen
    assert float(seen["canaryMedian"]) == pytest.approx(0.001, abs=0.001), seen
    assert sc.selector_hash(kubectl, "web-stable") == st["stableRS"]
    eventually(lambda: canary_weight(kubectl) == 0, what="canary weight back to 0 after promotion")


def test_a_canary_without_traffic_is_inconclusive_and_waits_for_a_human(
    controller: ControllerProcess, busy_traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    # The canary has a pod but weight 0: NGINX sends it nothing, so it has no samples at all.
    v1 = _start(kubectl, [{"setCanaryScale": {"replicas": 1}}, {"analysis": ANALYSIS}])
    sc.set_image(kubectl, "web", m.GOOD)
    st = wait_phase(kubectl, "Paused", timeout=120)
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Inconclusive"
    seen = _judgment(run)
    assert seen["decision"] == "Inconclusive" and seen["canaryCount"] == "0", seen
    assert int(seen["baselineCount"]) >= 10, seen
    (measurement,) = metric_result(run, "errors-vs-stable")["measurements"]
    assert "the canary query returned no series" in measurement["message"]
    assert [c["reason"] for c in st["pauseConditions"]] == ["InconclusiveAnalysisRun"]
    assert st["stableRS"] == v1 and sc.selector_hash(kubectl, "web-stable") == v1
