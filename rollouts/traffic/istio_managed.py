"""Header and mirror routes in an Istio VirtualService, as pure functions.

The controller adds one http route per route in force, named as in ``managedRoutes``, at the top
of ``spec.http`` in that order, so they take precedence over the user's routes:

- a header route matches each condition in a ``match`` entry of its own (Istio ORs the entries)
  and sends the requests to the canary destination of the first managed route (its host or
  subset and port) with weight 100;
- a mirror route matches like the Rollout says (all of method, uri and headers in one entry),
  routes as the first managed route does (a copy of its destinations; the weight writes keep it
  in step) and mirrors ``percentage`` percent to the canary destination.

An http route with a ``managedRoutes`` name is the controller's: the names are reserved for it,
and every other route is left exactly as it is. The patch removes the managed routes there are
and adds the wanted ones, guarded like the weights by the resourceVersion it was computed from.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from rollouts.api.managed_routes import (
    HeaderRoutingMatch,
    ManagedRoute,
    RouteMatch,
    SetHeaderRoute,
    SetMirrorRoute,
    StringMatch,
)
from rollouts.traffic.istio_routes import IstioSettings, JsonPatch, canary_destination

__all__ = ["managed_routes_in", "render_route", "routes_patch"]


def _string_match(match: StringMatch) -> dict[str, str]:
    return match.model_dump(exclude_none=True)


def render_route(route: ManagedRoute, vs: Mapping[str, Any], settings: IstioSettings) -> dict[str, Any]:
    """The http route the controller writes for ``route`` into ``vs``."""
    index, destination = canary_destination(vs, settings)
    if isinstance(route, SetHeaderRoute):
        matches = [
            {"headers": {str(m.header_name): _string_match(m.header_value)}}
            for m in route.match or []
            if m.header_value is not None
        ]
        return {
            "name": route.name,
            "match": matches,
            "route": [{"destination": copy.deepcopy(dict(destination)), "weight": 100}],
        }
    first = (vs.get("spec") or {})["http"][index]
    return {
        "name": route.name,
        "match": [_request_match(m) for m in route.match or []],
        "route": copy.deepcopy(first.get("route") or []),
        "mirror": copy.deepcopy(dict(destination)),
        "mirrorPercentage": {"value": float(route.percentage)},
    }


def _request_match(match: RouteMatch) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if match.method is not None:
        rendered["method"] = _string_match(match.method)
    if match.path is not None:
        rendered["uri"] = _string_match(match.path)
    if match.headers:
        rendered["headers"] = {name: _string_match(value) for name, value in match.headers.items()}
    return rendered


def managed_routes_in(vs: Mapping[str, Any], settings: IstioSettings) -> tuple[ManagedRoute, ...] | None:
    """The managed routes ``vs`` holds, read back as the steps set them; ``None`` when they are not
    as the controller writes them (out of order, below a user's route, edited, or pointing at
    another destination): the engine then writes them again."""
    http = (vs.get("spec") or {}).get("http") or []
    names = settings.managed_route_names
    positions = [i for i, route in enumerate(http) if route.get("name") in names]
    if positions != list(range(len(positions))):
        return None  # not all at the top
    found = [_parsed(http[i]) for i in positions]
    routes = tuple(r for r in found if r is not None)
    if len(routes) != len(found) or [r.name for r in routes] != [n for n in names if n in _names(routes)]:
        return None
    for route, i in zip(routes, positions, strict=True):
        if _unweighted(render_route(route, vs, settings)) != _unweighted(http[i]):
            return None
    return routes


def _names(routes: Sequence[ManagedRoute]) -> set[str]:
    return {route.name for route in routes}


def _unweighted(route: Mapping[str, Any]) -> dict[str, Any]:
    """A route without a mirror route's split: the weight writes keep that one in step."""
    return {k: v for k, v in route.items() if not (k == "route" and "mirror" in route)}


def _parsed(route: Mapping[str, Any]) -> ManagedRoute | None:
    try:
        if "mirror" in route:
            matches = [RouteMatch.model_validate(_request_fields(m)) for m in route.get("match") or []]
            percentage = (route.get("mirrorPercentage") or {}).get("value", 100)
            return SetMirrorRoute(name=str(route["name"]), match=matches, percentage=int(percentage))
        header_matches = []
        for m in route.get("match") or []:
            headers = m.get("headers") or {}
            if len(headers) != 1 or set(m) != {"headers"}:
                return None
            ((name, value),) = headers.items()
            value_match = StringMatch.model_validate(value)
            header_matches.append(HeaderRoutingMatch(header_name=name, header_value=value_match))
        return SetHeaderRoute(name=str(route["name"]), match=header_matches)
    except (ValidationError, TypeError, ValueError, AttributeError):
        return None


def _request_fields(match: Mapping[str, Any]) -> dict[str, Any]:
    fields = {"method": match.get("method"), "path": match.get("uri"), "headers": match.get("headers")}
    return {key: value for key, value in fields.items() if value is not None}


def routes_patch(vs: Mapping[str, Any], settings: IstioSettings, routes: Sequence[ManagedRoute]) -> JsonPatch:
    """JSON patch ops that make ``routes`` the managed routes at the top of ``spec.http`` (empty when
    they already are)."""
    if managed_routes_in(vs, settings) == tuple(routes):
        return []
    http = (vs.get("spec") or {}).get("http") or []
    names = settings.managed_route_names
    rendered = [render_route(route, vs, settings) for route in routes]
    ops: JsonPatch = [
        {"op": "remove", "path": f"/spec/http/{i}"}
        for i in reversed(range(len(http)))
        if http[i].get("name") in names
    ]
    ops += [{"op": "add", "path": f"/spec/http/{i}", "value": value} for i, value in enumerate(rendered)]
    return ops
