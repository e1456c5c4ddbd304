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

STABLE, CANARY, BASELINE = "aaa111", "bbb222", "ccc333"


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


def _by_hash(cluster: Cluster, query: str) -> dict[str, float]:
    """`query`'s value per `rollouts_pod_template_hash` (the app family's revision label)."""
    resp = httpx.get(f"{cluster.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
    resp.raise_for_status()
    result: list[dict[str, Any]] = resp.json()["data"]["result"]
    return {r["metric"].get("rollouts_pod_template_hash", ""): float(r["value"][1]) for r in result}


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
def nginx_experiment(kubectl: Kubectl) -> None:
    """A baseline (the stable's image) and a bad canary, two hashes with 2 pods each, sharing the
    canary Service behind the NGINX canary Ingress at weight 20, as an experiment sets them up."""
    shared = {"experiment": "exp-1"}
    kubectl(
        "apply",
        "-f",
        "-",
        stdin="".join(
            [
                m.replica_set(app="web", pod_hash=STABLE, image="example.com/web:1.0", replicas=4),
                m.replica_set(
                    app="web", pod_hash=BASELINE, image="example.com/web:1.0", replicas=2, labels=shared
                ),
                m.replica_set(
                    app="web", pod_hash=CANARY, image="example.com/web:2.0-bad", replicas=2, labels=shared
                ),
                m.service(name="web-stable", selector={"app": "web", "rollouts-pod-template-hash": STABLE}),
                m.service(name="web-canary", selector={"app": "web", **shared}),
                m.ingress(name="web", service_name="web-stable", host="web.example.com"),
                m.ingress(
                    name="web-canary", service_name="web-canary", host="web.example.com", canary_weight=20
                ),
            ]
        ),
    )
    _ready_pods(kubectl, 8)


def test_app_metrics_tell_a_baseline_from_a_canary_behind_one_nginx_canary_service(
    cluster: Cluster, namespace: str, kubectl: Kubectl, nginx_experiment: None
) -> None:
    ns = f'namespace="{namespace}"'
    failed = f'{ns}, code=~"5.."'

    def per_hash(selector: str, window: str = "10s") -> str:
        return f"sum by (rollouts_pod_template_hash) (rate(http_requests_total{{{selector}}}[{window}]))"

    with simulator(cluster, namespaces=[namespace], rate=50) as sim:
        _ten_seconds_scraped(cluster, sim)

        def compared() -> bool:
            total = f"sum(rate(http_requests_total{{{ns}}}[10s]))"
            _near(cluster, total, 50, tolerance=5)
            shares = _by_hash(cluster, f"{per_hash(ns)} / scalar({total})")
            expected = {STABLE: 0.8, BASELINE: 0.1, CANARY: 0.1}  # the canary Service's 20 %, by pods
            assert set(shares) == set(expected), shares
            assert all(abs(shares[h] - want) <= 0.03 for h, want in expected.items()), shares
            errors = _by_hash(cluster, f"{per_hash(failed)} / {per_hash(ns)}")
            assert abs(errors.get(CANARY, 0) - 0.30) <= 0.05, errors  # the bad image's 30 %
            assert errors.get(BASELINE, 0) <= 0.01, errors
            return True

        eventually(compared, timeout=30, interval=1, what="baseline and canary apart by hash in Prometheus")
        buckets = f"rate(http_request_duration_seconds_bucket{{{ns}}}[10s])"
        median = _by_hash(
            cluster, f"histogram_quantile(0.5, sum by (rollouts_pod_template_hash, le) ({buckets}))"
        )
        assert median[CANARY] > 5 * median[BASELINE], median  # bad: 400 ms, healthy: 25 ms

        # Both revisions behind the canary Service go: NGINX answers their share with its own 503s,
        # which no pod served, so the app series of both hashes stop growing.
        kubectl("scale", "replicaset", f"web-{CANARY}", f"web-{BASELINE}", "--replicas=0")

        def unserved() -> bool:
            canary = f'nginx_ingress_controller_requests{{{ns}, canary!=""'
            proxy_503 = f'sum(rate({canary}, status="503"}}[3s])) / sum(rate({canary}}}[3s]))'
            _near(cluster, proxy_503, 1.0, tolerance=0.01)
            rates = _by_hash(cluster, per_hash(ns, window="3s"))
            assert rates.get(CANARY) == 0 and rates.get(BASELINE) == 0 and rates[STABLE] > 30, rates
            assert not _promql(cluster, f'sum(rate(http_requests_total{{{ns}, code="503"}}[3s]))')
            return True

        eventually(unserved, timeout=30, interval=1, what="the proxy's 503s and no app requests for them")


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
            # the pods' own counters have each request once, though two reporters report it
            app = f'rate(http_requests_total{{namespace="{namespace}"}}[10s])'
            _near(cluster, f"sum({app}) / sum(rate({requests}{{{sel}}}[10s]))", 1.0, tolerance=0.02)
            shares = _by_hash(cluster, f"sum by (rollouts_pod_template_hash) ({app}) / scalar(sum({app}))")
            assert abs(shares.get(CANARY, 0) - 0.20) <= 0.03, shares
            return True

        eventually(shares, timeout=30, interval=1, what="the canary subset's share and success rate")
        # ... and the duration histogram is there for latency queries: the bad version is slower.
        buckets = "istio_request_duration_milliseconds_bucket{{{}}}"
        p50 = f"histogram_quantile(0.5, sum by (le) (rate({buckets}[10s])))"
        slow = _promql(cluster, p50.format(f'{sel}, destination_version="v2"'))
        fast = _promql(cluster, p50.format(f'{sel}, destination_version="v1"'))
        assert slow is not None and fast is not None and slow > 5 * fast, (slow, fast)
