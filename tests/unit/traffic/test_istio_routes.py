"""Istio weights and subset labels: which routes and destinations move, and that nothing else does."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollouts.traffic.istio_routes import (
    canary_weight_in,
    istio_settings,
    managed_routes,
    subset_patch,
    subsets_labelled,
    weight_patch,
)
from rollouts.traffic.router import InvalidRoutingError
from tests.unit.traffic.jsonpatch import apply_patch
from tests.unit.traffic.manifests import (
    dest,
    destination_rule,
    http_route,
    istio_rollout,
    rollout,
    virtual_service,
)


def weights(vs: dict[str, Any], index: int) -> list[int | None]:
    return [d.get("weight") for d in vs["spec"]["http"][index]["route"]]


def set_weight(vs: dict[str, Any], canary: int, **rollout: Any) -> dict[str, Any]:
    settings = istio_settings(istio_rollout(**rollout))
    return apply_patch(vs, weight_patch(vs, settings, canary_weight=canary))


HOST_CASES = [
    ("short names", "web-stable", "web-canary"),
    ("namespace-qualified", "web-stable.ns", "web-canary.ns"),
    ("svc suffix", "web-stable.ns.svc", "web-canary.ns.svc"),
    ("fully qualified", "web-stable.ns.svc.cluster.local", "web-canary.ns.svc.cluster.local"),
]


@pytest.mark.parametrize(("stable", "canary"), [c[1:] for c in HOST_CASES], ids=[c[0] for c in HOST_CASES])
def test_host_level_weights_in_the_named_route(stable: str, canary: str) -> None:
    vs = virtual_service(http_route("primary", dest(stable, 100), dest(canary, 0)))
    out = set_weight(vs, 30, routes=["primary"])
    assert weights(out, 0) == [70, 30]


def test_unmanaged_routes_and_fields_stay_exactly_as_they_were() -> None:
    unmanaged = http_route("admin", dest("web-stable", 50), dest("web-canary", 50), timeout="3s")
    managed = http_route(
        "primary",
        dest("web-canary", 0),
        dest("web-stable", 100),
        match=[{"uri": {"prefix": "/"}}],
        retries={"attempts": 3},
    )
    vs = virtual_service(unmanaged, managed)
    out = set_weight(vs, 25, routes=["primary"])
    assert out["spec"]["http"][0] == unmanaged
    expected = copy.deepcopy(managed)
    expected["route"][0]["weight"], expected["route"][1]["weight"] = 25, 75
    assert out["spec"]["http"][1] == expected
    assert {k: v for k, v in out.items() if k != "spec"} == {k: v for k, v in vs.items() if k != "spec"}


def test_unmanaged_destination_keeps_its_weight_and_stable_gets_the_rest() -> None:
    vs = virtual_service(
        http_route("primary", dest("web-stable", 90), dest("web-canary", 0), dest("legacy", 10))
    )
    out = set_weight(vs, 20, routes=["primary"])
    assert weights(out, 0) == [70, 20, 10]
    assert out["spec"]["http"][0]["route"][2] == vs["spec"]["http"][0]["route"][2]


def test_unmanaged_destinations_that_leave_no_room_are_an_error() -> None:
    vs = virtual_service(
        http_route("primary", dest("web-stable", 40), dest("web-canary", 0), dest("legacy", 60))
    )
    with pytest.raises(InvalidRoutingError, match=r"route 'primary' of VirtualService ns/web-vs gives 60%"):
        set_weight(vs, 50, routes=["primary"])


def test_several_named_routes_all_move() -> None:
    vs = virtual_service(
        http_route("a", dest("web-stable", 100), dest("web-canary", 0)),
        http_route("b", dest("web-canary", 0), dest("web-stable", 100)),
        http_route("c", dest("web-stable", 100), dest("web-canary", 0)),
    )
    out = set_weight(vs, 40, routes=["c", "a"])
    assert [weights(out, i) for i in range(3)] == [[60, 40], [0, 100], [60, 40]]


def test_single_route_is_managed_when_routes_are_omitted_named_or_not() -> None:
    for name in (None, "whatever"):
        vs = virtual_service(http_route(name, dest("web-stable", 100), dest("web-canary", 0)))
        assert weights(set_weight(vs, 10), 0) == [90, 10]


def test_routes_must_be_listed_when_there_are_several() -> None:
    vs = virtual_service(
        http_route(None, dest("web-stable", 100), dest("web-canary", 0)),
        http_route("b", dest("web-stable", 100), dest("web-canary", 0)),
    )
    with pytest.raises(InvalidRoutingError) as err:
        managed_routes(vs, istio_settings(istio_rollout()))
    assert "VirtualService ns/web-vs has 2 http routes" in str(err.value)
    assert "virtualService.routes" in str(err.value)


def test_a_listed_route_that_does_not_exist_is_named_with_the_ones_that_do() -> None:
    vs = virtual_service(http_route("primary", dest("web-stable", 100), dest("web-canary", 0)))
    with pytest.raises(InvalidRoutingError) as err:
        managed_routes(vs, istio_settings(istio_rollout(routes=["primary", "secondary"])))
    assert "no http route named 'secondary'" in str(err.value)
    assert "['primary']" in str(err.value)


@pytest.mark.parametrize(
    ("route", "fragment"),
    [
        (http_route("primary", dest("web-stable", 100)), "no destination with destination.host 'web-canary'"),
        (http_route("primary", dest("web-canary", 100)), "no destination with destination.host 'web-stable'"),
        (
            http_route("primary", dest("web-stable", 50), dest("web-canary", 25), dest("web-canary.ns", 25)),
            "2 destinations with destination.host 'web-canary'",
        ),
    ],
)
def test_managed_route_must_have_one_canary_and_one_stable_destination(
    route: dict[str, Any], fragment: str
) -> None:
    vs = virtual_service(route)
    with pytest.raises(InvalidRoutingError, match=fragment):
        set_weight(vs, 10, routes=["primary"])


def test_subset_level_matches_destinations_by_subset() -> None:
    vs = virtual_service(
        http_route("primary", dest("web", 100, "stable"), dest("web", 0, "canary"), dest("web", 0, "mirror"))
    )
    out = set_weight(vs, 60, routes=["primary"], subsets=True)
    assert weights(out, 0) == [40, 60, 0]


def test_no_ops_when_the_weights_are_already_in_place() -> None:
    vs = virtual_service(http_route("primary", dest("web-stable", 80), dest("web-canary", 20)))
    settings = istio_settings(istio_rollout(routes=["primary"]))
    assert weight_patch(vs, settings, canary_weight=20) == []


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        (
            [
                [dest("web-stable", 80), dest("web-canary", 20)],
                [dest("web-canary", 20), dest("web-stable", 80)],
            ],
            20,
        ),
        (
            [
                [dest("web-stable", 80), dest("web-canary", 20)],
                [dest("web-stable", 100), dest("web-canary", 0)],
            ],
            None,
        ),
        ([[dest("web-stable"), dest("web-canary")], [dest("web-stable"), dest("web-canary")]], 0),
    ],
    ids=["routes agree", "routes disagree: not verified", "no weights written yet"],
)
def test_canary_weight_read_back(routes: list[list[dict[str, Any]]], expected: int | None) -> None:
    vs = virtual_service(http_route("a", *routes[0]), http_route("b", *routes[1]))
    assert canary_weight_in(vs, istio_settings(istio_rollout(routes=["a", "b"]))) == expected


def test_subset_labels_get_the_revision_hashes_and_nothing_else_changes() -> None:
    dr = destination_rule(
        {"name": "canary", "labels": {"app": "web"}},
        {"name": "stable"},
        {"name": "other", "labels": {"app": "web", "rollouts-pod-template-hash": "zzz"}},
    )
    rule = istio_settings(istio_rollout(subsets=True)).destination_rule
    assert rule is not None
    out = apply_patch(
        dr, subset_patch(dr, rule, canary_hash="new111", stable_hash="old000", match_labels={"app": "web"})
    )
    assert out["spec"]["subsets"] == [
        {"name": "canary", "labels": {"app": "web", "rollouts-pod-template-hash": "new111"}},
        {"name": "stable", "labels": {"rollouts-pod-template-hash": "old000"}},
        dr["spec"]["subsets"][2],
    ]
    assert (
        subset_patch(out, rule, canary_hash="new111", stable_hash="old000", match_labels={"app": "web"}) == []
    )


def test_a_rule_without_subsets_gets_both_labelled_from_the_rollouts_selector() -> None:
    # The GitOps form: the manifest leaves spec.subsets to the controller, which writes them whole.
    dr = destination_rule()
    rule = istio_settings(istio_rollout(subsets=True)).destination_rule
    assert rule is not None
    patch = subset_patch(dr, rule, canary_hash="new111", stable_hash="old000", match_labels={"app": "web"})
    out = apply_patch(dr, patch)
    assert out["spec"]["subsets"] == [
        {"name": rule.canary_subset_name, "labels": {"app": "web", "rollouts-pod-template-hash": "new111"}},
        {"name": rule.stable_subset_name, "labels": {"app": "web", "rollouts-pod-template-hash": "old000"}},
    ]
    assert (
        subset_patch(out, rule, canary_hash="new111", stable_hash="old000", match_labels={"app": "web"}) == []
    )


def test_subsets_count_as_labelled_only_when_both_select_a_revision() -> None:
    rule = istio_settings(istio_rollout(subsets=True)).destination_rule
    assert rule is not None
    labelled = {"app": "web", "rollouts-pod-template-hash": "abc"}
    canary, stable = rule.canary_subset_name, rule.stable_subset_name
    assert subsets_labelled(
        destination_rule({"name": canary, "labels": labelled}, {"name": stable, "labels": labelled}), rule
    )
    # overwritten from Git (no hash), or left to the controller and not written yet
    assert not subsets_labelled(
        destination_rule({"name": canary, "labels": labelled}, {"name": stable, "labels": {"app": "web"}}),
        rule,
    )
    assert not subsets_labelled(destination_rule(), rule)


def test_missing_subset_is_named_with_the_ones_that_exist() -> None:
    dr = destination_rule({"name": "canary"}, {"name": "v1"})
    rule = istio_settings(istio_rollout(subsets=True)).destination_rule
    assert rule is not None
    with pytest.raises(InvalidRoutingError) as err:
        subset_patch(dr, rule, canary_hash="a", stable_hash="b", match_labels={})
    assert "DestinationRule ns/web-dr has no subset named 'stable'" in str(err.value)
    assert "stableSubsetName" in str(err.value)
    assert "['canary', 'v1']" in str(err.value)


# --- tls and tcp routes -----------------------------------------------------------------------------


def _l4_service() -> dict[str, Any]:
    vs = virtual_service(http_route("primary", dest("web-stable", 100), dest("web-canary", 0)))
    vs["spec"]["tls"] = [
        {"match": [{"port": 443, "sniHosts": ["web.example.com", "www.example.com"]}],
         "route": [dest("web-stable", 100), dest("web-canary", 0)]},
        {"match": [{"port": 443, "sniHosts": ["admin.example.com"]}], "route": [dest("admin", 100)]},
    ]  # fmt: skip
    vs["spec"]["tcp"] = [
        {"match": [{"port": 5432}], "route": [dest("web-canary", 0), dest("web-stable", 100)]},
        {"match": [{"port": 6379}], "route": [dest("cache", 100)]},
    ]
    return vs


def _l4_weight(vs: dict[str, Any], canary: int, **virtual: Any) -> dict[str, Any]:
    settings = istio_settings(rollout({"istio": {"virtualService": {"name": "web-vs", **virtual}}}))
    return apply_patch(vs, weight_patch(vs, settings, canary_weight=canary))


def test_tls_and_tcp_routes_are_selected_by_their_match_and_the_http_route_is_left_alone() -> None:
    vs = _l4_service()
    out = _l4_weight(
        vs, 30, tlsRoutes=[{"port": 443, "sniHosts": ["web.example.com"]}], tcpRoutes=[{"port": 5432}]
    )
    assert [d["weight"] for d in out["spec"]["tls"][0]["route"]] == [70, 30]
    assert [d["weight"] for d in out["spec"]["tcp"][0]["route"]] == [30, 70]
    assert out["spec"]["http"] == vs["spec"]["http"]  # routes omitted: with tls/tcp, no http route
    assert out["spec"]["tls"][1] == vs["spec"]["tls"][1] and out["spec"]["tcp"][1] == vs["spec"]["tcp"][1]
    settings = istio_settings(
        rollout({"istio": {"virtualService": {"name": "web-vs", "tcpRoutes": [{"port": 5432}]}}})
    )
    assert canary_weight_in(out, settings) == 30


def test_http_routes_named_beside_tls_routes_move_together() -> None:
    out = _l4_weight(_l4_service(), 10, routes=["primary"], tlsRoutes=[{"sniHosts": ["www.example.com"]}])
    assert weights(out, 0) == [90, 10] and [d["weight"] for d in out["spec"]["tls"][0]["route"]] == [90, 10]


@pytest.mark.parametrize(
    ("virtual", "message"),
    [
        ({"tlsRoutes": [{"port": 8443}]}, r"no tls route with a match on port 8443 \(.*tlsRoutes\[0\]"),
        ({"tlsRoutes": [{"port": 443, "sniHosts": ["other.example.com"]}]}, "sniHosts other.example.com"),
        ({"tcpRoutes": [{"port": 6379}]}, r"tcp route #1 \(unnamed\).* no destination with destination.host"),
    ],
)
def test_a_selector_that_selects_nothing_or_a_route_without_our_services_is_named(
    virtual: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRoutingError, match=message):
        _l4_weight(_l4_service(), 10, **virtual)


def test_a_tls_selector_needs_a_port_or_sni_hosts() -> None:
    with pytest.raises(
        ValueError, match=r"tlsRoutes\[0\].port`: a tlsRoutes entry selects routes by port and/or"
    ):
        rollout({"istio": {"virtualService": {"name": "web-vs", "tlsRoutes": [{}]}}})
