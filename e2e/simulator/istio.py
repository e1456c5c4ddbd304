"""Istio: requests through each VirtualService's HTTP routes, split by destination weight, as streams.

How the simulator reads a VirtualService:
- Each VirtualService gets `rate` requests per second, spread evenly over its HTTP routes that plain
  requests reach: a route whose every match clause needs a header gets nothing (the simulator sends
  no headers), as Argo's header routes do not carry ordinary traffic.
- A route splits its requests over its destinations by `weight` (a lone destination without a weight
  takes everything, as in Istio). A destination's `host` names a Service (`name`, `name.namespace`, or
  the cluster-local FQDN); a `subset` narrows it to the pods matching that subset's labels in the
  DestinationRule for the same host (host-level and subset-level canaries both work).
- Requests a ready pod serves are reported twice, as Istio's sidecars do: `reporter="source"` (the
  caller's side) and `reporter="destination"` (the pod's side), labelled with the pod's workload (the
  Rollout or Deployment), namespace, Service and `version` label. Requests with no ready pod behind
  their destination (or an unknown subset) are the caller's 503s, reported by the source only, with
  `destination_workload="unknown"`.
"""

from __future__ import annotations

from e2e.simulator.backends import NamespaceObjects, Obj, Revision, name_of, revisions_behind
from e2e.simulator.streams import Labels, Stream, labels, spread

CLUSTER_DOMAIN = "svc.cluster.local"


def service_of(host: str, namespace: str) -> tuple[str, str]:
    """(namespace, Service name) that a destination host names, resolved from `namespace`."""
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    return parts[1], parts[0]


def receives_plain_requests(route: Obj) -> bool:
    """False when every match clause of the route requires a header the simulator never sends."""
    clauses = route.get("match") or []
    return not clauses or any(not (clause or {}).get("headers") for clause in clauses)


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


def istio_streams(objects: NamespaceObjects, *, rate: float) -> list[Stream]:
    """The request streams of every VirtualService of the namespace."""
    streams: list[Stream] = []
    for vs in sorted(objects.virtual_services, key=name_of):
        routes = [r for r in vs.get("spec", {}).get("http") or [] if receives_plain_requests(r)]
        for route in routes:
            for destination, share in destination_shares(route):
                streams += _destination(objects, destination, rate=rate / len(routes) * share)
    return streams


def _destination(objects: NamespaceObjects, destination: Obj, *, rate: float) -> list[Stream]:
    namespace, service = service_of(str(destination.get("host", "")), objects.namespace)
    common = {
        "destination_service": f"{service}.{namespace}.{CLUSTER_DOMAIN}",
        "destination_service_name": service,
        "destination_service_namespace": namespace,
        "request_protocol": "http",
        "source_workload": "traffic-simulator",
        "source_workload_namespace": objects.namespace,
    }
    unserved = [
        labels(
            **common,
            reporter="source",
            destination_workload="unknown",
            destination_workload_namespace=namespace,
            destination_version="unknown",
        )
    ]
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
            for reporter in ("source", "destination")
        ]

    return spread(revisions, family="istio", rate=rate, served=served, unserved=unserved)
