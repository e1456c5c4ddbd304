"""Istio VirtualServices: destination weights split each route's requests, subsets narrow a Service to
one version's pods, and the series carry Istio's standard labels from both reporters."""

from __future__ import annotations

import pytest

from e2e.simulator import NamespaceObjects
from e2e.simulator.istio import destination_shares, istio_streams, receives_plain_requests, service_of
from tests.unit.simulator.objects import destination_rule, pods, replica_set, service, virtual_service

NS = "shop"
HASH = "rollouts-pod-template-hash"


def _subset_level(*, stable: int, canary: int, canary_image: str = "shop:2") -> NamespaceObjects:
    return NamespaceObjects(
        namespace=NS,
        services=(service("shop", app="shop"),),
        pods=(
            *pods("shop", "aaa", image="shop:1", ready=3, version="v1"),
            *pods("shop", "bbb", image=canary_image, ready=1, version="v2"),
        ),
        replica_sets=(
            replica_set("shop-aaa", owner="shop", pod_hash="aaa"),
            replica_set("shop-bbb", owner="shop", pod_hash="bbb"),
        ),
        virtual_services=(
            virtual_service(
                "shop",
                [
                    {"destination": {"host": "shop", "subset": "stable"}, "weight": stable},
                    {"destination": {"host": "shop", "subset": "canary"}, "weight": canary},
                ],
            ),
        ),
        destination_rules=(
            destination_rule(
                "shop", host="shop", stable={"app": "shop", HASH: "aaa"}, canary={"app": "shop", HASH: "bbb"}
            ),
        ),
    )


def _by_version(objects: NamespaceObjects, reporter: str = "destination") -> dict[str, float]:
    rates: dict[str, float] = {}
    for s in istio_streams(objects, rate=50):
        if s.label("reporter") == reporter:
            rates[s.label("destination_version")] = rates.get(s.label("destination_version"), 0) + s.rate
    return rates


def test_subset_weights_split_the_requests_between_versions() -> None:
    assert _by_version(_subset_level(stable=80, canary=20)) == pytest.approx({"v1": 40, "v2": 10})


def test_each_served_request_is_reported_by_source_and_destination_with_istio_labels() -> None:
    streams = [
        s
        for s in istio_streams(_subset_level(stable=80, canary=20), rate=50)
        if s.label("destination_version") == "v2"
    ]
    assert sorted(s.label("reporter") for s in streams) == ["destination", "source"]
    labels = dict(streams[0].labels)
    assert labels["destination_workload"] == "shop"  # the Rollout owning the ReplicaSet
    assert labels["destination_workload_namespace"] == NS
    assert labels["destination_service_name"] == "shop"
    assert labels["destination_service"] == f"shop.{NS}.svc.cluster.local"


def test_a_bad_canary_behind_a_subset_has_the_bad_profile() -> None:
    streams = istio_streams(_subset_level(stable=50, canary=50, canary_image="shop:2-bad"), rate=50)
    profiles = {s.label("destination_version"): s.profile.name for s in streams if s.family == "istio"}
    assert profiles == {"v1": "healthy", "v2": "bad"}


def test_host_level_routing_uses_two_services() -> None:
    objects = NamespaceObjects(
        namespace=NS,
        services=(
            service("shop-stable", app="shop", **{HASH: "aaa"}),
            service("shop-canary", app="shop", **{HASH: "bbb"}),
        ),
        pods=(*pods("shop", "aaa", image="shop:1", ready=2), *pods("shop", "bbb", image="shop:2", ready=2)),
        virtual_services=(
            virtual_service(
                "shop",
                [
                    {"destination": {"host": "shop-stable"}, "weight": 70},
                    {"destination": {"host": f"shop-canary.{NS}.svc.cluster.local"}, "weight": 30},
                ],
            ),
        ),
    )
    rates = {
        s.label("destination_service_name"): s.rate
        for s in istio_streams(objects, rate=50)
        if s.label("reporter") == "destination"
    }
    assert rates == pytest.approx({"shop-stable": 35, "shop-canary": 15})


def test_weight_on_a_subset_without_ready_pods_is_503_reported_by_the_source_only() -> None:
    objects = _subset_level(stable=0, canary=100)
    no_canary = NamespaceObjects(
        namespace=NS,
        services=objects.services,
        pods=tuple(p for p in objects.pods if "bbb" not in p["metadata"]["name"]),
        virtual_services=objects.virtual_services,
        destination_rules=objects.destination_rules,
    )
    [stream] = istio_streams(no_canary, rate=50)
    assert stream.profile.error_status == "503" and stream.profile.error_rate == 1.0
    assert stream.label("reporter") == "source" and stream.label("destination_workload") == "unknown"
    assert stream.rate == 50


def test_an_unknown_subset_is_answered_with_503() -> None:
    objects = _subset_level(stable=100, canary=0)
    broken = NamespaceObjects(
        namespace=NS, services=objects.services, pods=objects.pods, virtual_services=objects.virtual_services
    )
    assert {s.profile.name for s in istio_streams(broken, rate=50)} == {"no-endpoints"}


@pytest.mark.parametrize(
    ("route", "shares"),
    [
        ({"route": [{"destination": {"host": "a"}}]}, [1.0]),
        (
            {
                "route": [
                    {"destination": {"host": "a"}, "weight": 90},
                    {"destination": {"host": "b"}, "weight": 10},
                ]
            },
            [0.9, 0.1],
        ),
        (
            {"route": [{"destination": {"host": "a"}, "weight": 100}, {"destination": {"host": "b"}}]},
            [1.0, 0.0],
        ),
        (
            {
                "route": [
                    {"destination": {"host": "a"}, "weight": 0},
                    {"destination": {"host": "b"}, "weight": 0},
                ]
            },
            [],
        ),
    ],
)
def test_destination_shares(route: dict, shares: list[float]) -> None:  # type: ignore[type-arg]
    assert [share for _, share in destination_shares(route)] == pytest.approx(shares)


def test_header_only_routes_receive_no_plain_requests() -> None:
    assert receives_plain_requests({"route": []})
    assert receives_plain_requests({"match": [{"uri": {"prefix": "/"}}]})
    assert not receives_plain_requests({"match": [{"headers": {"x-canary": {"exact": "yes"}}}]})


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("shop", ("ns", "shop")),
        ("shop.other", ("other", "shop")),
        ("shop.other.svc.cluster.local", ("other", "shop")),
    ],
)
def test_service_of_a_destination_host(host: str, expected: tuple[str, str]) -> None:
    assert service_of(host, "ns") == expected
