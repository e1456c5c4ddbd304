"""Prometheus goes away in the middle of an analysis: the measurements error, the run errors, the
rollout aborts and traffic goes back to stable. Missing data is never taken for success.

The shared Prometheus keeps running (other tests use it): the template points at a proxy in front
of it, and the test stops the proxy.
"""

from __future__ import annotations

from typing import Any

from e2e.simulator.launcher import RunningSimulator
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery import manifests as m
from tests.integration.delivery.proxy import TcpProxy
from tests.integration.delivery.reads import (
    canary_weight,
    finished_run,
    metric_result,
    runs_of_kind,
    wait_phase,
)
from tests.support import Kubectl, eventually


def _successes(kubectl: Kubectl) -> int:
    runs = runs_of_kind(kubectl, "step")
    if not runs or not (runs[0].get("status") or {}).get("metricResults"):
        return 0
    successful: int = metric_result(runs[0], "success-rate").get("successful", 0)
    return successful


def test_prometheus_stopped_mid_run_errors_then_aborts_never_promotes(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl, prometheus_proxy: TcpProxy
) -> None:
    # initialDelay: the canary's first requests must be scraped (twice, for a rate) before the first
    # measurement, or three "no data" errors in the first three seconds abort it before the outage.
    metric = m.success_rate_metric(
        address=prometheus_proxy.url, count=10, interval="1s", consecutiveErrorLimit=2, initialDelay="8s"
    )
    steps: list[dict[str, Any]] = [{"setWeight": 50}, {"analysis": m.analysis("success-rate")}]
    sc.apply(kubectl, *m.nginx_app(), m.template("success-rate", metric))
    sc.apply(kubectl, m.canary_rollout(steps=steps))
    v1 = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]
    sc.set_image(kubectl, "web", m.GOOD)  # a good version: only the outage can stop it
    eventually(lambda: _successes(kubectl) >= 1, timeout=60, what="a first successful measurement")
    prometheus_proxy.stop()

    st = wait_phase(kubectl, "Degraded")
    run = finished_run(kubectl, "step")
    result = metric_result(run, "success-rate")
    assert run["status"]["phase"] == "Error", run["status"]
    assert result["consecutiveError"] == 3 and result["successful"] < 10
    last = result["measurements"][-1]
    assert last["phase"] == "Error"
    assert prometheus_proxy.url.removeprefix("http://") in last["message"], last["message"]
    assert "nginx_ingress_controller_requests" in last["message"], "the message shows the query"
    assert run["metadata"]["name"] in st["message"] and "consecutiveErrorLimit" in st["message"]
    assert st["stableRS"] == v1, "never promoted on missing data"
    assert canary_weight(kubectl) == 0 and sc.selector_hash(kubectl, "web-stable") == v1
