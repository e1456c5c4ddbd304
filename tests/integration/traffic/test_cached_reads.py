"""read_weight from the controller's watch caches: no API call while the router objects are cached.

The caches are real Informers (watch-fed) on the real API server; the client handed to the router is
closed, so any request it tried would fail: passing proves the weight came from the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest

from e2e.cluster import Cluster
from rollouts.kube import Informer, KubeClient, KubeObject
from rollouts.traffic import IstioRouter, NginxRouter, RouterContext, TrafficRouter
from tests.integration.traffic.conftest import MakeContext, create
from tests.support import Kubectl
from tests.unit.traffic.manifests import (
    dest,
    http_route,
    istio_routing,
    nginx_routing,
    stable_ingress,
    virtual_service,
)


class InformerCache:
    """The shape of the controller's Caches.get, over plain Informers."""

    def __init__(self, informers: list[Informer]) -> None:
        self._by_kind = {(inf.api_version, inf.kind): inf for inf in informers}

    def get(self, watched: tuple[str, str], namespace: str, name: str) -> KubeObject | None:
        informer = self._by_kind.get(watched)
        return None if informer is None else informer.get(namespace, name)


@pytest.fixture
async def cache(cluster: Cluster, namespace: str, rollout_crds: None) -> AsyncIterator[InformerCache]:
    async with KubeClient.from_config(kubeconfig=cluster.kubeconfig) as watcher:
        informers = [
            Informer(watcher, "networking.k8s.io/v1", "Ingress", namespace=namespace),
            Informer(watcher, "networking.istio.io/v1", "VirtualService", namespace=namespace),
        ]
        tasks = [asyncio.create_task(inf.run()) for inf in informers]
        try:
            await asyncio.wait_for(asyncio.gather(*(inf.synced.wait() for inf in informers)), 30)
            yield InformerCache(informers)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def offline_read(
    router: TrafficRouter, ctx: RouterContext, cache: InformerCache, cluster: Cluster
) -> int | None:
    closed = KubeClient.from_config(kubeconfig=cluster.kubeconfig)
    await closed.close()
    return await router.read_weight(RouterContext(rollout=ctx.rollout, client=closed, cache=cache))


async def eventually_weight(
    router: TrafficRouter, ctx: RouterContext, cache: InformerCache, cluster: Cluster, expected: int
) -> None:
    seen: int | str | None = None
    for _ in range(120):
        try:
            seen = await offline_read(router, ctx, cache, cluster)
        except RuntimeError as exc:  # a cache miss is confirmed by a GET: not in the cache yet
            seen = f"a request on the closed client ({exc})"
        if seen == expected:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"cached read_weight never showed {expected}: last saw {seen}")


async def test_nginx_weight_is_read_from_the_cache(
    kubectl: Kubectl, make_context: MakeContext, cache: InformerCache, cluster: Cluster
) -> None:
    ingress = stable_ingress()
    del ingress["metadata"]["namespace"]
    create(kubectl, ingress)
    ctx = await make_context(nginx_routing())
    router = NginxRouter()
    await router.set_weight(ctx, canary_weight=40, canary_hash="n", stable_hash="o")
    await eventually_weight(router, ctx, cache, cluster, 40)

    # Someone changes the weight behind the controller's back: the cache (and so the verification) sees it.
    kubectl(
        "annotate", "--overwrite", "ingress", "web-web-canary", "nginx.ingress.kubernetes.io/canary-weight=55"
    )
    await eventually_weight(router, ctx, cache, cluster, 55)


async def test_istio_weight_is_read_from_the_cache(
    kubectl: Kubectl, make_context: MakeContext, cache: InformerCache, cluster: Cluster
) -> None:
    vs = virtual_service(http_route("primary", dest("web-stable", 100), dest("web-canary", 0)))
    del vs["metadata"]["namespace"]
    create(kubectl, vs)
    ctx = await make_context(istio_routing(routes=["primary"]))
    router = IstioRouter()
    await router.set_weight(ctx, canary_weight=15, canary_hash="n", stable_hash="o")
    await eventually_weight(router, ctx, cache, cluster, 15)

    edit = [{"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 35}]
    kubectl("patch", "vs", "web-vs", "--type=json", "-p", json.dumps(edit))
    await eventually_weight(router, ctx, cache, cluster, 35)
