"""A canary behind NGINX gated by Prometheus, end to end: the real controller process measures the
simulator's traffic in the real Prometheus, and promotes or rolls back with nobody watching."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

from e2e.simulator.launcher import RunningSimulator
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery import manifests as m
from tests.integration.delivery.proxy import TcpProxy
from tests.integration.delivery.reads import (
    Sampler,
    canary_weight,
    finished_run,
    measured_values,
    metric_result,
    wait_phase,
    weight_and_sizes,
)
from tests.support import Kubectl, eventually

ANALYSIS_STEPS = [{"setWeight": 50}, {"analysis": m.analysis("success-rate")}]


def _start(kubectl: Kubectl, *templates: dict[str, Any], **canary: Any) -> str:
    """Apply the app, the templates and the Rollout; returns the stable hash once Healthy."""
    sc.apply(kubectl, *m.nginx_app(), *templates)
    sc.apply(kubectl, m.canary_rollout(**{"steps": ANALYSIS_STEPS, **canary}))
    stable: str = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]
    return stable


def test_good_canary_passes_its_analysis_step_and_is_promoted(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    v1 = _start(kubectl, m.template("success-rate", m.success_rate_metric()))
    sc.set_image(kubectl, "web", m.GOOD)
    v2 = sc.wait_status(
        kubectl, "web", "Healthy at v2", lambda st: st.get("phase") == "Healthy" and st["stableRS"] != v1, 60
    )["stableRS"]
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Successful"
    result = metric_result(run, "success-rate")
    assert result["successful"] == 3 and result.get("failed", 0) == 0
    assert all(value >= 0.95 for value in measured_values(run, "success-rate"))
    assert sc.selector_hash(kubectl, "web-stable") == v2
    eventually(lambda: canary_weight(kubectl) == 0, what="canary weight back to 0 after promotion")
    reasons = [reason for reason, _ in sc.events(kubectl, "web")]
    assert "AnalysisRunCreated" in reasons and "RolloutCompleted" in reasons
    # The controller's /metrics counts what its AnalysisRun controller measured and wrote.
    assert controller.metrics_port
    with urllib.request.urlopen(f"http://127.0.0.1:{controller.metrics_port}/metrics", timeout=10) as page:
        text = page.read().decode()
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(lines['kube_rollouts_analysis_measurements_total{phase="Successful"}']) >= 3
    assert float(lines["kube_rollouts_analysis_status_writes_total"]) >= 3


def test_bad_canary_is_aborted_and_traffic_goes_back_before_any_scale_down(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    v1 = _start(
        kubectl, m.template("success-rate", m.success_rate_metric()), abortScaleDownDelaySeconds=1
    )  # 0 would mean never (as in Argo)
    with Sampler(lambda: weight_and_sizes(kubectl)) as seen:
        sc.set_image(kubectl, "web", m.BAD)
        st = wait_phase(kubectl, "Degraded")
        v2 = st["currentPodHash"]
        eventually(lambda: sc.sizes(kubectl, "web").get(v2) == 0, what="the aborted canary scaled down")
    run = finished_run(kubectl, "step")
    name = run["metadata"]["name"]
    assert run["status"]["phase"] == "Failed"
    bad_values = [v for v in measured_values(run, "success-rate") if v < 0.95]
    assert bad_values, run["status"]
    # The user reads which run and metric decided, and the value measured.
    assert name in st["message"] and '"success-rate"' in st["message"], st["message"]
    assert f"last failed value [{bad_values[-1]}]" in st["message"], st["message"]
    assert st["stableRS"] == v1 and st.get("abort") is True
    assert canary_weight(kubectl) == 0
    assert sc.selector_hash(kubectl, "web-stable") == v1
    assert any(r == "RolloutAborted" and name in msg for r, msg in sc.events(kubectl, "web"))
    # Safety: the canary had traffic, and lost all of it before it lost a single pod.
    assert any(weight == 50 for weight, _ in seen.samples)
    shrunk = [weight for weight, sizes in seen.samples if sizes.get(v2) == 0]
    assert shrunk and all(weight == 0 for weight in shrunk), seen.samples


def test_background_analysis_failing_during_a_pause_aborts(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    background = {**m.analysis("success-rate"), "startingStep": 1}
    steps = [{"setWeight": 30}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]
    metric = m.success_rate_metric(count=None, interval="2s")  # runs until the rollout ends it
    v1 = _start(kubectl, m.template("success-rate", metric), steps=steps, analysis=background)
    with Sampler(lambda: canary_weight(kubectl)) as weights:
        sc.set_image(kubectl, "web", m.BAD)
        paused = wait_phase(kubectl, "Paused")
        assert paused["currentStepIndex"] == 1 and paused["canary"]["weights"]["canary"]["weight"] == 30
        st = wait_phase(kubectl, "Degraded")
    run = finished_run(kubectl, "background")
    assert run["status"]["phase"] == "Failed"
    assert run["metadata"]["name"] in st["message"] and "success-rate" in st["message"]
    assert st["canary"]["currentBackgroundAnalysisRunStatus"]["status"] == "Failed"
    assert max(w or 0 for w in weights.samples) == 30, "the rollout went on to the next step"
    assert st["stableRS"] == v1 and canary_weight(kubectl) == 0
    assert sc.selector_hash(kubectl, "web-stable") == v1


def test_inconclusive_result_pauses_for_a_human_without_promoting(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    # A success rate is never above 2 nor below 0: neither condition matches, so it is inconclusive.
    metric = m.success_rate_metric(success="result[0] > 2.0", failure="result[0] < 0.0", count=2)
    v1 = _start(kubectl, m.template("success-rate", metric))
    sc.set_image(kubectl, "web", m.GOOD)
    st = wait_phase(kubectl, "Paused")
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Inconclusive"
    assert [c["reason"] for c in st["pauseConditions"]] == ["InconclusiveAnalysisRun"]
    assert any(
        r == "RolloutPaused" and run["metadata"]["name"] in msg for r, msg in sc.events(kubectl, "web")
    )
    time.sleep(3)  # nobody promotes: it stays where it is, traffic unchanged
    st = sc.status(kubectl, "web")
    assert st["phase"] == "Paused" and st["stableRS"] == v1
    assert canary_weight(kubectl) == 50 and sc.selector_hash(kubectl, "web-stable") == v1


def test_failing_dry_run_metric_is_shown_but_does_not_abort(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    strict = m.success_rate_metric("strict", success="result[0] > 2.0", failure="result[0] <= 2.0", count=2)
    template = m.template("success-rate", m.success_rate_metric(), strict, dryRun=[{"metricName": "strict"}])
    v1 = _start(kubectl, template)
    sc.set_image(kubectl, "web", m.GOOD)
    st = sc.wait_status(
        kubectl, "web", "promoted", lambda s: s.get("phase") == "Healthy" and s["stableRS"] != v1, 60
    )
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Successful"
    strict_result = metric_result(run, "strict")
    assert strict_result["phase"] == "Failed" and strict_result.get("dryRun") is True
    assert run["status"]["dryRunSummary"]["failed"] == 1
    assert sc.selector_hash(kubectl, "web-stable") == st["stableRS"]


def test_prometheus_address_from_a_secret(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl, prometheus_proxy: TcpProxy
) -> None:
    """The template takes its Prometheus from a Secret (here: a proxy the controller's default
    --prometheus-address is not): the run measures through it and the value never lands in the run."""
    kubectl(
        "create", "secret", "generic", "metrics-backend", f"--from-literal=address={prometheus_proxy.url}"
    )
    secret_arg = {
        "name": "address",
        "valueFrom": {"secretKeyRef": {"name": "metrics-backend", "key": "address"}},
    }
    metric = m.success_rate_metric(address="{{args.address}}")
    v1 = _start(kubectl, m.template("success-rate", metric, args=[secret_arg]))
    sc.set_image(kubectl, "web", m.GOOD)
    sc.wait_status(
        kubectl, "web", "promoted", lambda s: s.get("phase") == "Healthy" and s["stableRS"] != v1, 60
    )
    run = finished_run(kubectl, "step")
    assert run["status"]["phase"] == "Successful"
    assert prometheus_proxy.connections > 0, "the run did not query the address from the Secret"
    assert prometheus_proxy.url not in str(run["spec"])
