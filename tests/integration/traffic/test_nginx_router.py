"""The NGINX router on a real API server: the canary Ingress a user (and ingress-nginx) would see."""

from __future__ import annotations

import pytest

from rollouts.kube import KubeClient
from rollouts.traffic import (
    ForeignObjectError,
    InvalidRoutingError,
    NginxRouter,
    RouterObjectMissingError,
)
from tests.integration.traffic.conftest import MakeContext, create
from tests.support import Kubectl, eventually, kubectl_json
from tests.unit.traffic.manifests import nginx_routing, path, stable_ingress

PREFIX = "nginx.ingress.kubernetes.io"
TLS = [{"hosts": ["web.example.com"], "secretName": "web-tls"}]


def make_stable(kubectl: Kubectl, **spec: object) -> None:
    ingress = stable_ingress(
        namespace=kubectl("config", "view", "--minify", "-o", "jsonpath={..namespace}").stdout
    )
    ingress["spec"].update(spec)
    del ingress["metadata"]["namespace"]
    create(kubectl, ingress)


async def test_canary_ingress_is_created_weighted_and_read_back(
    kubectl: Kubectl, make_context: MakeContext
) -> None:
    make_stable(
        kubectl,
        tls=TLS,
        rules=[
            {"host": "web.example.com", "http": {"paths": [path("web-stable", "/"), path("docs", "/docs")]}},
            {"host": "other.example.com", "http": {"paths": [path("other", "/")]}},
        ],
    )
    ctx = await make_context(nginx_routing(additionalIngressAnnotations={"canary-by-header": "X-Canary"}))
    router = NginxRouter()
    assert await router.read_weight(ctx) is None, "no canary Ingress yet: nothing verified"

    await router.set_weight(ctx, canary_weight=0, canary_hash="new", stable_hash="old")
    canary = kubectl_json(kubectl, "get", "ingress", "web-web-canary")
    assert canary["spec"]["ingressClassName"] == "nginx"
    assert canary["spec"]["tls"] == TLS
    assert canary["spec"]["rules"] == [
        {"host": "web.example.com", "http": {"paths": [path("web-canary", "/")]}}
    ]
    annotations = canary["metadata"]["annotations"]
    assert annotations[f"{PREFIX}/canary"] == "true"
    assert annotations[f"{PREFIX}/canary-weight"] == "0"
    assert annotations[f"{PREFIX}/canary-by-header"] == "X-Canary"
    [owner] = canary["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Rollout",
        "web",
        ctx.rollout.metadata.uid,
        True,
    )
    assert await router.read_weight(ctx) == 0

    await router.set_weight(ctx, canary_weight=30, canary_hash="new", stable_hash="old")
    canary = kubectl_json(kubectl, "get", "ingress", "web-web-canary")
    assert canary["metadata"]["annotations"][f"{PREFIX}/canary-weight"] == "30"
    assert await router.read_weight(ctx) == 30

    # A repeated write of the same weight writes nothing.
    version = canary["metadata"]["resourceVersion"]
    await router.set_weight(ctx, canary_weight=30, canary_hash="new", stable_hash="old")
    assert kubectl_json(kubectl, "get", "ingress", "web-web-canary")["metadata"]["resourceVersion"] == version

    # After promotion the canary Ingress stays, at weight 0.
    await router.cleanup(ctx)
    assert await router.read_weight(ctx) == 0
    assert kubectl_json(kubectl, "get", "ingress", "web-web-canary")["spec"]["rules"]


async def test_changes_to_the_stable_ingress_reach_the_canary_and_keep_the_weight(
    kubectl: Kubectl, make_context: MakeContext
) -> None:
    make_stable(kubectl)
    ctx = await make_context(nginx_routing())
    router = NginxRouter()
    await router.set_weight(ctx, canary_weight=40, canary_hash="new", stable_hash="old")

    kubectl(
        "patch", "ingress", "web", "--type=merge",
        "-p", '{"spec": {"tls": [{"hosts": ["web.example.com"], "secretName": "rotated"}]}}',
    )  # fmt: skip
    await router.set_weight(ctx, canary_weight=40, canary_hash="new", stable_hash="old")
    canary = kubectl_json(kubectl, "get", "ingress", "web-web-canary")
    assert canary["spec"]["tls"] == [{"hosts": ["web.example.com"], "secretName": "rotated"}]
    assert canary["metadata"]["annotations"][f"{PREFIX}/canary-weight"] == "40"


async def test_an_ingress_of_that_name_owned_by_someone_else_is_never_taken_over(
    kubectl: Kubectl, make_context: MakeContext
) -> None:
    make_stable(kubectl)
    foreign = stable_ingress(name="web-web-canary")
    del foreign["metadata"]["namespace"]
    foreign["metadata"]["annotations"] = {"team": "someone-else"}
    before = create(kubectl, foreign)
    ctx = await make_context(nginx_routing())
    router = NginxRouter()

    for attempt in (
        router.set_weight(ctx, canary_weight=0, canary_hash="n", stable_hash="o"),
        router.set_weight(ctx, canary_weight=50, canary_hash="n", stable_hash="o"),
    ):
        with pytest.raises(ForeignObjectError) as err:
            await attempt
        message = str(err.value)
        assert f"Ingress {ctx.namespace}/web-web-canary already exists" in message
        assert "no ownerReferences" in message
        assert f"not by Rollout {ctx.namespace}/web" in message
        assert "Delete or rename that Ingress" in message
        assert err.value.reason == "TrafficRouterObjectNotOwned"
    with pytest.raises(ForeignObjectError):
        await router.read_weight(ctx)
    await router.cleanup(ctx)  # leaves it alone

    after = kubectl_json(kubectl, "get", "ingress", "web-web-canary")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"]
    assert after["metadata"]["annotations"] == {"team": "someone-else"}


async def test_missing_stable_ingress_or_stable_rule_is_a_clear_error(
    kubectl: Kubectl, make_context: MakeContext
) -> None:
    ctx = await make_context(nginx_routing())
    router = NginxRouter()
    with pytest.raises(RouterObjectMissingError) as err:
        await router.set_weight(ctx, canary_weight=0, canary_hash="n", stable_hash="o")
    assert f"Ingress {ctx.namespace}/web does not exist" in str(err.value)
    assert "trafficRouting.nginx.stableIngress" in str(err.value)

    make_stable(kubectl, rules=[{"host": "web.example.com", "http": {"paths": [path("someone-else")]}}])
    with pytest.raises(InvalidRoutingError, match=r"backend\.service\.name 'web-stable'"):
        await router.set_weight(ctx, canary_weight=10, canary_hash="n", stable_hash="o")
    assert kubectl("get", "ingress", "web-web-canary", check=False).returncode != 0, "nothing was created"


async def test_the_canary_ingress_goes_away_with_its_rollout(
    kubectl: Kubectl, make_context: MakeContext, client: KubeClient
) -> None:
    make_stable(kubectl)
    ctx = await make_context(nginx_routing())
    await NginxRouter().set_weight(ctx, canary_weight=0, canary_hash="n", stable_hash="o")
    kubectl("delete", "rollout.rollouts.dev", "web")

    def gone() -> bool:
        return kubectl("get", "ingress", "web-web-canary", check=False).returncode != 0

    eventually(gone, timeout=60, what="the garbage collector to delete the canary Ingress")
    assert kubectl("get", "ingress", "web").returncode == 0, "the stable Ingress is the user's: kept"
