"""A template whose count, interval and failureLimit are ``{{args.NAME}}``, end to end: the real
controller builds the run with the values filled in (the Rollout's where it passes one, the
template's defaults otherwise), measures that many times, and promotes."""

from __future__ import annotations

import json

from e2e.simulator.launcher import RunningSimulator
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery import manifests as m
from tests.integration.delivery.reads import finished_run, metric_result
from tests.support import Kubectl


def test_placeholders_in_count_and_interval_are_filled_in_when_the_run_is_built(
    controller: ControllerProcess, traffic: RunningSimulator, kubectl: Kubectl
) -> None:
    metric = m.success_rate_metric(
        count=None, interval="{{args.interval}}", failureLimit="{{args.failure-limit}}"
    )
    metric["count"] = "{{ args.count }}"
    defaults = [
        {"name": "count", "value": "5"},
        {"name": "interval", "value": "1s"},
        {"name": "failure-limit", "value": "0"},
    ]
    analysis = m.analysis("success-rate")
    analysis["args"].append({"name": "count", "value": "2"})  # the Rollout's value wins over the 5
    sc.apply(kubectl, *m.nginx_app(), m.template("success-rate", metric, args=defaults))
    sc.apply(kubectl, m.canary_rollout(steps=[{"setWeight": 50}, {"analysis": analysis}]))
    v1 = sc.wait_healthy(kubectl, "web", timeout=90)["stableRS"]

    sc.set_image(kubectl, "web", m.GOOD)
    sc.wait_status(
        kubectl, "web", "Healthy at v2", lambda st: st.get("phase") == "Healthy" and st["stableRS"] != v1, 60
    )
    run = finished_run(kubectl, "step")
    (written,) = run["spec"]["metrics"]
    assert (written["count"], written["interval"], written["failureLimit"]) == (2, "1s", 0)
    assert "{{" not in json.dumps({k: v for k, v in written.items() if k != "provider"})
    assert run["status"]["phase"] == "Successful"
    assert metric_result(run, "success-rate")["successful"] == 2
