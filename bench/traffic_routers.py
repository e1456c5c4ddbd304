"""Benchmark of the traffic routers: how long one weight change takes to land and be read back.

This is the router's share of the issue's "step latency" (from the moment a step may advance to the
router weight written): one ``set_weight`` followed by the ``read_weight`` the controller verifies
with, against the running local cluster (``make cluster-up``), for NGINX (canary Ingress), Istio
host-level and Istio subset-level. Each router moves through ``changes`` different weights; the
objects live in a private namespace that is deleted afterwards. Figures are per change, in ms.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
import uuid
from typing import Any

from e2e.cluster import ensure_up
from rollouts.api import Rollout, parse_rollout
from rollouts.kube import KubeClient
from rollouts.traffic import IstioRouter, NginxRouter, RouterContext, TrafficRouter
from tests.unit.traffic.manifests import (
    dest,
    destination_rule,
    http_route,
    istio_routing,
    nginx_routing,
    rollout_manifest,
    stable_ingress,
    virtual_service,
)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(router: TrafficRouter, ctx: RouterContext, changes: int) -> dict[str, float]:
    await router.set_weight(ctx, canary_weight=0, canary_hash="new", stable_hash="old")
    samples = []
    for i in range(changes):
        weight = (i * 7) % 100 + 1
        started = time.perf_counter()
        await router.set_weight(ctx, canary_weight=weight, canary_hash="c0ffee", stable_hash="decade")
        assert await router.read_weight(ctx) == weight
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(_percentile(samples, 0.99), 2),
        "max_ms": round(max(samples), 2),
    }


async def _objects(client: KubeClient, namespace: str, name: str, routing: dict[str, Any]) -> Rollout:
    created = await client.create(rollout_manifest(routing, name=name, namespace=namespace, uid=None))
    return parse_rollout(created)


async def _run(kubeconfig: str, namespace: str, changes: int) -> dict[str, object]:
    async with KubeClient.from_config(kubeconfig=kubeconfig) as client:
        ing = stable_ingress(namespace=namespace)
        await client.create(ing)
        vs_host = virtual_service(
            http_route("primary", dest("web-stable", 100), dest("web-canary", 0)),
            name="host-vs",
            namespace=namespace,
        )
        vs_subset = virtual_service(
            http_route("primary", dest("web", 100, "stable"), dest("web", 0, "canary")),
            name="web-vs",
            namespace=namespace,
        )
        dr = destination_rule({"name": "stable"}, {"name": "canary"}, namespace=namespace)
        for obj in (vs_host, vs_subset, dr):
            await client.create(obj)
        host_routing = istio_routing(routes=["primary"])
        host_routing["istio"]["virtualService"]["name"] = "host-vs"
        cases: list[tuple[str, TrafficRouter, dict[str, Any]]] = [
            ("nginx", NginxRouter(), nginx_routing()),
            ("istio_host", IstioRouter(), host_routing),
            ("istio_subset", IstioRouter(), istio_routing(routes=["primary"], subsets=True)),
        ]
        figures: dict[str, object] = {"changes_per_router": changes}
        for label, router, routing in cases:
            ro = await _objects(client, namespace, label.replace("_", "-"), routing)
            figures[label] = await _measure(router, RouterContext(rollout=ro, client=client), changes)
        return figures


def run(changes: int = 200) -> dict[str, object]:
    cluster = ensure_up(log=False)
    kubectl = [f"{cluster.bin_dir}/kubectl", f"--kubeconfig={cluster.kubeconfig}"]
    subprocess.run([*kubectl, "apply", "-f", "e2e/crds/istio.yaml"], check=True, capture_output=True)
    subprocess.run(
        [*kubectl, "apply", "--server-side", "--force-conflicts", "-f", "crds"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"],
        check=True,
        capture_output=True,
    )
    namespace = f"bench-traffic-{uuid.uuid4().hex[:8]}"
    subprocess.run([*kubectl, "create", "namespace", namespace], check=True, capture_output=True)
    try:
        return asyncio.run(_run(cluster.kubeconfig, namespace, changes))
    finally:
        subprocess.run([*kubectl, "delete", "namespace", namespace, "--wait=false"], capture_output=True)
