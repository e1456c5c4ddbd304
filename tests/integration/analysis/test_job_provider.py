"""Job metrics measured by the AnalysisRun controller on the real cluster: the Job the run creates,
its verdict, the Jobs kept and deleted. KWOK plays the Job's pod: it exits with the code the pod's
``kwok.rollouts.dev/exit-code`` annotation asks for, after ``kwok.rollouts.dev/run-for``
(e2e/cluster/kwok-stages.yaml); the Job controller of the real kube-controller-manager does the rest.
"""

from __future__ import annotations

import json
from typing import Any

from tests.integration.analysis.conftest import ControllerThread
from tests.integration.analysis.test_analysisrun_controller import analysis_run, finished, status_of
from tests.support import Kubectl, eventually, kubectl_json

RUN_UID_LABEL = "rollouts.dev/analysis-run-uid"


def job_metric(
    name: str = "smoke", *, exit_code: int = 0, run_for: str | None = None, **fields: Any
) -> dict[str, Any]:
    annotations = {"kwok.rollouts.dev/exit-code": str(exit_code)}
    if run_for:
        annotations["kwok.rollouts.dev/run-for"] = run_for
    deadline = fields.pop("activeDeadlineSeconds", None)
    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "template": {
            "metadata": {"annotations": annotations},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "smoke", "image": "curl:8", "args": ["{{args.url}}"]}],
            },
        },
    }
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {
        "name": name,
        "provider": {"job": {"metadata": {"labels": {"team": "web"}}, "spec": spec}},
        **fields,
    }


URL = [{"name": "url", "value": "http://web.shop/healthz"}]


def jobs_of(kubectl: Kubectl, run: str) -> list[dict[str, Any]]:
    uid = kubectl_json(kubectl, "get", "analysisrun.rollouts.dev", run)["metadata"]["uid"]
    return kubectl_json(kubectl, "get", "jobs", "-l", f"{RUN_UID_LABEL}={uid}")["items"]  # type: ignore[no-any-return]


def test_a_job_that_completes_passes_and_is_owned_by_the_run(
    kubectl: Kubectl, analysis_controller: ControllerThread
) -> None:
    kubectl("apply", "-f", "-", stdin=analysis_run("smoke-ok", job_metric(), args=URL))
    status = finished(kubectl, "smoke-ok")
    assert status["phase"] == "Successful", status
    (measurement,) = status["metricResults"][0]["measurements"]
    assert measurement["phase"] == "Successful"
    assert json.loads(measurement["value"]) == {"succeeded": 1, "failed": 0}
    (job,) = jobs_of(kubectl, "smoke-ok")
    assert job["metadata"]["name"] == measurement["metadata"]["job-name"] == "smoke-ok-smoke-1"
    assert job["metadata"]["labels"]["team"] == "web"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["http://web.shop/healthz"]
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("AnalysisRun", "smoke-ok", True)
    events = kubectl_json(kubectl, "get", "events", "--field-selector", "involvedObject.name=smoke-ok")[
        "items"
    ]
    assert any(e["reason"] == "AnalysisRunSuccessful" for e in events)

    kubectl("delete", "analysisrun.rollouts.dev", "smoke-ok", "--wait=true")
    eventually(lambda: not kubectl_json(kubectl, "get", "jobs", "-l", "team=web")["items"], timeout=60,
               what="the garbage collector to delete the run's Job")  # fmt: skip


def test_a_job_whose_pod_fails_fails_the_run_with_the_jobs_reason(
    kubectl: Kubectl, analysis_controller: ControllerThread
) -> None:
    kubectl("apply", "-f", "-", stdin=analysis_run("smoke-bad", job_metric(exit_code=3), args=URL))
    status = finished(kubectl, "smoke-bad")
    assert status["phase"] == "Failed", status
    assert "Job smoke-bad-smoke-1 failed (BackoffLimitExceeded" in status["message"]
    assert json.loads(status["metricResults"][0]["measurements"][0]["value"]) == {"succeeded": 0, "failed": 1}


def test_a_job_that_hangs_past_its_deadline_fails(
    kubectl: Kubectl, analysis_controller: ControllerThread
) -> None:
    metric = job_metric(run_for="8760h", activeDeadlineSeconds=3)
    kubectl("apply", "-f", "-", stdin=analysis_run("smoke-hang", metric, args=URL))
    running = eventually(
        lambda: (status_of(kubectl, "smoke-hang").get("metricResults") or [{}])[0].get("measurements"),
        timeout=30, what="the Job's measurement to be recorded as running",
    )  # fmt: skip
    assert running[0]["phase"] == "Running" and "finishedAt" not in running[0] and running[0]["resumeAt"]
    status = finished(kubectl, "smoke-hang")
    assert status["phase"] == "Failed" and "DeadlineExceeded" in status["message"], status


def test_terminating_the_run_deletes_the_running_job_and_its_pod(
    kubectl: Kubectl, analysis_controller: ControllerThread
) -> None:
    kubectl("apply", "-f", "-", stdin=analysis_run("smoke-stop", job_metric(run_for="8760h"), args=URL))
    eventually(lambda: kubectl_json(kubectl, "get", "pods", "-l", "job-name=smoke-stop-smoke-1")["items"],
               timeout=30, what="the Job's pod")  # fmt: skip
    kubectl(
        "patch", "analysisrun.rollouts.dev", "smoke-stop", "--type=merge", "-p", '{"spec":{"terminate":true}}'
    )
    status = finished(kubectl, "smoke-stop")
    assert status["phase"] == "Successful" and status["message"] == "run terminated", status
    assert "measurements" not in status["metricResults"][0]  # the unfinished one is not kept
    eventually(lambda: not jobs_of(kubectl, "smoke-stop"), timeout=30, what="the running Job to be deleted")
    eventually(lambda: not kubectl_json(kubectl, "get", "pods", "-l", "job-name=smoke-stop-smoke-1")["items"],
               timeout=30, what="the Job's pod to be deleted with it")  # fmt: skip


def test_only_the_retained_measurements_keep_their_jobs(
    kubectl: Kubectl, analysis_controller: ControllerThread
) -> None:
    run = json.loads(analysis_run("smoke-many", job_metric(interval="1s", count=3), args=URL))
    run["spec"]["measurementRetention"] = [{"metricName": "smoke", "limit": 1}]
    kubectl("apply", "-f", "-", stdin=json.dumps(run))
    status = finished(kubectl, "smoke-many")
    result = status["metricResults"][0]
    assert (status["phase"], result["count"], len(result["measurements"])) == ("Successful", 3, 1)
    assert result["measurements"][0]["metadata"]["job-name"] == "smoke-many-smoke-3"
    eventually(
        lambda: [j["metadata"]["name"] for j in jobs_of(kubectl, "smoke-many")] == ["smoke-many-smoke-3"],
        timeout=30, what="the Jobs of forgotten measurements to be deleted",
    )  # fmt: skip


def test_a_job_that_cannot_be_created_is_an_error_naming_the_reason(
    kubectl: Kubectl, analysis_controller: ControllerThread
) -> None:
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-jobs"},
             "spec": {"hard": {"count/jobs.batch": "0"}}}  # fmt: skip
    kubectl("apply", "-f", "-", stdin=json.dumps(quota))
    eventually(lambda: kubectl_json(kubectl, "get", "resourcequota", "no-jobs").get("status", {}).get("hard"),
               timeout=30, what="the quota controller to count the namespace's Jobs")  # fmt: skip
    metric = job_metric(consecutiveErrorLimit=0)
    kubectl("apply", "-f", "-", stdin=analysis_run("smoke-quota", metric, args=URL))
    status = finished(kubectl, "smoke-quota")
    assert status["phase"] == "Error", status
    message = status["metricResults"][0]["measurements"][0]["message"]
    assert "could not create Job smoke-quota-smoke-1 (Forbidden)" in message and "exceeded quota" in message


def test_a_job_deleted_before_it_finished_is_an_error(
    kubectl: Kubectl, analysis_controller: ControllerThread
) -> None:
    metric = job_metric(run_for="8760h", consecutiveErrorLimit=0)
    kubectl("apply", "-f", "-", stdin=analysis_run("smoke-gone", metric, args=URL))
    eventually(lambda: jobs_of(kubectl, "smoke-gone"), timeout=30, what="the Job")
    kubectl("delete", "job", "smoke-gone-smoke-1")
    status = finished(kubectl, "smoke-gone")
    assert status["phase"] == "Error", status
    assert "Job smoke-gone-smoke-1 was deleted before it finished" in status["message"]
