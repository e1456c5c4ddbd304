"""The application's own request metrics (`http_requests_total`, `http_request_duration_seconds`): per
revision by pod-template hash, once per request a pod served whichever router sent it, and none for
the proxy's own 503s. This is what tells a baseline from a canary behind one Service."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.simulator import NamespaceObjects, RequestClass, Simulation
from e2e.simulator.counters import DEFAULT_BUCKETS
from tests.unit.simulator.objects import (
    canary_ingress,
    destination_rule,
    http_virtual_service,
    ingress,
    pod,
    pods,
    replica_set,
    service,
)

NS = "shop"
HASH = "rollouts-pod-template-hash"
SECONDS = 1000.0
Key = tuple[str, str, str]  # (rollouts_pod_template_hash, request_class, code)


def _run(objects: NamespaceObjects, *classes: RequestClass) -> Simulation:
    sim = Simulation(rate=50, request_classes=classes)
    sim.observe([objects])
    sim.tick(0.0)
    sim.tick(SECONDS)
    return sim


def _app_rates(sim: Simulation) -> dict[Key, float]:
    """Requests per second of every app series, by (hash, request class, code)."""
    rates: dict[Key, float] = {}
    for (family, ls), value in sim.counters.requests.items():
        if family == "app":
            got = dict(ls)
            key = (got["rollouts_pod_template_hash"], got.get("request_class", ""), got["code"])
            rates[key] = rates.get(key, 0.0) + int(value) / SECONDS
    return rates


def _by_hash(rates: dict[Key, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for (pod_hash, _, _), rate in rates.items():
        out[pod_hash] = out.get(pod_hash, 0.0) + rate
    return out


def _experiment(*, canary_ready: int = 3, baseline_ready: int = 1) -> NamespaceObjects:
    """A stable revision behind the stable Service, and a baseline and a canary revision (two hashes)
    sharing the canary Service behind an NGINX canary Ingress at weight 20."""
    return NamespaceObjects(
        namespace=NS,
        services=(
            service("web-stable", app="web", **{HASH: "aaa"}),
            service("web-canary", app="web", experiment="exp-1"),
        ),
        pods=(
            *pods("web", "aaa", image="web:1", ready=4),
            *pods("web", "ccc", image="web:1", ready=baseline_ready, experiment="exp-1"),
            *pods("web", "bbb", image="web:2-bad", ready=canary_ready, experiment="exp-1"),
        ),
        replica_sets=tuple(replica_set(f"web-{h}", owner="web", pod_hash=h) for h in ("aaa", "bbb", "ccc")),
        ingresses=(
            ingress("web", service_name="web-stable"),
            canary_ingress("web-canary", service_name="web-canary", weight=20),
        ),
    )


def test_two_revisions_behind_the_nginx_canary_service_are_told_apart_by_hash() -> None:
    sim = _run(_experiment())
    rates = _app_rates(sim)
    # 20 % of 50 req/s reach the canary Service, split 1:3 by ready pods; the stable gets the rest.
    assert _by_hash(rates) == pytest.approx({"aaa": 40, "ccc": 2.5, "bbb": 7.5}, abs=0.01)
    assert rates[("bbb", "", "500")] == pytest.approx(7.5 * 0.30, abs=0.01)  # the bad canary's errors
    assert rates.get(("ccc", "", "500"), 0) == pytest.approx(2.5 * 0.001, abs=0.01)
    # ... which the ingress cannot do: one series for the canary upstream, both revisions mixed in it
    canary_series = {ls for (family, ls) in sim.counters.requests if family == "nginx" and dict(ls)["canary"]}
    assert {dict(ls)["status"] for ls in canary_series} == {"200", "500"}
    # every request the ingress counted a pod served (each series rounds down: within a request each)
    assert sim.counters.total("app") == pytest.approx(sim.counters.total("nginx"), abs=6)


def test_app_series_are_per_revision_with_the_labels_a_scraped_app_has() -> None:
    sim = _run(_experiment())
    label_sets = {ls for (family, ls) in sim.counters.requests if family == "app"}
    assert {dict(ls)["rollouts_pod_template_hash"] for ls in label_sets} == {"aaa", "bbb", "ccc"}
    assert {tuple(k for k, _ in ls) for ls in label_sets} == {
        ("code", "namespace", "rollouts_pod_template_hash")
    }  # no pod, no route, no class label for plain requests
    assert {dict(ls)["namespace"] for ls in label_sets} == {NS}


def test_the_exposition_has_a_counter_and_a_seconds_histogram_with_the_default_buckets() -> None:
    text = _run(_experiment()).exposition()
    assert "# TYPE http_requests_total counter" in text
    assert "# TYPE http_request_duration_seconds histogram" in text
    series = 'code="200",namespace="shop",rollouts_pod_template_hash="bbb"'
    count = next(line for line in text.splitlines() if line.startswith(f"http_requests_total{{{series}}}"))
    bounds = [
        line.split('le="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith(f"http_request_duration_seconds_bucket{{{series},")
    ]
    assert bounds == [f"{b:g}" for b in DEFAULT_BUCKETS] + ["+Inf"]
    assert f"http_request_duration_seconds_count{{{series}}} {count.split()[-1]}" in text


def test_the_proxy_503s_of_a_route_without_ready_pods_are_no_app_requests() -> None:
    sim = _run(_experiment(canary_ready=0, baseline_ready=0))
    assert sim.counters.total("nginx", status="503") == 10 * SECONDS
    assert _by_hash(_app_rates(sim)) == pytest.approx({"aaa": 40}, abs=0.01)
    assert sim.counters.total("app", code="503") == 0


def test_pods_without_a_rollouts_hash_report_their_deployment_hash() -> None:
    deployment_pods = [
        pod(f"web-5d8f-{i}", labels={"app": "web", "pod-template-hash": "5d8f"}, image="web:1")
        for i in range(2)
    ]
    objects = NamespaceObjects(
        namespace=NS,
        services=(service("web", app="web"),),
        pods=tuple(deployment_pods),
        ingresses=(ingress("web", service_name="web"),),
    )
    assert _by_hash(_app_rates(_run(objects))) == pytest.approx({"5d8f": 50}, abs=0.01)


# Istio: a primary route keeping everything on the stable Service, and a route that sends `api`
# requests there too while mirroring 35 % of them to the canary Service.
PRIMARY: dict[str, Any] = {
    "name": "primary",
    "route": [
        {"destination": {"host": "web-stable"}, "weight": 100},
        {"destination": {"host": "web-canary"}, "weight": 0},
    ],
}
COPY: dict[str, Any] = {
    "name": "copy",
    "match": [{"uri": {"prefix": "/api"}}],
    "route": PRIMARY["route"],
    "mirror": {"host": "web-canary"},
    "mirrorPercentage": {"value": 35},
}
API = RequestClass(share=0.4, name="api", path="/api/orders")


def _mesh(*http: dict[str, Any], canary_ready: int = 1) -> NamespaceObjects:
    return NamespaceObjects(
        namespace=NS,
        services=(
            service("web-stable", app="web", **{HASH: "aaa"}),
            service("web-canary", app="web", **{HASH: "bbb"}),
        ),
        pods=(
            *pods("web", "aaa", image="web:1", ready=3, version="v1"),
            *pods("web", "bbb", image="web:2", ready=canary_ready, version="v2"),
        ),
        replica_sets=(
            replica_set("web-aaa", owner="web", pod_hash="aaa"),
            replica_set("web-bbb", owner="web", pod_hash="bbb"),
        ),
        virtual_services=(http_virtual_service("web", *http),),
    )


def _by_hash_and_class(rates: dict[Key, float]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for (pod_hash, request_class, _), rate in rates.items():
        out[(pod_hash, request_class)] = out.get((pod_hash, request_class), 0.0) + rate
    return out


def test_istio_requests_count_once_for_both_reporters_and_mirrored_ones_at_the_mirror() -> None:
    sim = _run(_mesh(COPY, PRIMARY), API)
    rates = _by_hash_and_class(_app_rates(sim))
    # plain 30 and api 20 req/s answered by the stable pods; 35 % of api shadowed to the canary's
    assert rates == pytest.approx({("aaa", ""): 30, ("aaa", "api"): 20, ("bbb", "api"): 7}, abs=0.01)
    # the pods' side reports each request a pod served, shadows too; the callers' side all but shadows
    by_pods = sim.counters.total("istio", reporter="destination")
    assert sim.counters.total("app") == pytest.approx(by_pods, abs=6)
    assert sim.counters.total("istio", reporter="source") == pytest.approx(50 * SECONDS, abs=6)


def test_a_mirror_and_a_subset_without_ready_pods_give_no_app_requests() -> None:
    mirrored = _run(_mesh(COPY, PRIMARY, canary_ready=0), API)
    assert _by_hash_and_class(_app_rates(mirrored)) == pytest.approx({("aaa", ""): 30, ("aaa", "api"): 20})
    to_canary = {"route": [{"destination": {"host": "web", "subset": "canary"}}]}
    subset_level = NamespaceObjects(
        namespace=NS,
        services=(service("web", app="web"),),
        pods=tuple(pods("web", "aaa", image="web:1", ready=3)),
        virtual_services=(http_virtual_service("web", to_canary),),
        destination_rules=(destination_rule("web", host="web", canary={HASH: "bbb"}),),
    )
    sim = _run(subset_level)
    assert sim.counters.total("istio", response_code="503") == 50 * SECONDS
    assert sim.counters.total("app") == 0 and "http_requests_total" not in sim.exposition()


def test_a_tagged_class_through_an_nginx_header_canary_carries_its_class() -> None:
    objects = _experiment()
    header_canary = canary_ingress("web-canary", service_name="web-canary", weight=0)
    header_canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-by-header"] = "x-beta"
    objects = NamespaceObjects(
        namespace=NS,
        services=objects.services,
        pods=objects.pods,
        replica_sets=objects.replica_sets,
        ingresses=(ingress("web", service_name="web-stable"), header_canary),
    )
    beta = RequestClass(share=0.2, name="beta", headers={"x-beta": "always"})
    rates = _by_hash_and_class(_app_rates(_run(objects, beta)))
    assert rates == pytest.approx({("aaa", ""): 40, ("ccc", "beta"): 2.5, ("bbb", "beta"): 7.5}, abs=0.01)
