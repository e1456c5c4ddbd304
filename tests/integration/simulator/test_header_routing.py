"""Header and mirror routes in the traffic simulator, against the real cluster and the real Prometheus.

Objects are made by hand, as the controller leaves them at a `setHeaderRoute` / `setMirrorRoute` step
(no controller runs here): a canary Ingress at weight 0 that takes requests with `X-Beta: yes`, and a
VirtualService with a header route and a mirror route above the primary one, whose weights keep
everything on the stable Service. The simulator sends plain requests plus two tagged classes; PromQL
over what Prometheus scraped shows that only the tagged requests reach the canary.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from e2e.cluster import Cluster
from e2e.simulator import RequestClass, simulator
from tests.integration.simulator import manifests as m
from tests.integration.simulator.test_simulator import _promql, _ready_pods, _ten_seconds_scraped
from tests.support import Kubectl, eventually

STABLE, CANARY = "aaa111", "bbb222"
RATE = 50
# Plain requests take the 50 % the tagged classes leave: 25 req/s per router, beta 10, api 15.
BETA = RequestClass(share=0.2, name="beta", headers={"X-Beta": "yes"})
API = RequestClass(share=0.3, name="api", method="GET", path="/api/orders")
MIRROR_PERCENT = 35

CANARY_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web-canary
  annotations:
    nginx.ingress.kubernetes.io/canary: "true"
    nginx.ingress.kubernetes.io/canary-weight: "0"
    nginx.ingress.kubernetes.io/canary-by-header: x-beta
    nginx.ingress.kubernetes.io/canary-by-header-value: "yes"
spec:
  ingressClassName: nginx
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web-canary, port: {number: 80}}}
---
"""

VIRTUAL_SERVICE = f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web-vs}}
spec:
  hosts: [web]
  http:
  - name: beta
    match: [{{headers: {{x-beta: {{exact: "yes"}}}}}}]
    route: [{{destination: {{host: web-canary}}, weight: 100}}]
  - name: copy
    match: [{{method: {{exact: GET}}, uri: {{prefix: /api}}}}]
    route:
    - {{destination: {{host: web-stable}}, weight: 100}}
    - {{destination: {{host: web-canary}}, weight: 0}}
    mirror: {{host: web-canary}}
    mirrorPercentage: {{value: {MIRROR_PERCENT}}}
  - name: primary
    route:
    - {{destination: {{host: web-stable}}, weight: 100}}
    - {{destination: {{host: web-canary}}, weight: 0}}
---
"""


def _shares(cluster: Cluster, series: str, *, of: str) -> dict[str, float]:
    """Each request class's share ("" for plain requests) of `series` in all requests `of` a router,
    over the last 10 s: shares, not rates, so the start of the series within the window cancels out."""
    query = f"sum by (request_class) (rate({series}[10s])) / scalar(sum(rate({of}[10s])))"
    resp = httpx.get(f"{cluster.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
    resp.raise_for_status()
    result: list[dict[str, Any]] = resp.json()["data"]["result"]
    return {r["metric"].get("request_class", ""): float(r["value"][1]) for r in result}


def _about(seen: dict[str, float], expected: dict[str, float], what: str) -> None:
    """The same classes, each share within 0.03 of the expected one."""
    assert set(seen) == set(expected), f"{what}: classes {seen}, expected {expected}"
    for name, want in expected.items():
        assert abs(seen[name] - want) <= 0.03, f"{what}: {seen}, expected ~{expected}"


@pytest.fixture
def header_routes(kubectl: Kubectl, rollout_crds: None) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        stdin="".join(
            [
                m.replica_set(
                    app="web", pod_hash=STABLE, image="example.com/web:1.0", replicas=3, version="v1"
                ),
                m.replica_set(
                    app="web", pod_hash=CANARY, image="example.com/web:2.0", replicas=1, version="v2"
                ),
                m.service(name="web-stable", selector={"app": "web", "rollouts-pod-template-hash": STABLE}),
                m.service(name="web-canary", selector={"app": "web", "rollouts-pod-template-hash": CANARY}),
                m.ingress(name="web", service_name="web-stable", host="web.example.com"),
                CANARY_INGRESS,
                VIRTUAL_SERVICE,
            ]
        ),
    )
    _ready_pods(kubectl, 4)


def test_only_tagged_requests_reach_the_canary_through_header_and_mirror_routes(
    cluster: Cluster, namespace: str, kubectl: Kubectl, header_routes: None
) -> None:
    nginx = f'nginx_ingress_controller_requests{{namespace="{namespace}", ingress="web"'
    istio = f'istio_requests_total{{destination_workload_namespace="{namespace}"'
    nginx_all, callers = f"{nginx}}}", f'{istio}, reporter="source"}}'
    # Shares of each router's requests: plain requests take what the tagged classes leave.
    plain, beta, api = 1 - BETA.share - API.share, BETA.share, API.share
    mirrored = api * MIRROR_PERCENT / 100
    with simulator(cluster, namespaces=[namespace], rate=RATE, request_classes=[BETA, API]) as sim:
        _ten_seconds_scraped(cluster, sim)

        def routed() -> bool:
            total = _promql(cluster, f"sum(rate({nginx_all}[10s]))")
            assert total is not None and abs(total - RATE) <= 5, f"{total} req/s through the Ingress"
            # NGINX at weight 0: the header sends beta to the canary; plain and api stay stable.
            seen = _shares(cluster, f'{nginx}, canary!=""}}', of=nginx_all)
            _about(seen, {"beta": beta}, "nginx canary")
            seen = _shares(cluster, f'{nginx}, canary=""}}', of=nginx_all)
            _about(seen, {"": plain, "api": api}, "nginx stable")
            # Istio: beta takes the header route; api is answered by the stable pods (the callers
            # see no canary) and 35 % of it is shadowed to the canary, whose pods report it.
            canary = f'{istio}, destination_service_name="web-canary"'
            stable = f'{istio}, destination_service_name="web-stable"'
            seen = _shares(cluster, f'{canary}, reporter="source"}}', of=callers)
            _about(seen, {"beta": beta}, "istio canary, callers")
            seen = _shares(cluster, f'{canary}, reporter="destination"}}', of=callers)
            _about(seen, {"beta": beta, "api": mirrored}, "istio canary, pods")
            for reporter in ("source", "destination"):
                seen = _shares(cluster, f'{stable}, reporter="{reporter}"}}', of=callers)
                _about(seen, {"": plain, "api": api}, f"istio stable, {reporter}")
            return True

        eventually(routed, timeout=30, interval=1, what="only tagged requests at the canary, in Prometheus")

        # The header route goes (as at promotion): beta falls to the weight of 0, nothing tagged or
        # plain reaches the NGINX canary any more.
        by_header = "nginx.ingress.kubernetes.io/canary-by-header"
        kubectl("annotate", "ingress", "web-canary", f"{by_header}-", f"{by_header}-value-")

        def gone() -> bool:
            rate = _promql(cluster, f'sum(rate({nginx}, canary!=""}}[3s]))')
            assert rate is not None and rate == 0, f"the NGINX canary still gets {rate} req/s"
            return True

        eventually(gone, timeout=30, interval=1, what="no request at the NGINX canary without its header")
