"""Header and mirror routes (``managedRoutes``): which of them the router should hold now.

The routes are not kept in the status: they follow from the steps. The ones in force are those
the steps up to the current one set (the latest step for a name wins; a step without ``match``
removes its route), in ``managedRoutes`` order, and none once the steps are done, after an
abort, or with no canary in progress. The router reads back what it holds, so a route step
completes only once the cluster shows it, like a weight.

The safety rule of ``canary_traffic`` holds here too: a route only ever starts sending requests
to a canary that is selected by its Service and available at its planned size. While the canary
grows for the next step the routes it already serves are kept, and routes can always be removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rollouts.api.managed_routes import ManagedRoute, SetHeaderRoute, StringMatch
from rollouts.api.strategy import CanaryStrategy
from rollouts.engine.canary_traffic import canary_reached, canary_selected
from rollouts.engine.plan import SetRoutes

if TYPE_CHECKING:
    from rollouts.engine.canary import Canary

__all__ = ["describe_route", "describe_routes", "manages_routes", "route_requests", "routes_in_force"]


def manages_routes(spec: CanaryStrategy | None) -> bool:
    """The canary lists ``managedRoutes`` (else no route is ever read or written)."""
    routing = spec.traffic_routing if spec is not None else None
    return routing is not None and bool(routing.managed_routes)


def routes_in_force(c: Canary) -> tuple[ManagedRoute, ...]:
    """The routes the steps so far ask for, highest precedence first."""
    routing = c.spec.traffic_routing
    if routing is None or c.promoted or c.ctx.draft.abort or c.index >= len(c.steps):
        return ()
    latest: dict[str, ManagedRoute] = {}
    for step in c.steps[: c.index + 1]:
        route = step.managed_route()
        if route is not None:
            latest[route.name] = route
    wanted = (latest.get(name) for name in routing.managed_route_names())
    return tuple(route for route in wanted if route is not None and route.match is not None)


def _canary_can_take(c: Canary) -> bool:
    new_rs = c.ctx.new_rs
    if new_rs is None or not canary_selected(c) or new_rs.available == 0:
        return False
    return c.ctx.available(new_rs) or canary_reached(c)


def route_requests(c: Canary) -> None:
    """Plan the routes in force (those the canary can take now) when the router holds others."""
    if not manages_routes(c.spec):
        return
    held = c.ctx.snap.router_routes
    wanted = routes_in_force(c)
    if not _canary_can_take(c):
        still_served = c.ctx.new_rs is not None and c.ctx.new_rs.available > 0 and canary_selected(c)
        wanted = tuple(r for r in held or () if r in wanted) if still_served else ()
    if wanted == held:
        return
    c.ctx.plan.add(SetRoutes(routes=wanted))
    c.ctx.plan.event("TrafficRoutesUpdated", describe_routes(wanted))


def describe_routes(routes: tuple[ManagedRoute, ...]) -> str:
    """``Managed routes: header route beta (x-beta exact 'yes' or cookie beta) to the canary``."""
    if not routes:
        return "Managed routes: none (all requests follow the weight)"
    return "Managed routes: " + "; ".join(describe_route(route) for route in routes)


def describe_route(route: ManagedRoute) -> str:
    """One route in words, for Events and ``plan``; a route without ``match`` is a removal."""
    if route.match is None:
        return f"{'header' if isinstance(route, SetHeaderRoute) else 'mirror'} route {route.name} removed"
    if isinstance(route, SetHeaderRoute):
        conditions = " or ".join(
            f"cookie {m.cookie}=always"
            if m.cookie is not None
            else f"{m.header_name} {_match(m.header_value)}"
            for m in route.match or []
        )
        return f"header route {route.name} ({conditions}) to the canary"
    matches = " or ".join(
        " and ".join(
            part
            for part in (
                f"method {_match(m.method)}" if m.method else "",
                f"path {_match(m.path)}" if m.path else "",
                *(f"{name} {_match(v)}" for name, v in (m.headers or {}).items()),
            )
            if part
        )
        for m in route.match or []
    )
    return f"mirror route {route.name} ({matches}) copies {route.percentage}% to the canary"


def _match(value: StringMatch | None) -> str:
    if value is None:
        return "any"
    kind, text = next(
        (k, v)
        for k, v in (("exact", value.exact), ("prefix", value.prefix), ("regex", value.regex))
        if v is not None
    )
    return f"{kind} {text!r}"
