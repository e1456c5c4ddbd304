"""A Flagger Canary converted by ``kubectl rollouts convert`` is accepted by the real API server
(schema and CEL rules) and delivers with the real controller: the first step's weight lands on the
canary Ingress and the background analysis starts with the converted templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e.cluster import Cluster
from tests.integration.cli.conftest import Plugin, get, run_plugin
from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually, kubectl_json

FIXTURE = Path(__file__).parents[2] / "unit" / "cli" / "manifests" / "flagger" / "shop-nginx.yaml"
NGINX = "nginx.ingress.kubernetes.io"


def test_a_converted_flagger_canary_delivers_its_first_step(
    controller: Any, cluster: Cluster, namespace: str, plugin: Plugin, kubectl: Kubectl, tmp_path: Path
) -> None:
    source = tmp_path / "shop.yaml"
    source.write_text(FIXTURE.read_text().replace("  namespace: shop\n", ""))  # the test's namespace
    target = tmp_path / "converted.yaml"
    converted = run_plugin(cluster, "convert", "-f", str(source), "-o", str(target))
    assert converted.returncode == 0, converted.stdout + converted.stderr
    kubectl("apply", "-f", str(target))
    stable = sc.wait_healthy(kubectl, "storefront", timeout=60)["stableRS"]
    assert sc.selector_hash(kubectl, "storefront") == stable

    assert plugin("set", "image", "storefront", "web=registry.example.com/storefront:3.2.0").returncode == 0
    eventually(
        lambda: (
            (get(kubectl, "ingress", "storefront-storefront-canary")["metadata"]["annotations"] or {}).get(
                f"{NGINX}/canary-weight"
            )
            == "15"
        ),
        timeout=60,
        what="the first step's weight 15 on the canary Ingress",
    )
    runs = kubectl_json(kubectl, "get", "analysisruns.rollouts.dev")["items"]
    assert len(runs) == 1, [r["metadata"]["name"] for r in runs]
    metrics = {m["name"]: m for m in runs[0]["spec"]["metrics"]}
    assert set(metrics) == {"request-success-rate", "request-duration", "checkout-errors"}
    args = {a["name"]: a.get("value") for a in runs[0]["spec"].get("args") or []}
    assert args == {"namespace": namespace, "ingress": "storefront"}  # metadata.namespace resolved
    query = metrics["request-success-rate"]["provider"]["prometheus"]["query"]
    assert 'ingress="{{args.ingress}}", canary!=""' in query
    hpa = get(kubectl, "horizontalpodautoscaler", "storefront")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"  # scales the Rollout now
