"""The process itself: /metrics in Prometheus text format and /healthz."""

from __future__ import annotations

import urllib.request

from tests.integration.controller import scenario as sc
from tests.support import Kubectl


def _get(port: int, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.status, response.read().decode()


def test_metrics_count_reconciles_and_rollouts_by_phase(controller, kubectl: Kubectl) -> None:
    assert controller.metrics_port
    assert _get(controller.metrics_port, "/healthz") == (200, "ok\n")
    assert _get(controller.metrics_port, "/readyz")[0] == 200
    sc.apply(kubectl, sc.rollout("web", strategy={"canary": {"steps": [{"setWeight": 50}]}}, replicas=1))
    sc.wait_healthy(kubectl, "web")
    _, text = _get(controller.metrics_port, "/metrics")
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(lines['kube_rollouts_reconciles_total{outcome="ok"}']) >= 1
    assert float(lines["kube_rollouts_reconcile_duration_seconds_count"]) >= 1
    assert lines['kube_rollouts_rollouts{phase="Healthy"}'] == "1"
    assert "# TYPE kube_rollouts_reconcile_duration_seconds histogram" in text
