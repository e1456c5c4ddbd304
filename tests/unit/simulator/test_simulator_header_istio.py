"""Istio per request class: the first http route whose match matches takes the request (header routes
above the primary catch only tagged requests), and a mirror's share is also counted at the mirror's
pods, by the destination reporter only."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.simulator import NamespaceObjects, RequestClass, request_mix
from e2e.simulator.istio import first_route, istio_streams, mirror_share, route_matches, string_matches
from e2e.simulator.mix import PLAIN
from tests.unit.simulator.objects import destination_rule, http_virtual_service, pods, replica_set, service

NS = "shop"
HASH = "rollouts-pod-template-hash"

PRIMARY = {
    "name": "primary",
    "route": [
        {"destination": {"host": "web-stable"}, "weight": 100},
        {"destination": {"host": "web-canary"}, "weight": 0},
    ],
}
BETA_ROUTE = {
    "name": "beta",
    "match": [{"headers": {"x-beta": {"exact": "yes"}}}],
    "route": [{"destination": {"host": "web-canary"}, "weight": 100}],
}
COPY_ROUTE = {
    "name": "copy",
    "match": [{"method": {"exact": "GET"}, "uri": {"prefix": "/api"}}],
    "route": PRIMARY["route"],
    "mirror": {"host": "web-canary"},
    "mirrorPercentage": {"value": 35},
}
BETA = RequestClass(share=0.2, name="beta", headers={"X-Beta": "yes"})
API = RequestClass(share=0.4, name="api", method="GET", path="/api/orders")


def _objects(*http: dict[str, Any], canary_ready: int = 1) -> NamespaceObjects:
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


def _rates(objects: NamespaceObjects, *classes: RequestClass, reporter: str) -> dict[tuple[str, str], float]:
    """Requests per second by (destination service, request_class) as `reporter` reports them."""
    rates: dict[tuple[str, str], float] = {}
    for s in istio_streams(objects, rate=50, mix=request_mix(classes)):
        if s.label("reporter") == reporter:
            key = (s.label("destination_service_name"), s.label("request_class"))
            rates[key] = rates.get(key, 0.0) + s.rate
    return rates


def test_a_header_route_above_the_primary_takes_only_the_tagged_requests() -> None:
    objects = _objects(BETA_ROUTE, PRIMARY)
    for reporter in ("source", "destination"):
        rates = _rates(objects, BETA, reporter=reporter)
        assert rates == pytest.approx({("web-stable", ""): 40, ("web-canary", "beta"): 10})


def test_plain_requests_alone_never_reach_a_header_route() -> None:
    assert _rates(_objects(BETA_ROUTE, PRIMARY), reporter="destination") == {("web-stable", ""): 50}


def test_a_header_route_below_a_match_all_route_is_never_reached() -> None:
    rates = _rates(_objects(PRIMARY, BETA_ROUTE), BETA, reporter="destination")
    assert rates == pytest.approx({("web-stable", ""): 40, ("web-stable", "beta"): 10})


def test_the_first_matching_route_wins_over_later_match_all_routes() -> None:
    admin = {"name": "admin", "route": [{"destination": {"host": "web-canary"}}]}
    assert _rates(_objects(PRIMARY, admin), reporter="destination") == {("web-stable", ""): 50}


def test_a_mirror_counts_its_share_at_the_mirror_by_the_destination_reporter_only() -> None:
    objects = _objects(BETA_ROUTE, COPY_ROUTE, PRIMARY)
    source = _rates(objects, BETA, API, reporter="source")
    destination = _rates(objects, BETA, API, reporter="destination")
    # the callers' answers come from the route's destinations: all of `api` from the stable pods
    assert source == pytest.approx(
        {("web-stable", ""): 20, ("web-stable", "api"): 20, ("web-canary", "beta"): 10}
    )
    # ... and 35 % of `api` is shadowed to the canary, which reports it
    assert destination == pytest.approx(
        {
            ("web-stable", ""): 20,
            ("web-stable", "api"): 20,
            ("web-canary", "beta"): 10,
            ("web-canary", "api"): 7,
        }
    )


def test_mirrored_requests_carry_the_mirror_pods_labels_and_profile() -> None:
    objects = _objects(COPY_ROUTE, PRIMARY)
    objects = NamespaceObjects(
        namespace=NS,
        services=objects.services,
        pods=(
            *pods("web", "aaa", image="web:1", ready=3, version="v1"),
            *pods("web", "bbb", image="web:bad", ready=1, version="v2"),
        ),
        replica_sets=objects.replica_sets,
        virtual_services=objects.virtual_services,
    )
    [shadow] = [
        s
        for s in istio_streams(objects, rate=50, mix=request_mix([API]))
        if s.label("destination_version") == "v2"
    ]
    assert shadow.label("reporter") == "destination" and shadow.label("destination_workload") == "web"
    assert shadow.profile.name == "bad" and shadow.rate == pytest.approx(7)


def test_a_mirror_without_ready_pods_reports_nothing_and_the_callers_still_get_answers() -> None:
    objects = _objects(COPY_ROUTE, PRIMARY, canary_ready=0)
    streams = [s for s in istio_streams(objects, rate=50, mix=request_mix([API])) if s.family == "istio"]
    assert {s.label("destination_service_name") for s in streams} == {"web-stable"}
    assert {s.profile.name for s in streams} == {"healthy"}


def test_a_mirror_to_a_subset_uses_the_destination_rule() -> None:
    objects = _objects()
    rule = destination_rule("web", host="web", stable={HASH: "aaa"}, canary={HASH: "bbb"})
    route = {
        "route": [{"destination": {"host": "web", "subset": "stable"}}],
        "mirror": {"host": "web", "subset": "canary"},
        "mirrorPercentage": {"value": 10.0},
    }
    subset_level = NamespaceObjects(
        namespace=NS,
        services=(service("web", app="web"),),
        pods=objects.pods,
        replica_sets=objects.replica_sets,
        virtual_services=(http_virtual_service("web", route),),
        destination_rules=(rule,),
    )
    rates = {
        (s.label("reporter"), s.label("destination_version")): s.rate
        for s in istio_streams(subset_level, rate=50)
        if s.family == "istio"
    }
    assert rates == pytest.approx({("source", "v1"): 50, ("destination", "v1"): 50, ("destination", "v2"): 5})


def test_requests_no_route_matches_are_not_counted() -> None:
    assert istio_streams(_objects(BETA_ROUTE), rate=50) == []


@pytest.mark.parametrize(
    ("route", "share"),
    [
        ({"route": []}, 0.0),
        ({"mirror": {"host": "a"}}, 1.0),
        ({"mirror": {"host": "a"}, "mirrorPercentage": {"value": 35}}, 0.35),
        ({"mirror": {"host": "a"}, "mirrorPercentage": {"value": 0.5}}, 0.005),
        ({"mirror": {"host": "a"}, "mirrorPercent": 20}, 0.2),
        ({"mirror": {"host": "a"}, "mirrorPercentage": {"value": 250}}, 1.0),
    ],
)
def test_mirror_share(route: dict[str, Any], share: float) -> None:
    assert mirror_share(route) == pytest.approx(share)


@pytest.mark.parametrize(
    ("spec", "value", "matches"),
    [
        ({"exact": "yes"}, "yes", True),
        ({"exact": "yes"}, "yes!", False),
        ({"prefix": "v2."}, "v2.1", True),
        ({"prefix": "v2."}, "v3.1", False),
        ({"regex": "v2.*"}, "v2.1", True),
        ({"regex": "v2"}, "v2.1", False),  # a regex must match the whole value, as in Envoy
        ({"regex": ".*beta=always.*"}, "a=1; beta=always", True),
        ({"regex": "("}, "(", False),
        ({}, "anything", True),  # presence only
        ({"exact": "yes"}, None, False),
        ({}, None, False),
    ],
)
def test_string_matches(spec: dict[str, str], value: str | None, matches: bool) -> None:
    assert string_matches(spec, value) is matches


@pytest.mark.parametrize(
    ("match", "request_class", "matches"),
    [
        ([{"headers": {"x-beta": {"exact": "yes"}}}], BETA, True),
        ([{"headers": {"x-beta": {"exact": "yes"}}}], PLAIN, False),
        ([{"method": {"exact": "GET"}, "uri": {"prefix": "/api"}}], API, True),
        ([{"method": {"exact": "POST"}, "uri": {"prefix": "/api"}}], API, False),  # fields are ANDed
        ([{"method": {"exact": "POST"}}, {"uri": {"prefix": "/api"}}], API, True),  # clauses are ORed
        ([{"uri": {"exact": "/api/orders"}}], RequestClass(share=1, name="q", path="/api/orders?id=3"), True),
        ([{"uri": {"regex": "/api/[a-z]+"}}], API, True),
        ([{"uri": {"regex": "/api"}}], API, False),
        ([{"uri": {"prefix": "/API"}, "ignoreUriCase": True}], API, True),
        ([{"uri": {"prefix": "/API"}}], API, False),
        ([{"withoutHeaders": {"x-beta": {}}}], PLAIN, True),
        ([{"withoutHeaders": {"x-beta": {}}}], BETA, False),
        (
            [{"headers": {"cookie": {"regex": ".*beta=always.*"}}}],
            RequestClass(share=1, name="c", cookies={"beta": "always"}),
            True,
        ),
        ([{"queryParams": {"id": {"exact": "3"}}}], RequestClass(share=1, name="q", path="/api?id=3"), True),
        ([{"queryParams": {"id": {"exact": "3"}}}], API, False),
        ([{"authority": {"exact": "elsewhere"}}], PLAIN, True),  # fields the simulator cannot judge
        ([{}], PLAIN, True),
        ([], PLAIN, True),
    ],
)
def test_route_matches(match: list[dict[str, Any]], request_class: RequestClass, matches: bool) -> None:
    assert route_matches({"match": match, "route": []}, request_class) is matches


def test_first_route_is_the_first_that_matches() -> None:
    routes = [BETA_ROUTE, COPY_ROUTE, PRIMARY]
    assert [first_route(routes, rc)["name"] for rc in (BETA, API, PLAIN)] == ["beta", "copy", "primary"]  # type: ignore[index]
