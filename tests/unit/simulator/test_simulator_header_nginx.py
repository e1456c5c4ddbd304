"""NGINX header and cookie canaries, per request class: the header first, then the cookie, then the
weight, as ingress-nginx decides; tagged classes' series carry `request_class`, plain ones do not."""

from __future__ import annotations

import pytest

from e2e.simulator import NamespaceObjects, RequestClass, Simulation, request_mix
from e2e.simulator.nginx import canary_takes, nginx_streams
from tests.unit.simulator.objects import header_canary_ingress, ingress, pods, replica_set, service

NS = "shop"
CANARY_UPSTREAM = f"{NS}-web-canary-80"


def _request(headers: dict[str, str] | None = None, cookies: dict[str, str] | None = None) -> RequestClass:
    return RequestClass(share=1.0, name="t", headers=headers or {}, cookies=cookies or {})


# (annotations of the canary, the request's headers, its cookies, share the canary takes)
PRECEDENCE = [
    pytest.param({"header": "x-beta", "header_value": "yes"}, {"x-beta": "yes"}, {}, 1.0, id="value match"),
    pytest.param(
        {"header": "x-beta", "header_value": "yes"}, {"X-Beta": "yes"}, {}, 1.0, id="header name any case"
    ),
    pytest.param(
        {"header": "X-Beta", "header_value": "yes"}, {"x-beta": "yes"}, {}, 1.0, id="annotated name any case"
    ),
    pytest.param({"header": "x-beta", "header_value": "yes"}, {"x-beta": "YES"}, {}, 0.2, id="value exact"),
    pytest.param(
        {"header": "x-beta", "header_value": "yes"}, {"x-beta": "no"}, {}, 0.2, id="other -> weight"
    ),
    pytest.param(
        {"header": "x-beta", "header_value": "yes", "cookie": "beta"},
        {"x-beta": "no"},
        {"beta": "always"},
        1.0,
        id="other value falls to the cookie",
    ),
    pytest.param(
        {"header": "x-beta", "header_value": "yes", "cookie": "beta"},
        {"x-beta": "yes"},
        {"beta": "never"},
        1.0,
        id="header before cookie",
    ),
    pytest.param(
        {"header": "x-beta", "header_value": "always"},
        {"x-beta": "never"},
        {},
        0.2,
        id="with a value, never is just another value",
    ),
    pytest.param({"header": "x-beta"}, {"x-beta": "always"}, {}, 1.0, id="always"),
    pytest.param(
        {"header": "x-beta", "cookie": "beta"}, {"x-beta": "never"}, {"beta": "always"}, 0.0, id="never"
    ),
    pytest.param({"header": "x-beta"}, {"x-beta": "yes"}, {}, 0.2, id="no value: other ignored"),
    pytest.param({"header": "x-beta", "header_pattern": r"^v2\."}, {"x-beta": "v2.1"}, {}, 1.0, id="pattern"),
    pytest.param(
        {"header": "x-beta", "header_pattern": r"^v2\."}, {"x-beta": "v3.0"}, {}, 0.2, id="no match"
    ),
    pytest.param(
        {"header": "x-beta", "header_pattern": "beta"}, {"x-beta": "my-beta-user"}, {}, 1.0, id="unanchored"
    ),
    pytest.param(
        {"header": "x-beta", "header_pattern": "v2", "cookie": "beta"},
        {"x-beta": "x"},
        {"beta": "always"},
        1.0,
        id="pattern miss falls to the cookie",
    ),
    pytest.param(
        {"header": "x-beta", "header_value": "yes", "header_pattern": ".*"},
        {"x-beta": "no"},
        {},
        0.2,
        id="value wins over pattern",
    ),
    pytest.param(
        {"header": "x-beta", "header_pattern": "(", "cookie": "beta"},
        {"x-beta": "v2"},
        {"beta": "always"},
        0.0,
        id="bad pattern -> stable",
    ),
    pytest.param({"cookie": "beta"}, {}, {"beta": "always"}, 1.0, id="cookie always"),
    pytest.param({"cookie": "beta"}, {}, {"beta": "never"}, 0.0, id="cookie never"),
    pytest.param({"cookie": "beta"}, {}, {"beta": "yes"}, 0.2, id="cookie other -> weight"),
    pytest.param({"cookie": "beta"}, {"cookie": "a=1; beta=always"}, {}, 1.0, id="cookie from the header"),
    pytest.param(
        {"header": "x-beta", "cookie": "beta"}, {"x-other": "always"}, {}, 0.2, id="falls to weight"
    ),
    pytest.param({"header": "x-beta", "header_value": "yes"}, {}, {}, 0.2, id="nothing sent -> weight"),
]


@pytest.mark.parametrize(("by", "headers", "cookies", "share"), PRECEDENCE)
def test_header_then_cookie_then_weight(
    by: dict[str, str], headers: dict[str, str], cookies: dict[str, str], share: float
) -> None:
    canary = header_canary_ingress("web-canary", service_name="web-canary", weight=20, **by)
    assert canary_takes(canary, _request(headers, cookies)) == pytest.approx(share)


def test_a_cookie_never_keeps_a_full_weight_canary_away() -> None:
    canary = header_canary_ingress("web-canary", service_name="web-canary", weight=100, cookie="beta")
    assert canary_takes(canary, _request(cookies={"beta": "never"})) == 0.0
    assert canary_takes(canary, _request()) == 1.0


def test_the_header_annotations_count_under_any_prefix() -> None:
    canary = header_canary_ingress(
        "web-canary", service_name="web-canary", prefix="custom.io", header="x-beta", header_value="yes"
    )
    assert canary_takes(canary, _request({"x-beta": "yes"})) == 1.0
    not_canary = {"metadata": {"annotations": {"nginx.ingress.kubernetes.io/canary-by-header": "x-beta"}}}
    assert canary_takes(not_canary, _request({"x-beta": "always"})) == 0.0


def _objects(**by: str) -> NamespaceObjects:
    return NamespaceObjects(
        namespace=NS,
        services=(
            service("web-stable", app="web", **{"rollouts-pod-template-hash": "aaa"}),
            service("web-canary", app="web", **{"rollouts-pod-template-hash": "bbb"}),
        ),
        pods=(*pods("web", "aaa", image="web:1", ready=4), *pods("web", "bbb", image="web:2", ready=1)),
        replica_sets=(
            replica_set("web-aaa", owner="web", pod_hash="aaa"),
            replica_set("web-bbb", owner="web", pod_hash="bbb"),
        ),
        ingresses=(
            ingress("web", service_name="web-stable"),
            header_canary_ingress("web-canary", service_name="web-canary", weight=0, **by),
        ),
    )


BETA = RequestClass(share=0.2, name="beta", method="POST", path="/api", headers={"x-beta": "yes"})


def _rates(objects: NamespaceObjects, *classes: RequestClass) -> dict[tuple[str, str], float]:
    """Requests per second by (request_class, canary), counted over 100 s of simulated time."""
    sim = Simulation(rate=50, request_classes=classes)
    sim.observe([objects])
    sim.tick(0.0)
    sim.tick(100.0)
    rates: dict[tuple[str, str], float] = {}
    for (family, ls), value in sim.counters.requests.items():
        if family == "nginx":
            key = (dict(ls).get("request_class", ""), dict(ls)["canary"])
            rates[key] = rates.get(key, 0.0) + int(value) / 100
    return rates


def test_at_weight_zero_only_the_tagged_requests_reach_a_header_canary() -> None:
    rates = _rates(_objects(header="x-beta", header_value="yes"), BETA)
    assert rates == pytest.approx({("", ""): 40, ("beta", CANARY_UPSTREAM): 10}, abs=0.02)


def test_without_a_request_class_the_header_canary_gets_nothing() -> None:
    rates = _rates(_objects(header="x-beta", header_value="yes"))
    assert rates == pytest.approx({("", ""): 50}, abs=0.02)


def test_a_tagged_class_that_misses_the_header_falls_to_the_weight_of_zero() -> None:
    other = RequestClass(share=0.3, name="other", headers={"x-beta": "no"})
    rates = _rates(_objects(header="x-beta", header_value="yes"), BETA, other)
    assert rates == pytest.approx({("", ""): 25, ("other", ""): 15, ("beta", CANARY_UPSTREAM): 10}, abs=0.02)


def test_tagged_series_carry_their_class_and_method_and_plain_ones_stay_as_they_were() -> None:
    streams = nginx_streams(_objects(header="x-beta", header_value="yes"), rate=50, mix=request_mix([BETA]))
    tagged = next(s for s in streams if s.label("request_class") == "beta")
    plain = next(s for s in streams if not s.label("request_class"))
    assert dict(tagged.labels) == {
        "namespace": NS, "ingress": "web", "service": "web-stable", "canary": CANARY_UPSTREAM,
        "host": "web.example.com", "path": "/", "method": "POST", "request_class": "beta",
    }  # fmt: skip
    assert dict(plain.labels) == {
        "namespace": NS, "ingress": "web", "service": "web-stable", "canary": "",
        "host": "web.example.com", "path": "/", "method": "GET",
    }  # fmt: skip
