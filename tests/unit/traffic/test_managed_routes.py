"""Header and mirror routes as the routers write them and read them back (pure parts).

Istio: the routes go to the top of ``spec.http`` in ``managedRoutes`` order, match like the step
says, and reach the canary destination of the first managed route; every other route is left as
it was. NGINX: the canary-by-* annotations, with the precedence ingress-nginx applies.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollouts.api import SetHeaderRoute, SetMirrorRoute
from rollouts.traffic.istio_managed import managed_routes_in, routes_patch
from rollouts.traffic.istio_routes import canary_weight_in, istio_settings, weight_patch
from rollouts.traffic.nginx_ingress import (
    MANAGED_ROUTES_ANNOTATION,
    desired_canary_ingress,
    header_annotations,
    routes_of,
)
from tests.unit.traffic.jsonpatch import apply_patch
from tests.unit.traffic.manifests import (
    dest,
    http_route,
    istio_routing,
    nginx_routing,
    rollout,
    stable_ingress,
    virtual_service,
)

N = "nginx.ingress.kubernetes.io"
HEADER = SetHeaderRoute.model_validate(
    {
        "name": "beta",
        "match": [
            {"headerName": "X-Beta", "headerValue": {"exact": "yes"}},
            {"headerName": "x-team", "headerValue": {"prefix": "pay"}},
        ],
    }
)
MIRROR = SetMirrorRoute.model_validate(
    {"name": "copy", "match": [{"method": {"exact": "GET"}, "path": {"prefix": "/api"}}], "percentage": 35}
)


def _istio(routes: list[str] | None = None, *, subsets: bool = False) -> Any:
    routing = istio_routing(routes=routes, subsets=subsets) | {
        "managedRoutes": [{"name": "beta"}, {"name": "copy"}]
    }
    return istio_settings(rollout(routing))


def _vs(*extra: dict[str, Any]) -> dict[str, Any]:
    primary = http_route("primary", dest("web-stable.ns.svc.cluster.local", 80), dest("web-canary", 20))
    other = http_route("other", dest("admin", 100))
    return virtual_service(*extra, primary, other)


def test_istio_routes_go_on_top_in_order_and_leave_the_rest_alone() -> None:
    settings = _istio(["primary"])
    vs = _vs()
    after = apply_patch(vs, routes_patch(vs, settings, [HEADER, MIRROR]))
    http = after["spec"]["http"]
    assert [r.get("name") for r in http] == ["beta", "copy", "primary", "other"]
    assert http[2:] == vs["spec"]["http"]
    assert http[0] == {
        "name": "beta",
        "match": [{"headers": {"x-beta": {"exact": "yes"}}}, {"headers": {"x-team": {"prefix": "pay"}}}],
        "route": [{"destination": {"host": "web-canary"}, "weight": 100}],
    }
    assert http[1] == {
        "name": "copy",
        "match": [{"method": {"exact": "GET"}, "uri": {"prefix": "/api"}}],
        "route": vs["spec"]["http"][0]["route"],
        "mirror": {"host": "web-canary"},
        "mirrorPercentage": {"value": 35.0},
    }
    assert managed_routes_in(after, settings) == (HEADER, MIRROR)
    assert routes_patch(after, settings, [HEADER, MIRROR]) == []


def test_istio_routes_change_and_go() -> None:
    settings = _istio(["primary"])
    vs = _vs()
    both = apply_patch(vs, routes_patch(vs, settings, [HEADER, MIRROR]))
    mirror_only = apply_patch(both, routes_patch(both, settings, [MIRROR]))
    assert [r.get("name") for r in mirror_only["spec"]["http"]] == ["copy", "primary", "other"]
    assert managed_routes_in(mirror_only, settings) == (MIRROR,)
    none = apply_patch(mirror_only, routes_patch(mirror_only, settings, []))
    assert none == vs
    assert managed_routes_in(none, settings) == ()


def test_istio_subset_routes_reach_the_canary_subset() -> None:
    settings = _istio(["primary"], subsets=True)
    primary = http_route("primary", dest("web", 100, subset="stable"), dest("web", 0, subset="canary"))
    vs = virtual_service(primary)
    after = apply_patch(vs, routes_patch(vs, settings, [HEADER]))
    assert after["spec"]["http"][0]["route"] == [
        {"destination": {"host": "web", "subset": "canary"}, "weight": 100}
    ]


def test_the_weights_keep_a_mirror_route_in_step() -> None:
    settings = _istio(["primary"])
    vs = _vs()
    mirrored = apply_patch(vs, routes_patch(vs, settings, [MIRROR]))
    weighted = apply_patch(mirrored, weight_patch(mirrored, settings, canary_weight=50))
    assert weighted["spec"]["http"][0]["route"] == weighted["spec"]["http"][1]["route"]
    assert canary_weight_in(weighted, settings) == 50
    assert managed_routes_in(weighted, settings) == (MIRROR,)


def test_one_unnamed_route_stays_managed_beside_the_header_routes() -> None:
    settings = _istio(None)
    vs = virtual_service(http_route(None, dest("web-stable", 100), dest("web-canary", 0)))
    after = apply_patch(vs, routes_patch(vs, settings, [HEADER]))
    assert canary_weight_in(after, settings) == 0
    assert apply_patch(after, weight_patch(after, settings, canary_weight=10))["spec"]["http"][1]["route"][
        1
    ] == (dest("web-canary", 10))


@pytest.mark.parametrize(
    "edit",
    [
        lambda http: http[0]["match"][0]["headers"].update({"x-beta": {"exact": "no"}}),
        lambda http: http[0]["route"][0].update({"destination": {"host": "web-stable"}}),
        lambda http: http.insert(0, http.pop(2)),  # a user's route above the managed ones
        lambda http: http.insert(0, http.pop(1)),  # the two managed routes swapped
        lambda http: http[1].update({"mirrorPercentage": {"value": 90}}),
    ],
    ids=["match", "destination", "below-a-user-route", "order", "percentage"],
)
def test_an_edited_istio_route_does_not_read_back_as_the_step_wrote_it(edit: Any) -> None:
    settings = _istio(["primary"])
    vs = _vs()
    after = apply_patch(vs, routes_patch(vs, settings, [HEADER, MIRROR]))
    edited = copy.deepcopy(after)
    edit(edited["spec"]["http"])
    assert managed_routes_in(edited, settings) != (HEADER, MIRROR)  # so the engine writes them again
    repaired = apply_patch(edited, routes_patch(edited, settings, [HEADER, MIRROR]))
    assert managed_routes_in(repaired, settings) == (HEADER, MIRROR)


NGINX_ROUTING = nginx_routing() | {"managedRoutes": [{"name": "beta"}]}


def _nginx_route(*match: dict[str, Any]) -> SetHeaderRoute:
    return SetHeaderRoute.model_validate({"name": "beta", "match": list(match)})


@pytest.mark.parametrize(
    ("match", "annotations"),
    [
        (
            [{"headerName": "X-Beta", "headerValue": {"exact": "yes"}}],
            {"canary-by-header": "x-beta", "canary-by-header-value": "yes"},
        ),
        (
            [{"headerName": "x-beta", "headerValue": {"regex": "^(a|b)$"}}],
            {"canary-by-header": "x-beta", "canary-by-header-pattern": "^(a|b)$"},
        ),
        (
            [{"headerName": "x-beta", "headerValue": {"prefix": "v1.2"}}],
            {"canary-by-header": "x-beta", "canary-by-header-pattern": r"^v1\.2"},
        ),
        ([{"cookie": "beta"}], {"canary-by-cookie": "beta"}),
        (
            [{"cookie": "beta"}, {"headerName": "x-beta", "headerValue": {"exact": "1"}}],
            {"canary-by-cookie": "beta", "canary-by-header": "x-beta", "canary-by-header-value": "1"},
        ),
    ],
    ids=["exact", "regex", "prefix", "cookie", "header-and-cookie"],
)
def test_nginx_header_route_annotations(match: list[dict[str, Any]], annotations: dict[str, str]) -> None:
    route = _nginx_route(*match)
    written = header_annotations([route], prefix=N)
    assert {
        k.removeprefix(f"{N}/"): v for k, v in written.items() if k != MANAGED_ROUTES_ANNOTATION
    } == annotations
    ingress = desired_canary_ingress(
        stable_ingress(), rollout=rollout(NGINX_ROUTING), canary_weight=0, routes=[route]
    )
    assert ingress["metadata"]["annotations"][f"{N}/canary-weight"] == "0"
    assert routes_of(ingress, prefix=N) == (route,)


def test_nginx_without_a_route_reads_back_none_and_an_edit_reads_back_unknown() -> None:
    plain = desired_canary_ingress(stable_ingress(), rollout=rollout(NGINX_ROUTING), canary_weight=20)
    assert routes_of(plain, prefix=N) == ()
    route = _nginx_route({"headerName": "x-beta", "headerValue": {"exact": "yes"}})
    ingress = desired_canary_ingress(
        stable_ingress(), rollout=rollout(NGINX_ROUTING), canary_weight=20, routes=[route]
    )
    ingress["metadata"]["annotations"][f"{N}/canary-by-header-value"] = "no"
    assert routes_of(ingress, prefix=N) is None
    del ingress["metadata"]["annotations"][MANAGED_ROUTES_ANNOTATION]
    assert routes_of(ingress, prefix=N) is None  # canary-by-* the controller did not record


def nginx_serves(annotations: dict[str, str], *, headers: dict[str, str], cookies: dict[str, str]) -> str:
    """Which side ingress-nginx sends a request to, as its canary rules say (header, cookie, then
    weight: here the weight is 0). Written from ingress-nginx's documentation: a canary-by-header
    with a value or pattern routes on a match and ignores other values; without either, 'always'
    and 'never'; canary-by-cookie: 'always' and 'never', other values ignored."""
    name = annotations.get("canary-by-header")
    if name is not None and name in headers:
        value = headers[name]
        if "canary-by-header-value" in annotations:
            if value == annotations["canary-by-header-value"]:
                return "canary"
        elif "canary-by-header-pattern" in annotations:
            import re

            if re.search(annotations["canary-by-header-pattern"], value):
                return "canary"
        elif value in ("always", "never"):
            return "canary" if value == "always" else "stable"
    cookie = annotations.get("canary-by-cookie")
    if cookie is not None and cookies.get(cookie) in ("always", "never"):
        return "canary" if cookies[cookie] == "always" else "stable"
    return "stable"


@pytest.mark.parametrize(
    ("headers", "cookies", "side"),
    [
        ({"x-beta": "yes"}, {}, "canary"),
        ({"x-beta": "no"}, {}, "stable"),
        ({"x-beta": "no"}, {"beta": "always"}, "canary"),  # another header value falls through to the cookie
        ({"x-beta": "yes"}, {"beta": "never"}, "canary"),  # the header comes first
        ({}, {"beta": "never"}, "stable"),
        ({}, {"beta": "maybe"}, "stable"),  # falls through to the weight (0 here)
    ],
)
def test_nginx_precedence_header_then_cookie_then_weight(
    headers: dict[str, str], cookies: dict[str, str], side: str
) -> None:
    route = _nginx_route({"cookie": "beta"}, {"headerName": "X-Beta", "headerValue": {"exact": "yes"}})
    written = {k.removeprefix(f"{N}/"): v for k, v in header_annotations([route], prefix=N).items()}
    assert nginx_serves(written, headers=headers, cookies=cookies) == side
