"""Blue-green gated by Prometheus, end to end. Each Service has its own Ingress (the preview one is
how testers reach the new version), so the simulator sends traffic to both and each analysis asks
about the Ingress it gates: pre-promotion about the preview, post-promotion about the active."""

from __future__ import annotations

from e2e.simulator.launcher import RunningSimulator
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery import manifests as m
from tests.integration.delivery.reads import Sampler, finished_run, measured_values, wait_phase
from tests.support import Kubectl

# The whole Ingress's success rate (no canary label here): 2 s apart, 3 times.
METRIC = m.success_rate_metric(canary_only=False, interval="2s", count=3)


def test_pre_promotion_analysis_keeps_a_bad_preview_from_ever_going_active(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, *m.bluegreen_app(), m.template("success-rate", METRIC))
    pre = m.analysis("success-rate", ingress_name="web-preview")
    sc.apply(kubectl, m.bluegreen_rollout(prePromotionAnalysis=pre))
    v1 = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]
    with Sampler(lambda: sc.selector_hash(kubectl, "web-active")) as active:
        sc.set_image(kubectl, "web", m.BAD)
        st = wait_phase(kubectl, "Degraded")
    run = finished_run(kubectl, "pre")
    assert run["status"]["phase"] == "Failed"
    assert any(value < 0.95 for value in measured_values(run, "success-rate"))
    assert run["metadata"]["name"] in st["message"] and "success-rate" in st["message"]
    assert st["blueGreen"]["prePromotionAnalysisRunStatus"]["status"] == "Failed"
    assert set(active.samples) == {v1}, "the active Service never pointed at the bad version"
    assert st["stableRS"] == v1 and sc.selector_hash(kubectl, "web-active") == v1


def test_post_promotion_analysis_failing_switches_the_active_service_back(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, *m.bluegreen_app(), m.template("success-rate", METRIC))
    post = m.analysis("success-rate", ingress_name="web-active")
    sc.apply(kubectl, m.bluegreen_rollout(postPromotionAnalysis=post))
    v1 = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]
    with Sampler(lambda: sc.selector_hash(kubectl, "web-active")) as active:
        sc.set_image(kubectl, "web", m.BAD)
        st = wait_phase(kubectl, "Degraded")
    v2 = st["currentPodHash"]
    run = finished_run(kubectl, "post")
    assert run["status"]["phase"] == "Failed"
    assert run["metadata"]["name"] in st["message"] and "success-rate" in st["message"]
    assert st["blueGreen"]["postPromotionAnalysisRunStatus"]["status"] == "Failed"
    assert v2 in active.samples, "the active Service was switched to the new version first"
    assert sc.selector_hash(kubectl, "web-active") == v1, "and switched back after the analysis failed"
    assert st["stableRS"] == v1
    old = sc.replica_sets(kubectl, "web")[v1]
    assert old["replicas"] == 2 and old["available"] == 2, "the old version was kept warm to switch back to"
