"""Istio weights as pure functions: which routes and destinations a Rollout manages, and the patches.

Which http routes: the ones ``virtualService.routes`` names (each must exist); when it is omitted
(and neither ``tlsRoutes`` nor ``tcpRoutes`` is set), the VirtualService must have exactly one http
route, and that one is managed (Argo Rollouts' documented rule: the list is optional only when
there is a single route). Which ``tls`` and ``tcp`` routes: those with a ``match`` on the port (and,
for TLS, listing the SNI hosts) a ``tlsRoutes``/``tcpRoutes`` entry names; each entry must select one.

Which destinations, in each managed route:
- host-level splitting (no ``destinationRule``): the destination whose ``host`` is ``canaryService``
  and the one whose host is ``stableService`` (short name, ``<svc>.<ns>``, ``<svc>.<ns>.svc`` or the
  full ``<svc>.<ns>.svc.cluster.local``);
- subset-level splitting (``destinationRule``): the destinations whose ``subset`` is
  ``canarySubsetName`` and ``stableSubsetName``; the DestinationRule's two subsets get the label
  ``rollouts-pod-template-hash`` of the canary and stable revisions.

Everything else is left exactly as it is: unnamed routes, other routes, other destinations in a
managed route (their weight is kept and the stable side receives what remains: ``100 - canary -
others``), other subsets and other labels. The patches are RFC 6902 JSON patches that touch nothing
but the weights and the two subset labels; the I/O layer adds its concurrency guard.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollouts.api import IstioDestinationRule, Rollout
from rollouts.api.traffic_routing import IstioTcpRoute, IstioTlsRoute
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.traffic.router import FileObjects, InvalidRoutingError, LintProblem, at, check_weight, items

__all__ = [
    "IstioSettings",
    "canary_destination",
    "canary_weight_in",
    "istio_settings",
    "lint_istio",
    "managed_routes",
    "subset_indexes",
    "subset_patch",
    "subsets_labelled",
    "weight_patch",
]

JsonPatch = list[dict[str, Any]]
_ROUTES_FIELD = "spec.strategy.canary.trafficRouting.istio.virtualService.routes"


@dataclass(frozen=True, kw_only=True)
class IstioSettings:
    """The Rollout's Istio routing, resolved once per call."""

    rollout: str
    namespace: str
    virtual_service: str
    routes: tuple[str, ...] | None
    tls_routes: tuple[IstioTlsRoute, ...]
    tcp_routes: tuple[IstioTcpRoute, ...]
    stable_service: str | None
    canary_service: str | None
    destination_rule: IstioDestinationRule | None
    managed_route_names: tuple[str, ...] = ()
    """``trafficRouting.managedRoutes``: the http routes the controller adds (and so owns)."""

    @property
    def vs_ref(self) -> str:
        return f"VirtualService {self.namespace}/{self.virtual_service}"


def istio_settings(rollout: Rollout) -> IstioSettings:
    """Resolve the Rollout's Istio routing; an error says which field to set."""
    name = str(rollout.metadata.name)
    canary = rollout.spec.strategy.canary
    istio = canary.traffic_routing.istio if canary and canary.traffic_routing else None
    if canary is None or istio is None:
        raise InvalidRoutingError(
            f"Rollout {name}: spec.strategy.canary.trafficRouting.istio is not set; the Istio router needs it"
        )
    dr = istio.destination_rule
    if dr is not None and dr.canary_subset_name == dr.stable_subset_name:
        raise InvalidRoutingError(
            f"Rollout {name}: trafficRouting.istio.destinationRule.canarySubsetName and stableSubsetName "
            f"are both {dr.canary_subset_name!r}; name two different subsets of DestinationRule {dr.name}"
        )
    if dr is None and (not canary.stable_service or not canary.canary_service):
        raise InvalidRoutingError(
            f"Rollout {name}: host-level Istio routing needs spec.strategy.canary.stableService and "
            "canaryService (the destination hosts in the VirtualService); set both, or set "
            "trafficRouting.istio.destinationRule for subset-level routing"
        )
    return IstioSettings(
        rollout=name,
        namespace=str(rollout.metadata.namespace),
        virtual_service=istio.virtual_service.name,
        routes=tuple(istio.virtual_service.routes) if istio.virtual_service.routes is not None else None,
        tls_routes=tuple(istio.virtual_service.tls_routes or ()),
        tcp_routes=tuple(istio.virtual_service.tcp_routes or ()),
        stable_service=canary.stable_service,
        canary_service=canary.canary_service,
        destination_rule=dr,
        managed_route_names=tuple(canary.traffic_routing.managed_route_names())
        if canary.traffic_routing
        else (),
    )


Route = tuple[str, int]
"""A managed route: its section of the VirtualService's spec (``http``, ``tls``, ``tcp``) and index."""


def managed_routes(vs: Mapping[str, Any], settings: IstioSettings) -> list[Route]:
    """The routes the Rollout manages: the http ones in ``routes`` order, then the tls and tcp
    routes its ``tlsRoutes`` and ``tcpRoutes`` select (each selector must select one at least)."""
    spec = vs.get("spec") or {}
    http: Sequence[Mapping[str, Any]] = spec.get("http") or []
    managed: list[Route] = []
    added = [i for i, route in enumerate(http) if route.get("name") in settings.managed_route_names]
    if settings.routes is None:
        if not settings.tls_routes and not settings.tcp_routes:
            own = [i for i in range(len(http)) if i not in added]  # the header routes are ours
            if len(own) != 1:
                raise InvalidRoutingError(
                    f"{settings.vs_ref} has {len(own)} http routes; {_ROUTES_FIELD} of Rollout "
                    f"{settings.rollout} may be omitted only when there is exactly one: list the names "
                    "of the routes to update"
                )
            managed.append(("http", own[0]))
    else:
        by_name = {route.get("name"): index for index, route in reversed(list(enumerate(http)))}
        missing = [name for name in settings.routes if name not in by_name]
        if missing:
            present = sorted(str(n) for n in by_name if n)
            raise InvalidRoutingError(
                f"{settings.vs_ref} has no http route named {', '.join(map(repr, missing))} (listed in "
                f"{_ROUTES_FIELD} of Rollout {settings.rollout}); its named routes are "
                f"{present or 'none'}: fix the names in the Rollout or add the routes to the VirtualService"
            )
        managed += [("http", by_name[name]) for name in settings.routes]
    for section, position, selector, chosen in _l4_selections(spec, settings.tls_routes, settings.tcp_routes):
        if not chosen:
            raise InvalidRoutingError(
                f"{settings.vs_ref} has no {section} route with a match on {_describe(selector)} "
                f"(trafficRouting.istio.virtualService.{section}Routes[{position}] of Rollout "
                f"{settings.rollout}); fix the selector or add the route to the VirtualService"
            )
        managed += [(section, i) for i in chosen if (section, i) not in managed]
    # A mirror route the controller added carries the split too (a copy of the first managed route's).
    return managed + [("http", i) for i in added if "mirror" in http[i]]


L4Selector = IstioTlsRoute | IstioTcpRoute


def _l4_selections(
    spec: Any, tls_routes: Sequence[IstioTlsRoute], tcp_routes: Sequence[IstioTcpRoute]
) -> Iterator[tuple[str, int, L4Selector, list[int]]]:
    """Each ``tlsRoutes``/``tcpRoutes`` selector (section, its position, itself) with the indexes
    of the routes of that section of the VirtualService's ``spec`` it selects; read with ``at``
    and ``items``, so ``lint`` can give it a manifest of any shape."""
    sections: tuple[tuple[str, Sequence[L4Selector]], ...] = (("tls", tls_routes), ("tcp", tcp_routes))
    for section, selectors in sections:
        routes = items(at(spec, section))
        for position, selector in enumerate(selectors):
            yield section, position, selector, [i for i, r in enumerate(routes) if _selected(r, selector)]


def _selected(route: Any, selector: L4Selector) -> bool:
    """A route is selected when one of its ``match`` entries has the selector's port (if it
    names one) and, for TLS, lists every SNI host the selector names."""
    wanted_hosts = getattr(selector, "sni_hosts", None) or ()
    for match in items(at(route, "match")):
        if selector.port is not None and at(match, "port") != selector.port:
            continue
        hosts = items(at(match, "sniHosts"))
        if all(host in hosts for host in wanted_hosts):
            return True
    return False


def _describe(selector: L4Selector) -> str:
    parts = [] if selector.port is None else [f"port {selector.port}"]
    hosts = getattr(selector, "sni_hosts", None)
    if hosts:
        parts.append(f"sniHosts {', '.join(hosts)}")
    return " and ".join(parts)


def _hosts(service: str, namespace: str) -> frozenset[str]:
    return frozenset(
        {
            service,
            f"{service}.{namespace}",
            f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local",
        }
    )


def _route_label(route: Mapping[str, Any], where: Route) -> str:
    section, index = where
    return (
        f"{section} route {route['name']!r}" if route.get("name") else f"{section} route #{index} (unnamed)"
    )


def _roles(route: Mapping[str, Any], where: Route, settings: IstioSettings) -> tuple[int, int]:
    """Positions of the (canary, stable) destinations in ``route.route``."""
    dr = settings.destination_rule
    if dr is not None:
        want = {"canary": dr.canary_subset_name, "stable": dr.stable_subset_name}
        field, describe = "subset", "destination.subset"
    else:
        want = {"canary": str(settings.canary_service), "stable": str(settings.stable_service)}
        field, describe = "host", "destination.host"
    found: dict[str, list[int]] = {"canary": [], "stable": []}
    for pos, dest in enumerate(route.get("route") or []):
        value = (dest.get("destination") or {}).get(field)
        for role, wanted in want.items():
            matches = value == wanted if dr is not None else value in _hosts(wanted, settings.namespace)
            if matches:
                found[role].append(pos)
    label = f"{_route_label(route, where)} of {settings.vs_ref} (managed by Rollout {settings.rollout})"
    for role, positions in found.items():
        if not positions:
            raise InvalidRoutingError(
                f"{label} has no destination with {describe} {want[role]!r} (the {role}); add one "
                f"(weight 0 is fine) or fix the Rollout's {_source(role, dr is not None)}"
            )
        if len(positions) > 1:
            raise InvalidRoutingError(
                f"{label} has {len(positions)} destinations with {describe} {want[role]!r}; keep exactly one "
                "per side so the weight is unambiguous"
            )
    return found["canary"][0], found["stable"][0]


def _source(role: str, subset: bool) -> str:
    if subset:
        return f"trafficRouting.istio.destinationRule.{role}SubsetName"
    return f"spec.strategy.canary.{role}Service"


def _weight(dest: Mapping[str, Any]) -> int:
    value = dest.get("weight")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def weight_patch(vs: Mapping[str, Any], settings: IstioSettings, *, canary_weight: int) -> JsonPatch:
    """JSON patch ops that set the weights in every managed route (empty when already in place)."""
    check_weight(canary_weight)
    spec = vs.get("spec") or {}
    ops: JsonPatch = []
    for section, index in managed_routes(vs, settings):
        route = spec[section][index]
        canary_pos, stable_pos = _roles(route, (section, index), settings)
        dests = route.get("route") or []
        others = sum(_weight(d) for pos, d in enumerate(dests) if pos not in (canary_pos, stable_pos))
        stable_weight = 100 - canary_weight - others
        if stable_weight < 0:
            raise InvalidRoutingError(
                f"{_route_label(route, (section, index))} of {settings.vs_ref} gives {others}% to "
                f"destinations Rollout {settings.rollout} does not manage, so a canary weight of "
                f"{canary_weight}% does not fit in 100%; lower those weights or route them elsewhere"
            )
        for pos, weight in ((canary_pos, canary_weight), (stable_pos, stable_weight)):
            if dests[pos].get("weight") != weight:
                path = f"/spec/{section}/{index}/route/{pos}/weight"
                ops.append({"op": "add", "path": path, "value": weight})
    return ops


def canary_weight_in(vs: Mapping[str, Any], settings: IstioSettings) -> int | None:
    """The canary weight of the managed routes; ``None`` when they disagree (not yet consistent)."""
    spec = vs.get("spec") or {}
    weights = set()
    for section, index in managed_routes(vs, settings):
        route = spec[section][index]
        canary_pos, _ = _roles(route, (section, index), settings)
        weights.add(_weight(route["route"][canary_pos]))
    return weights.pop() if len(weights) == 1 else None


def canary_destination(vs: Mapping[str, Any], settings: IstioSettings) -> tuple[int, Mapping[str, Any]]:
    """The first managed http route's index and its canary ``destination``: where the header and
    mirror routes send requests (the same host or subset, port and all)."""
    spec = vs.get("spec") or {}
    for section, index in managed_routes(vs, settings):
        route = spec[section][index]
        if section == "http" and "mirror" not in route:
            canary_pos, _ = _roles(route, (section, index), settings)
            return index, route["route"][canary_pos].get("destination") or {}
    raise InvalidRoutingError(
        f"{settings.vs_ref}: Rollout {settings.rollout} adds header and mirror routes beside a managed "
        f"http route, and manages none; list one in {_ROUTES_FIELD}"
    )


def subset_indexes(dr: Mapping[str, Any], rule: IstioDestinationRule) -> tuple[int, int]:
    """Indexes in ``spec.subsets`` of the (canary, stable) subsets; an error names a missing one."""
    meta = dr.get("metadata") or {}
    subsets = (dr.get("spec") or {}).get("subsets") or []
    by_name = {s.get("name"): i for i, s in reversed(list(enumerate(subsets)))}
    found = []
    for role, name in (("canary", rule.canary_subset_name), ("stable", rule.stable_subset_name)):
        if name not in by_name:
            present = sorted(str(n) for n in by_name if n)
            raise InvalidRoutingError(
                f"DestinationRule {meta.get('namespace')}/{meta.get('name')} has no subset named {name!r} "
                f"(trafficRouting.istio.destinationRule.{role}SubsetName); its subsets are "
                f"{present or 'none'}: add the subset or fix the name"
            )
        found.append(by_name[name])
    return found[0], found[1]


def subsets_labelled(dr: Mapping[str, Any], rule: IstioDestinationRule) -> bool:
    """Both subsets of the Rollout exist and each selects a revision (carries the hash label)."""
    by_name = {s.get("name"): s for s in (dr.get("spec") or {}).get("subsets") or []}
    return all(
        POD_TEMPLATE_HASH_LABEL in ((by_name.get(name) or {}).get("labels") or {})
        for name in (rule.canary_subset_name, rule.stable_subset_name)
    )


def subset_patch(
    dr: Mapping[str, Any],
    rule: IstioDestinationRule,
    *,
    canary_hash: str,
    stable_hash: str,
    match_labels: Mapping[str, str],
) -> JsonPatch:
    """JSON patch ops that label the canary and stable subsets with their revision hash (empty if set).

    A DestinationRule whose manifest leaves ``spec.subsets`` out (the GitOps form: the subsets are
    then the controller's alone) gets both subsets, labelled with the Rollout's
    ``selector.matchLabels`` and the revision hash.
    """
    subsets = (dr.get("spec") or {}).get("subsets") or []
    if not subsets:
        value = [
            {"name": name, "labels": {**match_labels, POD_TEMPLATE_HASH_LABEL: pod_hash}}
            for name, pod_hash in (
                (rule.canary_subset_name, canary_hash),
                (rule.stable_subset_name, stable_hash),
            )
        ]
        return [{"op": "add", "path": "/spec/subsets", "value": value}]
    canary_index, stable_index = subset_indexes(dr, rule)
    ops: JsonPatch = []
    for index, pod_hash in ((canary_index, canary_hash), (stable_index, stable_hash)):
        labels = subsets[index].get("labels")
        if labels is None:
            value = {POD_TEMPLATE_HASH_LABEL: pod_hash}
            ops.append({"op": "add", "path": f"/spec/subsets/{index}/labels", "value": value})
        elif labels.get(POD_TEMPLATE_HASH_LABEL) != pod_hash:
            path = f"/spec/subsets/{index}/labels/{POD_TEMPLATE_HASH_LABEL}"
            ops.append({"op": "add", "path": path, "value": pod_hash})
    return ops


# --- offline checks (``lint``) ----------------------------------------------------------------------


def _problem(kind: str | None, name: str | None, path: str, message: str) -> LintProblem:
    return LintProblem(kind=kind, name=name, path=path, message=message)


def lint_istio(rollout: Rollout, objects: FileObjects) -> list[LintProblem]:
    """Offline: do the file's DestinationRule subsets and VirtualService routes fit the Rollout?"""
    canary = rollout.spec.strategy.canary
    istio = canary.traffic_routing.istio if canary and canary.traffic_routing else None
    if canary is None or istio is None:
        return []
    name = rollout.metadata.name
    problems: list[LintProblem] = []
    rule = istio.destination_rule
    found_rule = objects.find("DestinationRule", rule.name) if rule is not None else None
    if rule is not None and found_rule is not None:
        # No subsets at all is the GitOps form: the controller writes both (see subset_patch).
        subsets = [at(s, "name") for s in items(at(found_rule, "spec", "subsets"))]
        for subset in (rule.canary_subset_name, rule.stable_subset_name) if subsets else ():
            if subset not in subsets:
                message = (
                    f"has no subset named {subset!r}, which Rollout {name} routes to; add it (the "
                    "controller sets its pod-template hash label)"
                )
                problems.append(_problem("DestinationRule", rule.name, "spec.subsets", message))
    vs_ref = istio.virtual_service
    service = objects.find("VirtualService", vs_ref.name)
    if service is None:
        return problems
    routes = items(at(service, "spec", "http"))
    names = [at(route, "name") for route in routes]
    base = "spec.strategy.canary.trafficRouting.istio.virtualService"
    managed = canary.traffic_routing.managed_route_names() if canary.traffic_routing else []
    for index, name in enumerate(names):
        if name in managed:
            message = (
                f"route {name!r} has the name of a managedRoutes entry of Rollout {rollout.metadata.name}, "
                "which the controller adds and removes itself (it would replace this route); rename one"
            )
            problems.append(_problem("VirtualService", vs_ref.name, f"spec.http[{index}].name", message))
    targeted: list[tuple[Route, Any]] = []
    if vs_ref.routes:
        for index, wanted in enumerate(vs_ref.routes):
            if wanted in names:
                targeted.append((("http", names.index(wanted)), routes[names.index(wanted)]))
                continue
            known = ", ".join(str(n) for n in names if n) or "none is named"
            message = (
                f"route {wanted!r} is not an http route of VirtualService {vs_ref.name} (its routes: "
                f"{known}); fix the name or name the route in the VirtualService"
            )
            problems.append(_problem(None, None, f"{base}.routes[{index}]", message))
    elif vs_ref.tls_routes or vs_ref.tcp_routes:
        pass  # only the selected tls/tcp routes are managed
    elif len(routes) != 1:
        message = (
            f"is not set and VirtualService {vs_ref.name} has {len(routes)} http routes; list the names "
            "of the routes whose weights the controller sets"
        )
        problems.append(_problem(None, None, f"{base}.routes", message))
    else:
        targeted = [(("http", 0), routes[0])]
    spec = at(service, "spec")
    selections = _l4_selections(spec, vs_ref.tls_routes or (), vs_ref.tcp_routes or ())
    for section, position, selector, chosen in selections:
        if not chosen:
            message = (
                f"selects no {section} route of VirtualService {vs_ref.name} (none has a match on "
                f"{_describe(selector)}); fix the selector or add the route"
            )
            problems.append(_problem(None, None, f"{base}.{section}Routes[{position}]", message))
        routes_of_section = items(at(spec, section))
        targeted += [((section, i), routes_of_section[i]) for i in chosen]
    for where, route in targeted:
        problems += _lint_destinations(rollout, vs_ref.name, where, route)
    if canary.ping_pong is not None and istio.destination_rule is None and targeted:
        ping_pong = canary.ping_pong
        message = (
            f"with pingPong the stable Service alternates between {ping_pong.ping_service} and "
            f"{ping_pong.pong_service}, so the weights in this file send traffic to the canary in every "
            "other delivery when they are re-applied; keep the weights out of the GitOps sync (Argo CD: "
            "ignoreDifferences on spec.http with RespectIgnoreDifferences=true; Flux: annotate the "
            "VirtualService kustomize.toolkit.fluxcd.io/ssa: IfNotPresent)"
        )
        problems.append(
            LintProblem(kind="VirtualService", name=vs_ref.name, path="spec.http", message=message, note=True)
        )
    return problems


def _lint_destinations(rollout: Rollout, vs_name: str, where: Route, route: Any) -> list[LintProblem]:
    canary = rollout.spec.strategy.canary
    istio = canary.traffic_routing.istio if canary and canary.traffic_routing else None
    if canary is None or istio is None:
        return []
    destinations = [at(d, "destination") for d in items(at(route, "route"))]
    section, index = where
    label = at(route, "name") or f"#{index}"
    if istio.destination_rule is not None:
        have = [at(d, "subset") for d in destinations]
        rule = istio.destination_rule
        wanted = [("subset", rule.canary_subset_name), ("subset", rule.stable_subset_name)]
    else:
        have = [str(at(d, "host") or "").split(".")[0] for d in destinations]
        wanted = [("host", canary.canary_service or ""), ("host", canary.stable_service or "")]
    return [
        _problem(
            "VirtualService",
            vs_name,
            f"spec.{section}[{index}].route",
            f"route {label!r} has no destination with {field} {value!r}, which Rollout "
            f"{rollout.metadata.name} shifts weight to; add that destination (weight 0 for the canary)",
        )
        for field, value in wanted
        if value and value not in have
    ]
