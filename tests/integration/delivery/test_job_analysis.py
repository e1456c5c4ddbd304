"""A canary gated by a smoke-test Job, end to end with the real controller process: the analysis
step's run starts a Job that is told the canary's revision, and the Job's exit decides. KWOK plays
the Job's pod and exits with the code its ``kwok.rollouts.dev/exit-code`` annotation asks for
(e2e/cluster/kwok-stages.yaml); here the Rollout passes that code as an argument."""

from __future__ import annotations

from typing import Any

from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery import manifests as m
from tests.integration.delivery.reads import finished_run, wait_phase
from tests.support import Kubectl, eventually, kubectl_json

SMOKE_TEMPLATE = {
    "apiVersion": "rollouts.dev/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "smoke"},
    "spec": {
        "args": [{"name": "canary-hash"}, {"name": "exit-code", "value": "0"}],
        "metrics": [
            {
                "name": "smoke",
                "provider": {
                    "job": {
                        "spec": {
                            "backoffLimit": 0,
                            "activeDeadlineSeconds": 60,
                            "template": {
                                "metadata": {
                                    "annotations": {"kwok.rollouts.dev/exit-code": "{{args.exit-code}}"}
                                },
                                "spec": {
                                    "restartPolicy": "Never",
                                    "containers": [
                                        {
                                            "name": "smoke",
                                            "image": "curlimages/curl:8.10.1",
                                            "args": [
                                                "--fail",
                                                "http://web-canary/healthz?rev={{args.canary-hash}}",
                                            ],
                                        }
                                    ],
                                },
                            },
                        }
                    }
                },
            }
        ],
    },
}


def smoke_step(exit_code: int) -> dict[str, Any]:
    return {
        "analysis": {
            "templates": [{"templateName": "smoke"}],
            "args": [
                {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
                {"name": "exit-code", "value": str(exit_code)},
            ],
            "analysisRunMetadata": {"labels": {"team": "checkout"}, "annotations": {"owner": "sre"}},
        }
    }


def _deliver(kubectl: Kubectl, exit_code: int) -> str:
    sc.apply(kubectl, *m.nginx_app(), SMOKE_TEMPLATE)
    sc.apply(kubectl, m.canary_rollout([{"setWeight": 20}, smoke_step(exit_code), {"setWeight": 60}]))
    stable: str = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]
    sc.set_image(kubectl, "web", m.GOOD)
    return stable


def test_a_canary_whose_smoke_test_job_passes_is_promoted(
    controller: ControllerProcess, kubectl: Kubectl
) -> None:
    v1 = _deliver(kubectl, 0)
    v2 = sc.wait_status(
        kubectl, "web", "Healthy at v2", lambda st: st.get("phase") == "Healthy" and st["stableRS"] != v1, 90
    )["stableRS"]
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Successful", run["status"]
    meta = run["metadata"]
    assert meta["labels"]["team"] == "checkout" and meta["annotations"]["owner"] == "sre"
    job_name = run["status"]["metricResults"][0]["measurements"][0]["metadata"]["job-name"]
    job = kubectl_json(kubectl, "get", "job", job_name)
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][1].endswith(f"rev={v2}")


def test_a_canary_whose_smoke_test_job_fails_is_aborted(
    controller: ControllerProcess, kubectl: Kubectl
) -> None:
    v1 = _deliver(kubectl, 1)
    st = wait_phase(kubectl, "Degraded")
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Failed", run["status"]
    assert "BackoffLimitExceeded" in st["message"] and run["metadata"]["name"] in st["message"], st["message"]
    assert st["stableRS"] == v1 and st.get("abort") is True
    assert sc.selector_hash(kubectl, "web-stable") == v1


def test_a_ttl_strategy_deletes_the_finished_run_once_the_rollout_has_read_it(
    controller: ControllerProcess, kubectl: Kubectl
) -> None:
    template = {
        **SMOKE_TEMPLATE,
        "spec": {**SMOKE_TEMPLATE["spec"], "ttlStrategy": {"secondsAfterSuccess": 2}},
    }
    sc.apply(kubectl, *m.nginx_app(), template)
    sc.apply(kubectl, m.canary_rollout([{"setWeight": 20}, smoke_step(0), {"setWeight": 60}]))
    v1 = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]
    sc.set_image(kubectl, "web", m.GOOD)
    sc.wait_status(
        kubectl, "web", "Healthy at v2", lambda st: st.get("phase") == "Healthy" and st["stableRS"] != v1, 90
    )
    names = lambda: kubectl_json(kubectl, "get", "analysisruns.rollouts.dev")["items"]  # noqa: E731
    eventually(lambda: names() == [], timeout=30, what="the step's AnalysisRun deleted by its ttlStrategy")
    step = sc.status(kubectl, "web")["canary"].get("currentStepAnalysisRunStatus")
    assert step is None or step["status"] == "Successful"  # the verdict was read before the run went
