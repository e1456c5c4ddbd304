"""Manifests of the delivery scenarios: an app behind an NGINX Ingress, success-rate templates
shaped like examples/analysis-template-success-rate.yaml (with short intervals and a 10 s window),
and canary or blue-green Rollouts that use them.

ingress-nginx labels a canary's requests with the STABLE Ingress's name and a non-empty ``canary``
label; the simulator does the same, so the canary query selects ``ingress=<stable>, canary!=""``.
A blue-green preview is reached through its own Ingress, so its query selects that Ingress.
"""

from __future__ import annotations

from typing import Any

from tests.integration.controller import scenario as sc

WINDOW = "10s"
GOOD = "v2"
BAD = "v2-bad"  # the simulator fails 30 % of the requests of an image whose tag contains "bad"


def ingress(name: str, service: str) -> dict[str, Any]:
    backend = {"service": {"name": service, "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": f"{name}.example.com", "http": {"paths": [path]}}],
        },
    }


def success_rate_query(*, canary_only: bool, window: str = WINDOW) -> str:
    """Share of non-5xx requests over ``window`` on Ingress ``{{args.ingress}}``."""
    canary = ', canary!=""' if canary_only else ""
    selector = f'namespace="{{{{args.namespace}}}}", ingress="{{{{args.ingress}}}}"{canary}'
    return (
        f'sum(rate(nginx_ingress_controller_requests{{{selector}, status!~"5.."}}[{window}]))\n'
        f"/\nsum(rate(nginx_ingress_controller_requests{{{selector}}}[{window}]))"
    )


def success_rate_metric(
    name: str = "success-rate",
    *,
    canary_only: bool = True,
    interval: str = "1s",
    count: int | None = 3,
    success: str = "result[0] >= 0.95",
    failure: str | None = "result[0] < 0.95",
    address: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    prometheus: dict[str, Any] = {"query": success_rate_query(canary_only=canary_only), "timeout": 5}
    if address is not None:
        prometheus["address"] = address
    metric: dict[str, Any] = {
        "name": name,
        "interval": interval,
        "successCondition": success,
        # Until Prometheus has scraped the canary's first requests the query has no data (an
        # Error measurement); on a loaded machine that can take a few seconds.
        "consecutiveErrorLimit": 8,
        "provider": {"prometheus": prometheus},
        **fields,
    }
    if count is not None:
        metric["count"] = count
    if failure is not None:
        metric["failureCondition"] = failure
    return metric


def template(
    name: str, *metrics: dict[str, Any], args: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    template_args = [{"name": "namespace"}, {"name": "ingress"}, *(args or [])]
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {"args": template_args, "metrics": list(metrics), **spec},
    }


def analysis(template_name: str, *, ingress_name: str = "web", **fields: Any) -> dict[str, Any]:
    """A Rollout's reference to ``template_name`` with the namespace and Ingress as args."""
    return {
        "templates": [{"templateName": template_name}],
        "args": [
            {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "ingress", "value": ingress_name},
        ],
        **fields,
    }


def nginx_app() -> list[dict[str, Any]]:
    """Services ``web-stable`` and ``web-canary`` and the stable Ingress ``web``."""
    return [sc.service("web-stable", "web"), sc.service("web-canary", "web"), ingress("web", "web-stable")]


def canary_rollout(steps: list[dict[str, Any]], **canary: Any) -> dict[str, Any]:
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": {"nginx": {"stableIngress": "web"}},
            "steps": steps,
            **canary,
        }
    }
    return sc.rollout("web", strategy=strategy, replicas=2)


def bluegreen_app() -> list[dict[str, Any]]:
    """Services ``web-active`` and ``web-preview``, each behind its own Ingress of the same name."""
    return [
        sc.service("web-active", "web"),
        sc.service("web-preview", "web"),
        ingress("web-active", "web-active"),
        ingress("web-preview", "web-preview"),
    ]


def bluegreen_rollout(**blue_green: Any) -> dict[str, Any]:
    strategy = {"blueGreen": {"activeService": "web-active", "previewService": "web-preview", **blue_green}}
    return sc.rollout("web", strategy=strategy, replicas=2)
