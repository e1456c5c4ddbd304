"""setHeaderRoute and setMirrorRoute on the real control plane, through NGINX and Istio.

The routes appear only once the canary's pods are Ready, survive a GitOps re-apply of the user's
VirtualService (the controller writes them again), and are gone when the Rollout is promoted or
aborted; the user's own routes and annotations are never touched.
"""

from __future__ import annotations

import json
from typing import Any

from tests.integration.controller import scenario as sc
from tests.integration.controller.test_routing import NGINX, _canary_annotations, _ingress
from tests.support import Kubectl, eventually, kubectl_json

BETA = {"name": "beta", "match": [{"headerName": "X-Beta", "headerValue": {"exact": "yes"}}]}
COPY = {"name": "copy", "percentage": 35, "match": [{"method": {"exact": "GET"}, "path": {"prefix": "/api"}}]}


def _virtual_service() -> dict[str, Any]:
    route = [
        {"destination": {"host": "web-stable"}, "weight": 100},
        {"destination": {"host": "web-canary"}, "weight": 0},
    ]
    admin = [{"destination": {"host": "admin"}, "weight": 100}]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "web-vs"},
        "spec": {
            "hosts": ["web"],
            "http": [{"name": "primary", "route": route}, {"name": "admin", "route": admin}],
        },
    }


def _rollout(routing: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": routing,
            "steps": steps,
            "scaleDownDelaySeconds": 2,
        }
    }
    return sc.rollout("web", strategy=strategy, replicas=2)


def _http(kubectl: Kubectl) -> list[dict[str, Any]]:
    http: list[dict[str, Any]] = kubectl_json(kubectl, "get", "virtualservice", "web-vs")["spec"]["http"]
    return http


def _names(kubectl: Kubectl) -> list[str]:
    return [route.get("name", "") for route in _http(kubectl)]


def test_istio_header_and_mirror_routes_come_with_their_steps_and_go_at_promotion(
    controller: Any, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"), _virtual_service())
    routing = {
        "managedRoutes": [{"name": "beta"}, {"name": "copy"}],
        "istio": {"virtualService": {"name": "web-vs", "routes": ["primary"]}},
    }
    steps = [
        {"setCanaryScale": {"replicas": 1}},
        {"setHeaderRoute": BETA},
        {"setMirrorRoute": COPY},
        {"pause": {}},
        {"setHeaderRoute": {"name": "beta"}},
        {"setWeight": 50},
        {"pause": {}},
    ]
    sc.apply(kubectl, _rollout(routing, steps))
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    assert _names(kubectl) == ["primary", "admin"]

    sc.set_image(kubectl, "web", "v2")
    paused = sc.wait_status(kubectl, "web", "paused at step 3", lambda st: st.get("currentStepIndex") == 3)
    v2 = paused["currentPodHash"]
    rs = sc.replica_sets(kubectl, "web")
    assert rs[v2]["available"] == 1 and sc.selector_hash(kubectl, "web-canary") == v2
    http = _http(kubectl)
    assert [r.get("name") for r in http] == ["beta", "copy", "primary", "admin"]
    assert http[0]["match"] == [{"headers": {"x-beta": {"exact": "yes"}}}]
    assert http[0]["route"] == [{"destination": {"host": "web-canary"}, "weight": 100}]
    assert http[1]["mirror"] == {"host": "web-canary"} and http[1]["mirrorPercentage"] == {"value": 35}
    assert http[1]["route"] == http[2]["route"]
    assert http[3] == _virtual_service()["spec"]["http"][1]  # the user's other route as it was
    # One Event per reason a pass: the two route steps of one pass share it, each told.
    told = [m for r, m in sc.events(kubectl, "web") if r == "TrafficRoutesUpdated"]
    assert sum(m.count("Managed routes:") for m in told) == 2, told

    # A GitOps agent re-applies the VirtualService from Git: the http list is replaced whole.
    sc.apply(kubectl, _virtual_service())
    eventually(lambda: _names(kubectl) == ["beta", "copy", "primary", "admin"], what="routes written again")

    sc.promote(kubectl, "web")
    sc.wait_status(kubectl, "web", "paused at step 6", lambda st: st.get("currentStepIndex") == 6)
    http = _http(kubectl)
    assert [r.get("name") for r in http] == ["copy", "primary", "admin"]
    assert [d["weight"] for d in http[0]["route"]] == [50, 50] == [d["weight"] for d in http[1]["route"]]

    sc.promote(kubectl, "web")
    sc.wait_healthy(kubectl, "web", v2)
    eventually(lambda: _names(kubectl) == ["primary", "admin"], what="the managed routes removed")
    assert v1 != v2


def test_nginx_header_and_cookie_route_is_annotated_and_removed_by_an_abort(
    controller: Any, kubectl: Kubectl
) -> None:
    sc.apply(
        kubectl,
        sc.service("web-stable", "web"),
        sc.service("web-canary", "web"),
        _ingress("web", "web-stable"),
    )
    match = [{"headerName": "X-Beta", "headerValue": {"prefix": "v2."}}, {"cookie": "beta"}]
    routing = {
        "managedRoutes": [{"name": "beta"}],
        "nginx": {"stableIngress": "web"},
    }
    routing["nginx"]["additionalIngressAnnotations"] = {"upstream-hash-by": "$remote_addr"}
    steps = [
        {"setCanaryScale": {"replicas": 1}},
        {"setHeaderRoute": {"name": "beta", "match": match}},
        {"pause": {}},
    ]
    sc.apply(kubectl, _rollout(routing, steps))
    sc.wait_healthy(kubectl, "web")
    sc.set_image(kubectl, "web", "v2")
    sc.wait_status(kubectl, "web", "paused at the header route", lambda st: st.get("phase") == "Paused")
    notes = _canary_annotations(kubectl)
    assert notes[f"{NGINX}/canary-weight"] == "0"
    assert notes[f"{NGINX}/canary-by-header"] == "x-beta"
    assert notes[f"{NGINX}/canary-by-header-pattern"] == r"^v2\."
    assert notes[f"{NGINX}/canary-by-cookie"] == "beta"
    assert notes[f"{NGINX}/upstream-hash-by"] == "$remote_addr"
    assert json.loads(notes["rollouts.dev/managed-routes"])[0]["name"] == "beta"

    sc.abort(kubectl, "web")
    eventually(
        lambda: not any(k.startswith(f"{NGINX}/canary-by-") for k in _canary_annotations(kubectl)),
        what="the header route removed by the abort",
    )
    notes = _canary_annotations(kubectl)
    assert "rollouts.dev/managed-routes" not in notes and notes[f"{NGINX}/upstream-hash-by"] == "$remote_addr"
