"""The Istio router on a real API server: weights in the managed routes, and nothing else touched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollouts.kube import KubeClient, KubeObject
from rollouts.traffic import InvalidRoutingError, IstioRouter, RouterContext, RouterObjectMissingError
from tests.integration.traffic.conftest import MakeContext, create
from tests.support import Kubectl, kubectl_json
from tests.unit.traffic.manifests import dest, destination_rule, http_route, istio_routing, virtual_service

UNMANAGED_ROUTE = http_route(
    "admin",
    dest("web-stable", 50),
    dest("web-canary", 50),
    match=[{"uri": {"prefix": "/admin"}}],
    timeout="3s",
)


def make(kubectl: Kubectl, obj: dict[str, Any]) -> dict[str, Any]:
    del obj["metadata"]["namespace"]  # kubectl puts it in the test's namespace
    return create(kubectl, obj)


def raw_route(kubectl: Kubectl, index: int) -> str:
    """One http route exactly as the API server serves it (key order included)."""
    out = kubectl("get", "virtualservice", "web-vs", "-o", f"jsonpath={{.spec.http[{index}]}}").stdout
    assert out, f"no http route #{index}"
    return out


def route_weights(kubectl: Kubectl, index: int) -> list[tuple[str, str | None, int | None]]:
    vs = kubectl_json(kubectl, "get", "virtualservice", "web-vs")
    return [
        (d["destination"]["host"], d["destination"].get("subset"), d.get("weight"))
        for d in vs["spec"]["http"][index]["route"]
    ]


async def test_host_level_weights_leave_unmanaged_routes_and_destinations_byte_for_byte(
    kubectl: Kubectl, make_context: MakeContext
) -> None:
    make(
        kubectl,
        virtual_service(
            UNMANAGED_ROUTE,
            http_route(
                "primary", dest("web-stable", 95), dest("web-canary", 0), dest("legacy", 5), timeout="10s"
            ),
        ),
    )
    admin_before = raw_route(kubectl, 0)
    legacy_before = kubectl("get", "vs", "web-vs", "-o", "jsonpath={.spec.http[1].route[2]}").stdout
    ctx = await make_context(istio_routing(routes=["primary"]))
    router = IstioRouter()
    assert await router.read_weight(ctx) == 0

    await router.set_weight(ctx, canary_weight=30, canary_hash="new", stable_hash="old")
    assert route_weights(kubectl, 1) == [
        ("web-stable", None, 65),
        ("web-canary", None, 30),
        ("legacy", None, 5),
    ]
    assert await router.read_weight(ctx) == 30
    assert raw_route(kubectl, 0) == admin_before
    assert kubectl("get", "vs", "web-vs", "-o", "jsonpath={.spec.http[1].route[2]}").stdout == legacy_before
    vs = kubectl_json(kubectl, "get", "vs", "web-vs", "--show-managed-fields")
    assert vs["spec"]["http"][1]["timeout"] == "10s"
    managers = {(m["manager"], m["operation"]) for m in vs["metadata"]["managedFields"]}
    assert ("kube-rollouts", "Update") in managers, (
        f"a GitOps diff must see who wrote the weights: {managers}"
    )

    await router.cleanup(ctx)
    assert route_weights(kubectl, 1) == [
        ("web-stable", None, 95),
        ("web-canary", None, 0),
        ("legacy", None, 5),
    ]
    assert raw_route(kubectl, 0) == admin_before


async def test_subset_level_labels_subsets_then_weights(kubectl: Kubectl, make_context: MakeContext) -> None:
    make(
        kubectl,
        virtual_service(
            UNMANAGED_ROUTE,
            http_route("primary", dest("web", 100, "stable"), dest("web", 0, "canary")),
        ),
    )
    make(
        kubectl,
        destination_rule(
            {"name": "stable", "labels": {"app": "web"}},
            {"name": "canary", "labels": {"app": "web"}},
            {"name": "debug", "labels": {"app": "web", "track": "debug"}},
        ),
    )
    admin_before = raw_route(kubectl, 0)
    ctx = await make_context(istio_routing(routes=["primary"], subsets=True))
    router = IstioRouter()
    await router.set_weight(ctx, canary_weight=25, canary_hash="abc123", stable_hash="def456")
    dr = kubectl_json(kubectl, "get", "destinationrule", "web-dr")
    assert dr["spec"]["subsets"] == [
        {"name": "stable", "labels": {"app": "web", "rollouts-pod-template-hash": "def456"}},
        {"name": "canary", "labels": {"app": "web", "rollouts-pod-template-hash": "abc123"}},
        {"name": "debug", "labels": {"app": "web", "track": "debug"}},
    ]
    assert route_weights(kubectl, 1) == [("web", "stable", 75), ("web", "canary", 25)]
    assert await router.read_weight(ctx) == 25
    assert raw_route(kubectl, 0) == admin_before

    # Promotion: the canary becomes stable; both subsets follow the new revision.
    await router.set_weight(ctx, canary_weight=0, canary_hash="abc123", stable_hash="abc123")
    dr = kubectl_json(kubectl, "get", "destinationrule", "web-dr")
    assert [s["labels"].get("rollouts-pod-template-hash") for s in dr["spec"]["subsets"]] == [
        "abc123",
        "abc123",
        None,
    ]
    assert route_weights(kubectl, 1) == [("web", "stable", 100), ("web", "canary", 0)]


async def test_missing_virtual_service_route_or_subset_is_a_clear_error(
    kubectl: Kubectl, make_context: MakeContext
) -> None:
    ctx = await make_context(istio_routing(routes=["primary"], subsets=True))
    router = IstioRouter()
    for call in (
        router.set_weight(ctx, canary_weight=0, canary_hash="n", stable_hash="o"),
        router.read_weight(ctx),
    ):
        with pytest.raises(RouterObjectMissingError) as err:
            await call
        assert f"VirtualService {ctx.namespace}/web-vs does not exist" in str(err.value)
        assert "trafficRouting.istio.virtualService.name" in str(err.value)
    await router.cleanup(ctx)  # nothing to clean up: fine

    make(kubectl, virtual_service(http_route("main", dest("web", 100, "stable"), dest("web", 0, "canary"))))
    with pytest.raises(InvalidRoutingError, match=r"no http route named 'primary'.*\['main'\]"):
        await router.set_weight(ctx, canary_weight=0, canary_hash="n", stable_hash="o")

    kubectl("delete", "vs", "web-vs")
    make(
        kubectl, virtual_service(http_route("primary", dest("web", 100, "stable"), dest("web", 0, "canary")))
    )
    with pytest.raises(
        RouterObjectMissingError, match=f"DestinationRule {ctx.namespace}/web-dr does not exist"
    ):
        await router.set_weight(ctx, canary_weight=10, canary_hash="a", stable_hash="b")
    assert route_weights(kubectl, 0) == [("web", "stable", 100), ("web", "canary", 0)], (
        "no weight without subsets"
    )


INSERTED_ROUTE = http_route("beta", dest("web-beta", 100), match=[{"headers": {"x-beta": {"exact": "1"}}}])


class ConcurrentEdit(KubeClient):
    """A real client that lets another writer (the real kubectl) change the object just before its patch."""

    def __init__(self, base: KubeClient, kubectl: Kubectl) -> None:
        super().__init__(base.config)
        self.kubectl = kubectl
        self.conflicts_left = 1

    async def patch(self, *args: Any, **kwargs: Any) -> KubeObject:
        if self.conflicts_left:
            self.conflicts_left -= 1
            # Insert a route in front: list indexes computed before this edit now point one route off.
            edit = [{"op": "add", "path": "/spec/http/0", "value": INSERTED_ROUTE}]
            self.kubectl("patch", "vs", "web-vs", "--type=json", "-p", json.dumps(edit))
        return await super().patch(*args, **kwargs)


async def test_a_concurrent_edit_is_kept_and_the_weight_still_lands(
    kubectl: Kubectl, make_context: MakeContext, client: KubeClient
) -> None:
    make(
        kubectl,
        virtual_service(
            UNMANAGED_ROUTE, http_route("primary", dest("web-stable", 100), dest("web-canary", 0))
        ),
    )
    ctx = await make_context(istio_routing(routes=["primary"]))
    racing = ConcurrentEdit(client, kubectl)
    try:
        await IstioRouter().set_weight(
            RouterContext(rollout=ctx.rollout, client=racing),
            canary_weight=10,
            canary_hash="n",
            stable_hash="o",
        )
    finally:
        await racing.close()
    assert racing.conflicts_left == 0
    http = kubectl_json(kubectl, "get", "vs", "web-vs")["spec"]["http"]
    assert [r["name"] for r in http] == ["beta", "admin", "primary"], "the other writer's route survives"
    assert http[0] == INSERTED_ROUTE
    assert http[1] == UNMANAGED_ROUTE, "a stale index must not land the weights on the wrong route"
    assert route_weights(kubectl, 2) == [("web-stable", None, 90), ("web-canary", None, 10)]
