"""The API client over a mock transport: URLs, verbs, content types, and errors by class."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from rollouts.kube import (
    AlreadyExists,
    ClusterConfig,
    Conflict,
    Forbidden,
    Gone,
    KubeClient,
    NotFound,
    Unavailable,
)

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> KubeClient:
    config = ClusterConfig(server="https://api.test", ssl_context=False, token="t0ken")
    return KubeClient(config, transport=httpx.MockTransport(handler))


def status(code: int, reason: str, message: str) -> httpx.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }
    return httpx.Response(code, json=body)


async def test_get_builds_the_namespaced_url_and_sends_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"kind": "Ingress", "metadata": {"name": "web"}})

    async with client(handler) as kube:
        obj = await kube.get("networking.k8s.io/v1", "Ingress", namespace="shop", name="web")
    assert obj["metadata"]["name"] == "web"
    assert seen[0].url.path == "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web"
    assert seen[0].headers["Authorization"] == "Bearer t0ken"


@pytest.mark.parametrize(
    ("code", "reason", "error"),
    [
        (404, "NotFound", NotFound),
        (409, "Conflict", Conflict),
        (409, "AlreadyExists", AlreadyExists),
        (403, "Forbidden", Forbidden),
        (503, "ServiceUnavailable", Unavailable),
        (429, "TooManyRequests", Unavailable),
    ],
)
async def test_failures_raise_the_error_class_and_name_the_object(
    code: int, reason: str, error: type[Exception]
) -> None:
    async with client(lambda _: status(code, reason, "server says no")) as kube:
        with pytest.raises(error) as caught:
            await kube.get("v1", "Service", namespace="shop", name="web-stable")
    assert "Service shop/web-stable" in str(caught.value) and "server says no" in str(caught.value)


async def test_get_or_none_turns_not_found_into_none() -> None:
    async with client(lambda _: status(404, "NotFound", "nope")) as kube:
        assert await kube.get_or_none("v1", "Service", namespace="a", name="b") is None


async def test_unreachable_server_is_unavailable_and_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with client(handler) as kube:
        with pytest.raises(Unavailable) as caught:
            await kube.get("v1", "Pod", namespace="a", name="p")
    assert caught.value.retryable and "unreachable" in str(caught.value)


async def test_server_side_apply_uses_the_field_manager_and_apply_content_type() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=json.loads(request.content))

    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"selector": {"a": "b"}},
    }
    async with client(handler) as kube:
        await kube.apply(svc, force=True)
    request = seen[0]
    assert request.method == "PATCH" and request.url.path == "/api/v1/namespaces/n/services/s"
    assert request.headers["Content-Type"] == "application/apply-patch+yaml"
    assert request.url.params["fieldManager"] == "kube-rollouts" and request.url.params["force"] == "true"


async def test_list_items_become_whole_objects_with_the_collection_version() -> None:
    body = {"metadata": {"resourceVersion": "42"}, "items": [{"metadata": {"name": "a"}}]}
    async with client(lambda _: httpx.Response(200, json=body)) as kube:
        listing = await kube.list("apps/v1", "ReplicaSet", namespace="n", label_selector="x")
    assert listing.resource_version == "42"
    assert listing.items == [{"metadata": {"name": "a"}, "apiVersion": "apps/v1", "kind": "ReplicaSet"}]


async def test_unknown_kinds_are_found_through_discovery_once() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/apis/example.com/v1":
            return httpx.Response(
                200,
                json={
                    "resources": [
                        {"name": "widgets", "kind": "Widget", "namespaced": True},
                        {"name": "widgets/status", "kind": "Widget"},
                    ]
                },
            )
        return httpx.Response(200, json={"metadata": {"name": "w"}})

    async with client(handler) as kube:
        await kube.get("example.com/v1", "Widget", namespace="n", name="w")
        await kube.get("example.com/v1", "Widget", namespace="n", name="w")
    assert calls == [
        "/apis/example.com/v1",
        "/apis/example.com/v1/namespaces/n/widgets/w",
        "/apis/example.com/v1/namespaces/n/widgets/w",
    ]


async def test_a_kind_the_server_does_not_serve_says_to_install_its_crd() -> None:
    async with client(lambda _: status(404, "NotFound", "")) as kube:
        with pytest.raises(NotFound, match="CRD"):
            await kube.get("example.com/v1", "Widget", namespace="n", name="w")


async def test_watch_streams_events_and_reports_gone() -> None:
    lines = [
        {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "5"}}},
        {
            "type": "ERROR",
            "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
        },
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    async with client(lambda _: httpx.Response(200, content=body.encode())) as kube:
        seen = []
        with pytest.raises(Gone):
            async for event in kube.watch("v1", "Service", namespace="n", resource_version="1"):
                seen.append((event.type, event.object["metadata"]["name"]))
    assert seen == [("ADDED", "a")]
