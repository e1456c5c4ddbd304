"""Weight writes that start from the controller's cached copy: one request when the cache is current,
and still correct (never a lost edit) when the cache lags behind the API server.

The cache here is a dict holding copies the test chose (current or deliberately stale), standing in
for the controller's watch caches; the API server is real.
"""

from __future__ import annotations

import json

from rollouts.kube import KubeClient, KubeObject
from rollouts.traffic import IstioRouter, NginxRouter, RouterContext
from tests.integration.traffic.conftest import MakeContext, create
from tests.support import Kubectl, kubectl_json
from tests.unit.traffic.manifests import (
    dest,
    http_route,
    istio_routing,
    nginx_routing,
    stable_ingress,
    virtual_service,
)

WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"


class Copies:
    """A cache holding exactly the copies the test put in, and the writes it was told of."""

    def __init__(self, *objects: KubeObject) -> None:
        self.store = {(o["kind"], o["metadata"]["name"]): o for o in objects}
        self.remembered: list[KubeObject] = []

    def get(self, watched: tuple[str, str], namespace: str, name: str) -> KubeObject | None:
        return self.store.get((watched[1], name))

    def remember(self, obj: KubeObject) -> None:
        self.remembered.append(obj)


def cached(ctx: RouterContext, copies: Copies) -> RouterContext:
    return RouterContext(rollout=ctx.rollout, client=ctx.client, cache=copies, remember=copies.remember)


def get(kubectl: Kubectl, kind: str, name: str) -> KubeObject:
    return kubectl_json(kubectl, "get", kind, name)


async def test_nginx_weight_change_from_a_current_cache_is_one_request(
    kubectl: Kubectl, make_context: MakeContext, client: KubeClient
) -> None:
    ingress = stable_ingress()
    del ingress["metadata"]["namespace"]
    create(kubectl, ingress)
    ctx = await make_context(nginx_routing())
    router = NginxRouter()
    await router.set_weight(ctx, canary_weight=20, canary_hash="n", stable_hash="o")
    copies = Copies(get(kubectl, "ingress", "web"), get(kubectl, "ingress", "web-web-canary"))

    before = sum(client.requests.values())
    await router.set_weight(cached(ctx, copies), canary_weight=50, canary_hash="n", stable_hash="o")
    assert sum(client.requests.values()) - before == 1, client.requests
    assert get(kubectl, "ingress", "web-web-canary")["metadata"]["annotations"][WEIGHT] == "50"
    [answer] = copies.remembered
    assert answer["metadata"]["annotations"][WEIGHT] == "50", "the cache is handed the written object"


async def test_nginx_weight_change_from_a_stale_cache_conflicts_and_retries_fresh(
    kubectl: Kubectl, make_context: MakeContext
) -> None:
    ingress = stable_ingress()
    del ingress["metadata"]["namespace"]
    create(kubectl, ingress)
    ctx = await make_context(nginx_routing())
    router = NginxRouter()
    await router.set_weight(ctx, canary_weight=20, canary_hash="n", stable_hash="o")
    stale = Copies(get(kubectl, "ingress", "web"), get(kubectl, "ingress", "web-web-canary"))
    # Someone else writes the canary Ingress after the cache's copy (and 50 is already what it says).
    kubectl("annotate", "--overwrite", "ingress", "web-web-canary", f"{WEIGHT}=50", "team=payments")

    await router.set_weight(cached(ctx, stale), canary_weight=80, canary_hash="n", stable_hash="o")
    annotations = get(kubectl, "ingress", "web-web-canary")["metadata"]["annotations"]
    assert annotations[WEIGHT] == "80"
    assert annotations["team"] == "payments", "the other writer's change is kept"


async def test_istio_weight_change_from_a_stale_cache_never_applies_stale_indexes(
    kubectl: Kubectl, make_context: MakeContext
) -> None:
    vs = virtual_service(http_route("primary", dest("web-stable", 100), dest("web-canary", 0)))
    del vs["metadata"]["namespace"]
    create(kubectl, vs)
    stale = Copies(get(kubectl, "virtualservice", "web-vs"))
    # The user puts a new route first: list indexes computed on the cached copy are now wrong.
    edit = [{"op": "add", "path": "/spec/http/0", "value": http_route("first", dest("other", 100))}]
    kubectl("patch", "virtualservice", "web-vs", "--type=json", "-p", json.dumps(edit))
    ctx = await make_context(istio_routing(routes=["primary"]))

    await IstioRouter().set_weight(cached(ctx, stale), canary_weight=30, canary_hash="n", stable_hash="o")
    http = get(kubectl, "virtualservice", "web-vs")["spec"]["http"]
    assert [r["name"] for r in http] == ["first", "primary"]
    assert [d["weight"] for d in http[0]["route"]] == [100], "the user's route is untouched"
    assert [d["weight"] for d in http[1]["route"]] == [70, 30]
