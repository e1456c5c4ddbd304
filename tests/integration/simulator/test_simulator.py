"""The traffic simulator against the real cluster and the real Prometheus.

Objects are made by hand, as a controller would have left them (no controller runs here); the
simulator runs as its own process (`python -m e2e.simulator`) and the assertions are PromQL over what
Prometheus scraped from it: the shares and success rates a progressive-delivery analysis would see.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from e2e.cluster import Cluster
from e2e.simulator import RunningSimulator, simulator
from tests.integration.simulator import manifests as m
from tests.support import Kubectl, eventually, kubectl_json

STABLE, CANARY = "aaa111", "bbb222"


def _promql(cluster: Cluster, query: str) -> float | None:
    resp = httpx.get(f"{cluster.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
    resp.raise_for_status()
    result: list[dict[str, Any]] = resp.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _ready_pods(kubectl: Kubectl, count: int) -> None:
    def ready() -> bool:
        pods = kubectl_json(kubectl, "get", "pods")["items"]
        ready = [
            p
            for p in pods
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        return len(ready) == count

    eventually(ready, timeout=60, what=f"{count} Ready pods")


def _ten_seconds_scraped(cluster: Cluster, sim: RunningSimulator) -> None:
    """Until Prometheus holds 10 s of the simulator's samples, so a `[10s]` rate covers only its data."""
    query = f'count_over_time(traffic_simulator_observations_total{{simulator="{sim.name}"}}[10s])'
    eventually(lambda: (_promql(cluster, query) or 0) >= 9, timeout=40, what="10 s of scrapes")


def _near(cluster: Cluster, query: str, expected: float, *, tolerance: float) -> float:
    value = _promql(cluster, query)
    assert value is not None and abs(value - expected) <= tolerance, (
        f"{query} = {value}, expected ~{expected}"
    )
    return value


@pytest.fixture
def nginx_canary(kubectl: Kubectl) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        stdin="".join(
            [
                m.replica_set(app="web", pod_hash=STABLE, image="example.com/web:1.0", replicas=4),
                m.replica_set(app="web", pod_hash=CANARY, image="example.com/web:2.0-bad", replicas=1),
                m.service(name="web-stable", selector={"app": "web", "rollouts-pod-template-hash": STABLE}),
                m.service(name="web-canary", selector={"app": "web", "rollouts-pod-template-hash": CANARY}),
                m.ingress(name="web", service_name="web-stable", host="web.example.com"),
                m.ingress(
                    name="web-canary", service_name="web-canary", host="web.example.com", canary_weight=20
                ),
            ]
        ),
    )
    _ready_pods(kubectl, 5)


def test_nginx_canary_gets_its_weight_and_a_bad_image_fails_thirty_percent(
    cluster: Cluster, namespace: str, kubectl: Kubectl, nginx_canary: None
) -> None:
    ns = f'namespace="{namespace}"'
    requests = "nginx_ingress_controller_requests"
    with simulator(cluster, namespaces=[namespace], rate=50) as sim:
        _ten_seconds_scraped(cluster, sim)

        def shares() -> bool:
            total = f"sum(rate({requests}{{{ns}}}[10s]))"
            _near(cluster, f'sum(rate({requests}{{{ns}, canary!=""}}[10s])) / {total}', 0.20, tolerance=0.03)
            _near(cluster, f"{total}", 50, tolerance=5)
            canary_ok = f'sum(rate({requests}{{{ns}, canary!="", status!~"5.."}}[10s]))'
            _near(
                cluster, f'{canary_ok} / sum(rate({requests}{{{ns}, canary!=""}}[10s]))', 0.70, tolerance=0.05
            )
            stable_ok = f'sum(rate({requests}{{{ns}, canary="", status!~"5.."}}[10s]))'
            _near(
                cluster, f'{stable_ok} / sum(rate({requests}{{{ns}, canary=""}}[10s]))', 1.0, tolerance=0.01
            )
            return True

        eventually(shares, timeout=30, interval=1, what="the canary's share and success rate in Prometheus")

        # The canary's pods go away while the weight still points at it: those requests become 503s.
        kubectl("scale", "replicaset", f"web-{CANARY}", "--replicas=0")

        def unavailable() -> bool:
            gone = f'sum(rate({requests}{{{ns}, canary!="", status="503"}}[3s]))'
            _near(cluster, f'{gone} / sum(rate({requests}{{{ns}, canary!=""}}[3s]))', 1.0, tolerance=0.01)
            return True

        eventually(unavailable, timeout=30, interval=1, what="503s for the canary's share")


@pytest.fixture
def istio_canary(kubectl: Kubectl, rollout_crds: None) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        stdin="".join(
            [
                m.replica_set(
                    app="shop", pod_hash=STABLE, image="example.com/shop:1.0", replicas=3, version="v1"
                ),
                m.replica_set(
                    app="shop", pod_hash=CANARY, image="example.com/shop:bad", replicas=1, version="v2"
                ),
                m.service(name="shop", selector={"app": "shop"}),
                m.destination_rule(name="shop", host="shop", stable_hash=STABLE, canary_hash=CANARY),
                m.virtual_service(name="shop", host="shop", stable_weight=80, canary_weight=20),
            ]
        ),
    )
    _ready_pods(kubectl, 4)


def test_istio_subset_weights_split_traffic_and_a_bad_image_fails_thirty_percent(
    cluster: Cluster, namespace: str, kubectl: Kubectl, istio_canary: None
) -> None:
    sel = f'destination_workload_namespace="{namespace}", reporter="destination"'
    requests = "istio_requests_total"
    with simulator(cluster, namespaces=[namespace], rate=50) as sim:
        _ten_seconds_scraped(cluster, sim)

        def shares() -> bool:
            v2 = f'{sel}, destination_version="v2"'
            total = f"sum(rate({requests}{{{sel}}}[10s]))"
            _near(cluster, f"sum(rate({requests}{{{v2}}}[10s])) / {total}", 0.20, tolerance=0.03)
            ok = f'sum(rate({requests}{{{v2}, response_code!~"5.."}}[10s]))'
            _near(cluster, f"{ok} / sum(rate({requests}{{{v2}}}[10s]))", 0.70, tolerance=0.05)
            # the workload label names the app (the ReplicaSets' common name without the hash)
            assert _promql(cluster, f'sum(rate({requests}{{{sel}, destination_workload="shop"}}[10s]))')
            return True

        eventually(shares, timeout=30, interval=1, what="the canary subset's share and success rate")
        # ... and the duration histogram is there for latency queries: the bad version is slower.
        buckets = "istio_request_duration_milliseconds_bucket{{{}}}"
        p50 = f"histogram_quantile(0.5, sum by (le) (rate({buckets}[10s])))"
        slow = _promql(cluster, p50.format(f'{sel}, destination_version="v2"'))
        fast = _promql(cluster, p50.format(f'{sel}, destination_version="v1"'))
        assert slow is not None and fast is not None and slow > 5 * fast, (slow, fast)
