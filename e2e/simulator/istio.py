"""Istio: requests through each VirtualService's HTTP routes, split by destination weight, as streams.

How the simulator reads a VirtualService:
- Each VirtualService gets `rate` requests per second, shared by the classes of the request mix
  (`mix`; by default plain requests only: `GET /`, no headers). As in Envoy, each request takes the
  FIRST route of `spec.http` whose `match` matches it; a route without `match` (or with an empty
  clause) matches everything, and a request no route matches is not counted (Envoy's 404 is not
  simulated). So plain requests pass over the header routes Argo-style controllers put on top and
  reach the primary route, while tagged requests can be caught above it.
- A `match` is a list of clauses, ORed; the fields of one clause are ANDed: `uri` (the class's path
  without its query; `exact`, `prefix`, `regex`, and `ignoreUriCase`), `method`, `headers` (keys
  case-insensitive; a header the request lacks fails; an empty match `{}` asks only for presence),
  `withoutHeaders` (the opposite) and `queryParams` (from the class's path after `?`). A `regex` must
  match the whole value, as Envoy's RE2 matchers do (Python's `re.fullmatch` here; one that does not
  compile matches nothing). Fields the simulator cannot judge (`authority`, `scheme`, `port`,
  `sourceLabels`, `sourceNamespace`, `gateways`) are ignored, i.e. taken as matching.
- A route splits its requests over its destinations by `weight` (a lone destination without a weight
  takes everything, as in Istio). A destination's `host` names a Service (`name`, `name.namespace`, or
  the cluster-local FQDN); a `subset` narrows it to the pods matching that subset's labels in the
  DestinationRule for the same host (host-level and subset-level canaries both work).
- A route with `mirror: {host, subset?}` also sends `mirrorPercentage.value` percent (the deprecated
  `mirrorPercent` too; 100 when neither is set) of its requests to the mirror's pods as shadow
  requests. The caller's answer still comes from the route's destinations; shadow requests are
  reported by the destination only (`reporter="destination"`), as Envoy's shadows are, with the
  mirror pods' own profile. A mirror with no ready pod behind it reports nothing.
- Requests a ready pod serves are reported twice, as Istio's sidecars do: `reporter="source"` (the
  caller's side) and `reporter="destination"` (the pod's side), labelled with the pod's workload (the
  Rollout or Deployment), namespace, Service and `version` label. Requests with no ready pod behind
  their destination (or an unknown subset) are the caller's 503s, reported by the source only, with
  `destination_workload="unknown"`. A tagged class's series also carry `request_class="<name>"`
  (plain series do not have the label).
- The app family (`streams`) counts each request a pod served once, by the pod's hash: as the
  destination reporter does (shadow requests included), not as both reporters together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qs

from e2e.simulator.backends import NamespaceObjects, Obj, Revision, name_of, revisions_behind
from e2e.simulator.mix import PLAIN, RequestClass
from e2e.simulator.streams import Labels, Stream, labels, spread

CLUSTER_DOMAIN = "svc.cluster.local"


def service_of(host: str, namespace: str) -> tuple[str, str]:
    """(namespace, Service name) that a destination host names, resolved from `namespace`."""
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    return parts[1], parts[0]


def string_matches(spec: Obj | None, value: str | None, *, ignore_case: bool = False) -> bool:
    """Istio's StringMatch: `exact`, `prefix` or a whole-value `regex`; an empty one asks only that
    the value be there. A missing value (None) never matches."""
    if value is None:
        return False
    spec = spec or {}
    if "exact" in spec:
        want = str(spec["exact"])
        return value.lower() == want.lower() if ignore_case else value == want
    if "prefix" in spec:
        want = str(spec["prefix"])
        return value.lower().startswith(want.lower()) if ignore_case else value.startswith(want)
    if "regex" in spec:
        try:
            return re.fullmatch(str(spec["regex"]), value) is not None
        except re.error:
            return False
    return True


def clause_matches(clause: Obj | None, request: RequestClass) -> bool:
    """One HTTPMatchRequest: every field it sets must match the request (see the module docstring)."""
    clause = clause or {}
    if "uri" in clause and not string_matches(
        clause["uri"], request.uri_path, ignore_case=bool(clause.get("ignoreUriCase"))
    ):
        return False
    if "method" in clause and not string_matches(clause["method"], request.method):
        return False
    for name, spec in (clause.get("headers") or {}).items():
        if not string_matches(spec, request.header(str(name))):
            return False
    for name, spec in (clause.get("withoutHeaders") or {}).items():
        if string_matches(spec, request.header(str(name))):
            return False
    query = parse_qs(request.query, keep_blank_values=True)
    for name, spec in (clause.get("queryParams") or {}).items():
        values = query.get(str(name))
        if not string_matches(spec, values[0] if values else None):
            return False
    return True


def route_matches(route: Obj, request: RequestClass) -> bool:
    """Whether a request of this class can take the route: no `match` at all, or any clause matches."""
    clauses = route.get("match") or []
    return not clauses or any(clause_matches(clause, request) for clause in clauses)


def first_route(routes: Sequence[Obj], request: RequestClass) -> Obj | None:
    """The route Envoy picks for a request: the first whose match matches it (None: no route does)."""
    return next((route for route in routes if route_matches(route, request)), None)


def receives_plain_requests(route: Obj) -> bool:
    """Whether a plain request (`GET /`, no headers) matches the route (header-only routes: no)."""
    return route_matches(route, PLAIN)


def mirror_share(route: Obj) -> float:
    """The share (0..1) of a route's requests its `mirror` shadows: 0 without a mirror."""
    if not route.get("mirror"):
        return 0.0
    percentage = route.get("mirrorPercentage")
    try:
        if isinstance(percentage, dict) and percentage.get("value") is not None:
            value = float(percentage["value"])
        elif route.get("mirrorPercent") is not None:
            value = float(route["mirrorPercent"])
        else:
            value = 100.0
    except (TypeError, ValueError):
        return 0.0
    return min(max(value / 100, 0.0), 1.0)


def destination_shares(route: Obj) -> list[tuple[Obj, float]]:
    """Each destination of an HTTP route with its share (0..1) of the route's requests."""
    destinations = route.get("route") or []
    if len(destinations) == 1 and destinations[0].get("weight") is None:
        return [(destinations[0].get("destination") or {}, 1.0)]
    weights = [max(int(d.get("weight") or 0), 0) for d in destinations]
    total = sum(weights)
    if total == 0:
        return []
    return [(d.get("destination") or {}, w / total) for d, w in zip(destinations, weights, strict=True)]


def subset_labels(objects: NamespaceObjects, *, service: str, subset: str) -> dict[str, str] | None:
    """The labels of `subset` in the DestinationRule for `service`, or None when no rule defines it."""
    for rule in sorted(objects.destination_rules, key=name_of):
        host = str(rule.get("spec", {}).get("host", ""))
        if service_of(host, objects.namespace) != (objects.namespace, service):
            continue
        for entry in rule.get("spec", {}).get("subsets") or []:
            if entry.get("name") == subset:
                return dict(entry.get("labels") or {})
    return None


def istio_streams(
    objects: NamespaceObjects, *, rate: float, mix: Sequence[RequestClass] = (PLAIN,)
) -> list[Stream]:
    """The request streams of every VirtualService of the namespace, each class of the request mix
    (`mix.request_mix`; by default plain requests only) through the first route that matches it."""
    streams: list[Stream] = []
    for vs in sorted(objects.virtual_services, key=name_of):
        routes = list(vs.get("spec", {}).get("http") or [])
        for request in mix:
            route = first_route(routes, request)
            if route is None:
                continue
            class_rate = rate * request.share
            extra = request.labels()
            for destination, share in destination_shares(route):
                streams += _destination(objects, destination, rate=class_rate * share, extra=extra)
            mirror = route.get("mirror")
            if isinstance(mirror, dict):
                streams += _destination(
                    objects, mirror, rate=class_rate * mirror_share(route), extra=extra, shadow=True
                )
    return streams


def _destination(
    objects: NamespaceObjects,
    destination: Obj,
    *,
    rate: float,
    extra: dict[str, str] | None = None,
    shadow: bool = False,
) -> list[Stream]:
    """Streams of requests sent to one destination; `shadow` ones (a mirror's) are reported by the
    destination pods only, and nobody reports those that find no pod."""
    namespace, service = service_of(str(destination.get("host", "")), objects.namespace)
    common = {
        **(extra or {}),
        "destination_service": f"{service}.{namespace}.{CLUSTER_DOMAIN}",
        "destination_service_name": service,
        "destination_service_namespace": namespace,
        "request_protocol": "http",
        "source_workload": "traffic-simulator",
        "source_workload_namespace": objects.namespace,
    }
    no_pod = labels(
        **common,
        reporter="source",
        destination_workload="unknown",
        destination_workload_namespace=namespace,
        destination_version="unknown",
    )
    unserved = [] if shadow else [no_pod]  # nobody reports a shadow request that finds no pod
    reporters = ("destination",) if shadow else ("source", "destination")
    revisions: tuple[Revision, ...] = ()
    if namespace == objects.namespace:
        subset = destination.get("subset")
        narrowed = subset_labels(objects, service=service, subset=str(subset)) if subset else {}
        if narrowed is not None:
            revisions = revisions_behind(objects, service=service, subset_labels=narrowed)

    def served(revision: Revision) -> list[Labels]:
        return [
            labels(
                **common,
                reporter=reporter,
                destination_workload=revision.workload,
                destination_workload_namespace=namespace,
                destination_version=revision.version,
            )
            for reporter in reporters
        ]

    # The pods serve each request once, shadows included, however many reporters report it.
    app = {"namespace": objects.namespace, **(extra or {})}
    return spread(revisions, family="istio", rate=rate, served=served, unserved=unserved, app=app)
