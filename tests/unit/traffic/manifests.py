"""Manifests the traffic tests share: Rollouts with NGINX or Istio routing and the user's router objects.

Plain dicts, shaped as a user writes them, so the same builders feed the pure unit tests and the
objects the integration tests create on the real API server.
"""

from __future__ import annotations

import copy
from typing import Any

from rollouts.api import Rollout, parse_rollout


def rollout(routing: dict[str, Any], **kw: Any) -> Rollout:
    return parse_rollout(rollout_manifest(routing, **kw))


def rollout_manifest(
    routing: dict[str, Any],
    *,
    name: str = "web",
    namespace: str | None = "ns",
    uid: str | None = "uid-web",
    stable_service: str | None = "web-stable",
    canary_service: str | None = "web-canary",
) -> dict[str, Any]:
    """A Rollout as a user writes it; ``uid=None``/``namespace=None`` for one to create on a server."""
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if uid:
        metadata["uid"] = uid
    canary: dict[str, Any] = {"trafficRouting": routing, "steps": [{"setWeight": 20}]}
    if stable_service:
        canary["stableService"] = stable_service
    if canary_service:
        canary["canaryService"] = canary_service
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": metadata,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
            "strategy": {"canary": canary},
        },
    }


def nginx_rollout(**nginx: Any) -> Rollout:
    return rollout(nginx_routing(**nginx))


def nginx_routing(**nginx: Any) -> dict[str, Any]:
    return {"nginx": {"stableIngress": "web", **nginx}}


def istio_rollout(*, routes: list[str] | None = None, subsets: bool = False, **kw: Any) -> Rollout:
    return rollout(istio_routing(routes=routes, subsets=subsets), **kw)


def istio_routing(*, routes: list[str] | None = None, subsets: bool = False) -> dict[str, Any]:
    vs: dict[str, Any] = {"name": "web-vs"}
    if routes is not None:
        vs["routes"] = routes
    istio: dict[str, Any] = {"virtualService": vs}
    if subsets:
        istio["destinationRule"] = {
            "name": "web-dr",
            "canarySubsetName": "canary",
            "stableSubsetName": "stable",
        }
    return {"istio": istio}


def path(service: str, prefix: str = "/", port: int = 80) -> dict[str, Any]:
    return {
        "path": prefix,
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": port}}},
    }


def stable_ingress(*, name: str = "web", namespace: str = "ns", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ingressClassName": "nginx",
        "rules": [{"host": "web.example.com", "http": {"paths": [path("web-stable")]}}],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**base, **spec},
    }


def dest(host: str, weight: int | None = None, subset: str | None = None) -> dict[str, Any]:
    destination: dict[str, Any] = {"host": host}
    if subset:
        destination["subset"] = subset
    out: dict[str, Any] = {"destination": destination}
    if weight is not None:
        out["weight"] = weight
    return out


def virtual_service(*routes: dict[str, Any], name: str = "web-vs", namespace: str = "ns") -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hosts": ["web.example.com"], "http": [copy.deepcopy(r) for r in routes]},
    }


def http_route(name: str | None, *dests: dict[str, Any], **extra: Any) -> dict[str, Any]:
    route: dict[str, Any] = {"route": list(dests), **extra}
    if name is not None:
        route["name"] = name
    return route


def destination_rule(*subsets: dict[str, Any], name: str = "web-dr", namespace: str = "ns") -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"host": "web", "subsets": list(subsets)},
    }
