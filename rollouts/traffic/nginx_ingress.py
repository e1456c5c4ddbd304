"""The NGINX canary Ingress as a pure function of the stable Ingress, the Rollout and a weight.

ingress-nginx splits traffic with a second Ingress for the same host and path, marked
``<prefix>/canary: "true"`` and weighted by ``<prefix>/canary-weight``. The controller derives that
canary Ingress from the user's stable Ingress on every write, so an edit to the stable Ingress (a new
host, a TLS secret) reaches the canary on the next reconcile:

- name ``<rollout>-<stableIngress>-canary`` (shortened to fit the 253-character limit);
- only the paths whose backend is ``stableService``, pointed at ``canaryService`` (same port); a rule
  left with no such path is dropped. Argo Rollouts keeps the other paths of a kept rule too; we drop
  them, because a canary Ingress for another Service's path would only split that Service with itself;
- ``tls`` and ``ingressClassName`` copied, and the legacy ``kubernetes.io/ingress.class`` annotation
  (ingress-nginx ignores a canary Ingress of another class);
- ``additionalIngressAnnotations`` with the prefix added when missing, then ``canary``,
  ``canary-weight`` and (with ``maxTrafficWeight``) ``canary-weight-total`` last, so the user
  cannot override what the router depends on; without ``maxTrafficWeight`` a
  ``canary-weight-total`` there is dropped (the weight would count out of the wrong total);
- a controller ownerReference to the Rollout (garbage-collected with it, never confused with an
  Ingress somebody else made);
- the header route in force (``setHeaderRoute``), as ingress-nginx's ``canary-by-header`` with
  ``canary-by-header-value`` (exact) or ``canary-by-header-pattern`` (regex; a prefix becomes
  ``^`` and the escaped prefix), and ``canary-by-cookie``, plus the route itself as JSON in
  ``rollouts.dev/managed-routes`` so it reads back exactly as the step wrote it. ingress-nginx
  decides each request by the header first, then the cookie, then the weight: a request that
  meets the header or cookie condition goes to the canary whatever the weight; a header with
  another value, or a cookie other than ``always``, falls through to the weight (a cookie
  ``never`` keeps the request on stable).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from rollouts.api import ManagedRoute, NginxTrafficRouting, Rollout, SetHeaderRoute
from rollouts.api.traffic_routing import DEFAULT_TRAFFIC_WEIGHT
from rollouts.traffic.owners import owner_reference
from rollouts.traffic.router import FileObjects, InvalidRoutingError, LintProblem, at, check_weight, items

__all__ = [
    "INGRESS_API_VERSION",
    "MANAGED_ROUTES_ANNOTATION",
    "ROUTE_KEYS",
    "canary_backend_of",
    "canary_ingress_name",
    "canary_weight_of",
    "desired_canary_ingress",
    "header_annotations",
    "lint_stable_ingress",
    "nginx_routing",
    "routes_of",
    "weight_total",
]

INGRESS_API_VERSION = "networking.k8s.io/v1"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
MANAGED_ROUTES_ANNOTATION = "rollouts.dev/managed-routes"
ROUTE_KEYS = ("canary-by-header", "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie")
_MAX_NAME = 253
_SUFFIX = "-canary"


def nginx_routing(rollout: Rollout) -> tuple[NginxTrafficRouting, str, str]:
    """The Rollout's NGINX settings with its stable and canary Service names; an error names what is unset."""
    name = rollout.metadata.name
    canary = rollout.spec.strategy.canary
    routing = canary.traffic_routing.nginx if canary and canary.traffic_routing else None
    if canary is None or routing is None:
        raise InvalidRoutingError(
            f"Rollout {name}: spec.strategy.canary.trafficRouting.nginx is not set; the NGINX router "
            "needs it (or use the router the Rollout names)"
        )
    if not canary.stable_service or not canary.canary_service:
        raise InvalidRoutingError(
            f"Rollout {name}: NGINX traffic routing needs both spec.strategy.canary.stableService and "
            "spec.strategy.canary.canaryService; set them to the Services of the stable Ingress backend "
            "and of the canary"
        )
    return routing, canary.stable_service, canary.canary_service


def canary_ingress_name(rollout_name: str, stable_ingress: str) -> str:
    """``<rollout>-<stableIngress>-canary``, the front cut so the whole name stays within 253 chars."""
    base = f"{rollout_name}-{stable_ingress}"
    return base[: _MAX_NAME - len(_SUFFIX)] + _SUFFIX


def _canary_rules(stable: Mapping[str, Any], *, stable_service: str, canary_service: str) -> list[Any]:
    rules: list[Any] = []
    for rule in (stable.get("spec") or {}).get("rules") or []:
        paths = []
        for path in (rule.get("http") or {}).get("paths") or []:
            service = ((path.get("backend") or {}).get("service")) or {}
            if service.get("name") != stable_service:
                continue
            path = copy.deepcopy(path)
            path["backend"]["service"]["name"] = canary_service
            paths.append(path)
        if paths:
            kept = copy.deepcopy(dict(rule))
            kept["http"] = {**kept["http"], "paths": paths}
            rules.append(kept)
    return rules


def desired_canary_ingress(
    stable: Mapping[str, Any],
    *,
    rollout: Rollout,
    canary_weight: int,
    routes: Sequence[ManagedRoute] = (),
    backend: str | None = None,
) -> dict[str, Any]:
    """The canary Ingress the router writes for ``stable`` (the user's Ingress, as read) at a weight;
    its paths go to ``backend`` (a weighted experiment's traffic Service), else the canaryService.

    Raises :class:`InvalidRoutingError` when no path of ``stable`` routes to ``stableService``.
    """
    routing, stable_service, canary_service = nginx_routing(rollout)
    total = weight_total(rollout)
    check_weight(canary_weight, total=total)
    stable_meta = stable.get("metadata") or {}
    stable_name = str(stable_meta.get("name") or routing.stable_ingress)
    rules = _canary_rules(stable, stable_service=stable_service, canary_service=backend or canary_service)
    if not rules:
        raise InvalidRoutingError(
            f"Ingress {stable_meta.get('namespace')}/{stable_name} (spec.strategy.canary.trafficRouting."
            f"nginx.stableIngress of Rollout {rollout.metadata.name}) has no spec.rules[].http.paths[] with "
            f"backend.service.name {stable_service!r} (the stableService); add such a path to the Ingress "
            "or name the Ingress that routes to the stable Service"
        )
    prefix = routing.annotation_prefix
    annotations: dict[str, str] = {}
    legacy_class = (stable_meta.get("annotations") or {}).get(LEGACY_CLASS_ANNOTATION)
    if legacy_class is not None:
        annotations[LEGACY_CLASS_ANNOTATION] = legacy_class
    for key, value in (routing.additional_ingress_annotations or {}).items():
        annotations[key if key.startswith(f"{prefix}/") else f"{prefix}/{key}"] = value
    annotations[f"{prefix}/canary"] = "true"
    annotations[f"{prefix}/canary-weight"] = str(canary_weight)
    annotations.pop(f"{prefix}/canary-weight-total", None)
    if total != DEFAULT_TRAFFIC_WEIGHT:
        annotations[f"{prefix}/canary-weight-total"] = str(total)
    annotations.update(header_annotations(routes, prefix=prefix))

    spec: dict[str, Any] = {"rules": rules}
    stable_spec = stable.get("spec") or {}
    if stable_spec.get("ingressClassName") is not None:
        spec["ingressClassName"] = stable_spec["ingressClassName"]
    if stable_spec.get("tls"):
        spec["tls"] = copy.deepcopy(stable_spec["tls"])
    return {
        "apiVersion": INGRESS_API_VERSION,
        "kind": "Ingress",
        "metadata": {
            "name": canary_ingress_name(str(rollout.metadata.name), stable_name),
            "namespace": stable_meta.get("namespace") or rollout.metadata.namespace,
            "annotations": annotations,
            "ownerReferences": [owner_reference(rollout)],
        },
        "spec": spec,
    }


def header_annotations(routes: Sequence[ManagedRoute], *, prefix: str) -> dict[str, str]:
    """The canary-by-* annotations for the header route in force (the API allows one, with at
    most one header and one cookie condition), and the route as JSON; none for no route."""
    annotations: dict[str, str] = {}
    for route in routes:
        if not isinstance(route, SetHeaderRoute):
            raise InvalidRoutingError(f"mirror route {route.name!r}: ingress-nginx cannot mirror to a canary")
        for match in route.match or []:
            value = match.header_value
            if match.cookie is not None:
                annotations[f"{prefix}/canary-by-cookie"] = match.cookie
            elif match.header_name is not None and value is not None:
                annotations[f"{prefix}/canary-by-header"] = match.header_name
                if value.exact is not None:
                    annotations[f"{prefix}/canary-by-header-value"] = value.exact
                else:
                    pattern = value.regex if value.regex is not None else "^" + re.escape(value.prefix or "")
                    annotations[f"{prefix}/canary-by-header-pattern"] = pattern
    if routes:
        dumped = [route.model_dump(by_alias=True, exclude_none=True, mode="json") for route in routes]
        annotations[MANAGED_ROUTES_ANNOTATION] = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return annotations


def routes_of(ingress: Mapping[str, Any], *, prefix: str) -> tuple[ManagedRoute, ...] | None:
    """The header route a canary Ingress holds, as the step set it; ``None`` when its canary-by-*
    annotations are not what that route writes (edited by hand, or half written)."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(MANAGED_ROUTES_ANNOTATION)
    routes: tuple[ManagedRoute, ...] = ()
    if raw is not None:
        try:
            routes = tuple(SetHeaderRoute.model_validate(item) for item in json.loads(raw))
        except (ValueError, TypeError, ValidationError):
            return None
    held = {k: v for k, v in annotations.items() if k == MANAGED_ROUTES_ANNOTATION or _route_key(k, prefix)}
    return routes if held == header_annotations(routes, prefix=prefix) else None


def _route_key(key: str, prefix: str) -> bool:
    return key.removeprefix(f"{prefix}/") in ROUTE_KEYS and key.startswith(f"{prefix}/")


def weight_total(rollout: Rollout) -> int:
    """What the Rollout's weights count out of: ``maxTrafficWeight``, or 100."""
    canary = rollout.spec.strategy.canary
    return DEFAULT_TRAFFIC_WEIGHT if canary is None else canary.weight_total()


def canary_weight_of(
    ingress: Mapping[str, Any], *, annotation_prefix: str, total: int = DEFAULT_TRAFFIC_WEIGHT
) -> int | None:
    """The weight a canary Ingress holds out of ``total``: ``None`` unless it is marked canary with
    a weight from 0 to ``total`` and its ``canary-weight-total`` (100 when absent) is ``total``;
    a weight out of another total is not the weight the Rollout asked for."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if annotations.get(f"{annotation_prefix}/canary") != "true":
        return None
    if (
        _whole(annotations.get(f"{annotation_prefix}/canary-weight-total", str(DEFAULT_TRAFFIC_WEIGHT)))
        != total
    ):
        return None
    weight = _whole(annotations.get(f"{annotation_prefix}/canary-weight"))
    return weight if weight is not None and 0 <= weight <= total else None


def canary_backend_of(ingress: Mapping[str, Any]) -> str | None:
    """The Service a canary Ingress's paths go to (the first path's: the router writes one)."""
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            name = ((path.get("backend") or {}).get("service") or {}).get("name")
            if isinstance(name, str):
                return name
    return None


def _whole(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.strip().isdigit() else None


def _backends(ingress: Mapping[str, Any]) -> set[str]:
    """The Services an Ingress of a file routes to (any shape: it is the user's unchecked YAML)."""
    names = [at(ingress, "spec", "defaultBackend", "service", "name")]
    for rule in items(at(ingress, "spec", "rules")):
        names += [at(path, "backend", "service", "name") for path in items(at(rule, "http", "paths"))]
    return {name for name in names if isinstance(name, str)}


def lint_stable_ingress(rollout: Rollout, objects: FileObjects) -> list[LintProblem]:
    """Offline: does the stable Ingress in the file route to the Rollout's stableService?"""
    canary = rollout.spec.strategy.canary
    routing = canary.traffic_routing.nginx if canary and canary.traffic_routing else None
    if canary is None or routing is None:
        return []
    ingress = objects.find("Ingress", routing.stable_ingress)
    stable = canary.stable_service
    if ingress is None or not stable:
        return []
    if objects.has("Service") and objects.find("Service", stable) is None:
        return []  # the dangling stableService is reported on the Rollout; one report is enough
    if stable in _backends(ingress):
        return []
    return [
        LintProblem(
            kind="Ingress",
            name=routing.stable_ingress,
            path="spec.rules[].http.paths[].backend.service.name",
            message=f"no path routes to Service {stable!r}, the stableService of Rollout "
            f"{rollout.metadata.name}; point a path's backend at it (the canary Ingress is copied from "
            "this one with the backends swapped to canaryService)",
        )
    ]
