"""AnalysisRuns created in a namespace and measured by the AnalysisRun controller against the real
Prometheus and the real API server: what a user sees in the run's status and Events."""

from __future__ import annotations

import itertools
import json
import socket
import time
from datetime import datetime
from typing import Any

from tests.integration.analysis.conftest import AppMetrics, ControllerThread
from tests.support import Kubectl, eventually, kubectl_json


def analysis_run(name: str, *metrics: dict[str, Any], args: list[dict[str, Any]] | None = None) -> str:
    spec: dict[str, Any] = {"metrics": list(metrics)}
    if args:
        spec["args"] = args
    return json.dumps(
        {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def prom_metric(address: str, query: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "success-rate",
        "successCondition": "result[0] >= 0.95",
        "provider": {"prometheus": {"address": address, "query": query}},
        **fields,
    }


def status_of(kubectl: Kubectl, name: str) -> dict[str, Any]:
    return kubectl_json(kubectl, "get", "analysisrun.rollouts.dev", name).get("status") or {}


def finished(kubectl: Kubectl, name: str, *, timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        status = status_of(kubectl, name)
        return status if status.get("phase") in ("Successful", "Failed", "Error", "Inconclusive") else None

    return eventually(probe, timeout=timeout, what=f"AnalysisRun {name} to complete")


def scraped(app: AppMetrics, value: float) -> str:
    query = f'app_success_ratio{{run="{app.run_id}"}}'
    app.set("app_success_ratio", value)
    app.wait_scraped(query, expect=value)
    return query


def test_healthy_metric_is_measured_count_times_and_the_run_succeeds(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    query = scraped(app_metrics, 0.99)
    address = app_metrics.cluster.prometheus_url
    kubectl(
        "apply", "-f", "-", stdin=analysis_run("good", prom_metric(address, query, interval="1s", count=3))
    )
    status = finished(kubectl, "good")
    assert status["phase"] == "Successful"
    result = status["metricResults"][0]
    assert (result["count"], result["successful"], result["phase"]) == (3, 3, "Successful")
    values = [m["value"] for m in result["measurements"]]
    assert values == ["[0.99]"] * 3
    starts = [datetime.fromisoformat(m["finishedAt"].replace("Z", "+00:00")) for m in result["measurements"]]
    assert all((b - a).total_seconds() >= 0.99 for a, b in itertools.pairwise(starts))
    events = kubectl_json(kubectl, "get", "events", "--field-selector", "involvedObject.name=good")["items"]
    assert any(e["reason"] == "AnalysisRunSuccessful" for e in events)


def test_unhealthy_metric_fails_the_run_with_the_value(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    query = scraped(app_metrics, 0.4)
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=analysis_run("bad", prom_metric(app_metrics.cluster.prometheus_url, query, count=1)),
    )
    status = finished(kubectl, "bad")
    assert status["phase"] == "Failed"
    assert "success-rate" in status["message"] and "failureLimit (0)" in status["message"]
    assert "[0.4]" in status["metricResults"][0]["measurements"][0]["message"]


def test_consecutive_success_limit_waits_through_failures_for_a_streak(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    query = scraped(app_metrics, 0.4)
    metric = prom_metric(
        app_metrics.cluster.prometheus_url, query, interval="1s", failureLimit=-1, consecutiveSuccessLimit=2
    )
    kubectl("apply", "-f", "-", stdin=analysis_run("wait-for-it", metric))

    def failing_and_still_running() -> bool:
        status = status_of(kubectl, "wait-for-it")
        results = status.get("metricResults") or [{}]
        return status.get("phase") == "Running" and results[0].get("failed", 0) >= 2

    eventually(failing_and_still_running, what="failed measurements that do not fail the run")
    scraped(app_metrics, 0.99)
    status = finished(kubectl, "wait-for-it")
    assert status["phase"] == "Successful", status.get("message")
    result = status["metricResults"][0]
    assert result["consecutiveSuccess"] == 2 and result["failed"] >= 2
    assert "consecutiveSuccessLimit (2)" in result["message"]


def test_a_finished_run_no_rollout_owns_is_deleted_when_its_ttl_runs_out(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    query = scraped(app_metrics, 0.99)
    body = json.loads(analysis_run("short-lived", prom_metric(app_metrics.cluster.prometheus_url, query)))
    body["spec"]["ttlStrategy"] = {"secondsAfterSuccess": 3, "secondsAfterFailure": 600}
    kubectl("apply", "-f", "-", stdin=json.dumps(body))
    status = finished(kubectl, "short-lived")
    assert status["phase"] == "Successful" and status["completedAt"]
    gone = lambda: kubectl("get", "analysisrun.rollouts.dev", "short-lived", check=False).returncode != 0  # noqa: E731
    eventually(gone, timeout=20, what="the run deleted 3 s after it succeeded")


def test_args_from_a_secret_are_used_and_never_copied_into_the_run(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    scraped(app_metrics, 0.98)
    kubectl("create", "secret", "generic", "app-run", f"--from-literal=id={app_metrics.run_id}")
    metric = prom_metric(
        app_metrics.cluster.prometheus_url, 'app_success_ratio{run="{{args.run-id}}"}', count=1
    )
    args = [{"name": "run-id", "valueFrom": {"secretKeyRef": {"name": "app-run", "key": "id"}}}]
    kubectl("apply", "-f", "-", stdin=analysis_run("secret-args", metric, args=args))
    status = finished(kubectl, "secret-args")
    assert status["phase"] == "Successful", status
    run = kubectl_json(kubectl, "get", "analysisrun.rollouts.dev", "secret-args")
    assert app_metrics.run_id not in json.dumps(run["spec"])


def test_missing_secret_errors_the_metric_naming_the_secret(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    metric = prom_metric(
        app_metrics.cluster.prometheus_url,
        'up{run="{{args.run-id}}"}',
        interval="1s",
        consecutiveErrorLimit=0,
    )
    args = [{"name": "run-id", "valueFrom": {"secretKeyRef": {"name": "nowhere", "key": "id"}}}]
    kubectl("apply", "-f", "-", stdin=analysis_run("no-secret", metric, args=args))
    status = finished(kubectl, "no-secret")
    assert status["phase"] == "Error"
    message = status["metricResults"][0]["measurements"][0]["message"]
    assert "Secret 'nowhere' not found" in message and "valueFrom.secretKeyRef.name" in message


def test_unreachable_prometheus_errors_past_consecutive_error_limit(
    kubectl: Kubectl, analysis_controller: ControllerThread
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    metric = prom_metric(dead, "up", interval="1s", consecutiveErrorLimit=2)
    kubectl("apply", "-f", "-", stdin=analysis_run("unreachable", metric))
    status = finished(kubectl, "unreachable")
    assert status["phase"] == "Error"
    result = status["metricResults"][0]
    assert result["consecutiveError"] == 3 and result.get("successful", 0) == 0
    assert all(
        "is unreachable" in m["message"] and 'query "up"' in m["message"] for m in result["measurements"]
    )


def test_terminate_stops_an_endless_run(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    query = scraped(app_metrics, 0.99)
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=analysis_run("endless", prom_metric(app_metrics.cluster.prometheus_url, query, interval="1s")),
    )
    eventually(
        lambda: (status_of(kubectl, "endless").get("metricResults") or [{}])[0].get("count", 0) >= 2,
        timeout=30,
        what="two measurements",
    )
    kubectl(
        "patch", "analysisrun.rollouts.dev", "endless", "--type=merge", "-p", '{"spec":{"terminate":true}}'
    )
    status = finished(kubectl, "endless", timeout=30)
    assert status["phase"] == "Successful" and status["message"] == "run terminated"
    count = status["metricResults"][0]["count"]
    time.sleep(2.5)
    assert status_of(kubectl, "endless")["metricResults"][0]["count"] == count


def test_restart_mid_run_repeats_nothing(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    query = scraped(app_metrics, 0.99)
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=analysis_run(
            "restart", prom_metric(app_metrics.cluster.prometheus_url, query, interval="3s", count=3)
        ),
    )
    eventually(
        lambda: (status_of(kubectl, "restart").get("metricResults") or [{}])[0].get("count", 0) >= 1,
        timeout=30,
        what="the first measurement",
    )
    analysis_controller.stop()
    analysis_controller.start()  # a new controller: nothing but the status to go on
    status = finished(kubectl, "restart")
    result = status["metricResults"][0]
    assert status["phase"] == "Successful" and result["count"] == 3 and len(result["measurements"]) == 3
    times = [datetime.fromisoformat(m["finishedAt"].replace("Z", "+00:00")) for m in result["measurements"]]
    assert all((b - a).total_seconds() >= 2.99 for a, b in itertools.pairwise(times))


def test_dry_run_metric_failing_does_not_fail_the_run(
    kubectl: Kubectl, analysis_controller: ControllerThread, app_metrics: AppMetrics
) -> None:
    query = scraped(app_metrics, 0.99)
    address = app_metrics.cluster.prometheus_url
    experimental = prom_metric(address, query, count=1, name="experimental", successCondition="result[0] > 2")
    body = json.loads(analysis_run("dry", prom_metric(address, query, count=1), experimental))
    body["spec"]["dryRun"] = [{"metricName": "experimental"}]
    kubectl("apply", "-f", "-", stdin=json.dumps(body))
    status = finished(kubectl, "dry")
    assert status["phase"] == "Successful"
    by_name = {r["name"]: r for r in status["metricResults"]}
    assert by_name["experimental"]["phase"] == "Failed" and by_name["experimental"]["dryRun"] is True
    assert status["dryRunSummary"]["failed"] == 1
