"""Baseline against canary, judged: the issue's example end to end, behind NGINX, with the simulator.

The Rollout's experiment step starts a fresh *baseline* (the stable pod template) and a *canary*
copy side by side, each with weight 25: while the Experiment runs, the NGINX canary Ingress sends
50 % of the traffic to the experiment's Service, which both templates' pods share, so they see the
same requests at the same time. The experiment's analysis is the judge, comparing the two
templates' own error rates (the simulator's application metrics by ``rollouts_pod_template_hash``,
the hashes passed as ``{{templates.<name>.podTemplateHash}}``) in the real Prometheus:

* a canary 1 point worse (the simulator's ``shaky`` profile, 1.1 % against 0.1 %) fails the judge,
  which fails the Experiment, which aborts the Rollout;
* a canary with the baseline's error rate passes; the Experiment succeeds and the Rollout is
  promoted;
* without weights the templates get no traffic at all: too little data is Inconclusive, never a
  Pass, and the Rollout waits for a human.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e.simulator.launcher import RunningSimulator
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery import manifests as m
from tests.integration.delivery.conftest import SHAKY, error_rate_query
from tests.integration.delivery.reads import canary_weight, metric_result, wait_phase
from tests.support import Kubectl, eventually, kubectl_json

JUDGE = {
    "apiVersion": "rollouts.dev/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "baseline-judge"},
    "spec": {
        "args": [{"name": "namespace"}, {"name": "baseline-hash"}, {"name": "canary-hash"}],
        "metrics": [
            {
                "name": "errors-vs-baseline",
                "initialDelay": "35s",  # about 15 samples of both templates' traffic at 2 s steps
                "provider": {
                    "judge": {
                        "canaryQuery": error_rate_query("canary-hash"),
                        "baselineQuery": error_rate_query("baseline-hash"),
                        "window": "40s",
                        "step": "2s",
                        "direction": "HigherIsWorse",
                        "minSamples": 10,
                        "minEffect": 0.005,
                        "timeout": 5,
                    }
                },
            }
        ],
    },
}


def _steps(weight: int | None) -> list[dict[str, Any]]:
    weighted = {} if weight is None else {"weight": weight}
    experiment = {
        "templates": [
            {"name": "baseline", "specRef": "stable", **weighted},
            {"name": "canary", "specRef": "canary", **weighted},
        ],
        "analyses": [
            {
                "name": "judge",
                "templateName": "baseline-judge",
                "requiredForCompletion": True,
                "args": [
                    {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "baseline-hash", "value": "{{templates.baseline.podTemplateHash}}"},
                    {"name": "canary-hash", "value": "{{templates.canary.podTemplateHash}}"},
                ],
            }
        ],
    }
    return [{"experiment": experiment}]


def _start(kubectl: Kubectl, weight: int | None) -> str:
    sc.apply(kubectl, *m.nginx_app(), JUDGE)
    sc.apply(kubectl, m.canary_rollout(_steps(weight), abortScaleDownDelaySeconds=1))
    stable: str = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]
    return stable


def _experiment(kubectl: Kubectl) -> dict[str, Any]:
    def completed() -> dict[str, Any] | None:
        items = kubectl_json(kubectl, "get", "experiments")["items"]
        phase = ((items[0].get("status") or {}).get("phase")) if items else None
        return items[0] if phase in ("Successful", "Failed", "Error", "Inconclusive") else None

    found: dict[str, Any] = eventually(completed, timeout=120, what="the experiment to complete")
    return found


def _judgment(experiment: dict[str, Any], kubectl: Kubectl) -> dict[str, str]:
    run = kubectl_json(kubectl, "get", "analysisrun", f"{experiment['metadata']['name']}-judge")
    (measurement,) = metric_result(run, "errors-vs-baseline")["measurements"]
    metadata: dict[str, str] = measurement["metadata"]
    hashes = {t["name"]: t["podTemplateHash"] for t in experiment["status"]["templateStatuses"]}
    assert f'rollouts_pod_template_hash="{hashes["canary"]}"' in metadata["canaryQuery"]
    assert f'rollouts_pod_template_hash="{hashes["baseline"]}"' in metadata["baselineQuery"]
    return metadata


def test_a_canary_one_point_worse_than_its_baseline_fails_and_the_rollout_aborts(
    controller: ControllerProcess, busy_traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    v1 = _start(kubectl, weight=25)
    sc.set_image(kubectl, "web", SHAKY)
    experiment = _experiment(kubectl)
    assert experiment["status"]["phase"] == "Failed"
    seen = _judgment(experiment, kubectl)
    assert seen["decision"] == "Fail", seen
    assert int(seen["canaryCount"]) >= 10 and int(seen["baselineCount"]) >= 10, seen
    assert float(seen["canaryMedian"]) == pytest.approx(0.011, abs=0.002), seen
    assert float(seen["baselineMedian"]) == pytest.approx(0.001, abs=0.001), seen
    st = wait_phase(kubectl, "Degraded", timeout=60)
    assert st.get("abort") is True and st["stableRS"] == v1
    assert experiment["metadata"]["name"] in st["message"]
    eventually(lambda: canary_weight(kubectl) == 0, what="all traffic back to stable")


def test_a_canary_as_good_as_its_baseline_passes_and_is_promoted(
    controller: ControllerProcess, busy_traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    v1 = _start(kubectl, weight=25)
    sc.set_image(kubectl, "web", m.GOOD)
    experiment = _experiment(kubectl)
    assert experiment["status"]["phase"] == "Successful"
    seen = _judgment(experiment, kubectl)
    assert seen["decision"] == "Pass", seen
    assert int(seen["canaryCount"]) >= 10 and int(seen["baselineCount"]) >= 10, seen
    assert float(seen["canaryMedian"]) == pytest.approx(float(seen["baselineMedian"]), abs=0.002), seen
    st = sc.wait_status(
        kubectl, "web", "promoted", lambda s: s.get("phase") == "Healthy" and s["stableRS"] != v1, 60
    )
    assert sc.selector_hash(kubectl, "web-stable") == st["stableRS"]


def test_templates_without_traffic_are_inconclusive_and_the_rollout_waits_for_a_human(
    controller: ControllerProcess, busy_traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    v1 = _start(kubectl, weight=None)
    sc.set_image(kubectl, "web", m.GOOD)
    experiment = _experiment(kubectl)
    assert experiment["status"]["phase"] == "Inconclusive"
    seen = _judgment(experiment, kubectl)
    assert seen["decision"] == "Inconclusive" and seen["canaryCount"] == "0" and seen["baselineCount"] == "0"
    st = wait_phase(kubectl, "Paused", timeout=60)
    assert [c["reason"] for c in st["pauseConditions"]] == ["InconclusiveExperiment"]
    assert st["stableRS"] == v1
