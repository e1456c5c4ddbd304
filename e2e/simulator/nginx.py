"""NGINX Ingress: which share of each stable Ingress's traffic its canary Ingress takes, as streams.

How ingress-nginx behaves, and so how the simulator does:
- An Ingress annotated `<prefix>/canary: "true"` is a canary. It is merged into the location of the
  non-canary Ingress with the same host and path, and takes `<prefix>/canary-weight` out of
  `<prefix>/canary-weight-total` (default 100) of that location's requests. Any annotation prefix is
  recognised (the controller's `--annotations-prefix`, a Rollout's `annotationPrefix`). A canary with
  no matching stable location gets nothing, as in nginx. Header and cookie canaries get nothing: the
  simulator sends no headers.
- Metric labels are those of `nginx_ingress_controller_requests`: `namespace`, `ingress`, `service`,
  `path`, `host`, `method`, `status`, and `canary`. All requests of the location carry the *stable*
  Ingress's name and Service (nginx labels by location); `canary` is empty for requests the stable
  backend served and holds the canary upstream's name, `<namespace>-<service>-<port>`, for those the
  canary backend served. A query for the canary's traffic is therefore
  `nginx_ingress_controller_requests{ingress="<stable ingress>", canary!=""}`.
- Each stable Ingress gets `rate` requests per second, spread evenly over its host/path locations.
"""

from __future__ import annotations

from dataclasses import dataclass

from e2e.simulator.backends import NamespaceObjects, Obj, Revision, name_of, revisions_behind
from e2e.simulator.streams import Labels, Stream, labels, spread


@dataclass(frozen=True)
class Location:
    """One host/path of an Ingress and the Service port it routes to."""

    host: str
    path: str
    service: str
    port: str


def _annotations(obj: Obj) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("annotations") or {})


def canary_prefix(ingress: Obj) -> str | None:
    """The annotation prefix under which this Ingress is marked a canary, or None if it is not one."""
    for key, value in _annotations(ingress).items():
        if key.endswith("/canary") and str(value).strip().lower() == "true":
            return key[: -len("/canary")]
    return None


def canary_share(ingress: Obj) -> float:
    """The share (0..1) of its location's requests a canary Ingress takes; 0 when unset or invalid."""
    prefix = canary_prefix(ingress)
    if prefix is None:
        return 0.0
    notes = _annotations(ingress)
    try:
        weight = int(notes.get(f"{prefix}/canary-weight", "0"))
        total = int(notes.get(f"{prefix}/canary-weight-total", "100"))
    except ValueError:
        return 0.0
    if total <= 0:
        return 0.0
    return min(max(weight / total, 0.0), 1.0)


def locations(ingress: Obj) -> list[Location]:
    """The host/path locations of an Ingress (its rules), with the Service port each routes to."""
    found = []
    for rule in ingress.get("spec", {}).get("rules") or []:
        host = str(rule.get("host", ""))
        for path in (rule.get("http") or {}).get("paths") or []:
            svc = (path.get("backend") or {}).get("service") or {}
            port = svc.get("port") or {}
            if svc.get("name"):
                found.append(
                    Location(
                        host=host,
                        path=str(path.get("path", "/")),
                        service=str(svc["name"]),
                        port=str(port.get("number") or port.get("name") or ""),
                    )
                )
    return found


def _canary_for(location: Location, canaries: list[Obj]) -> tuple[Obj, Location] | None:
    for canary in sorted(canaries, key=name_of):
        for loc in locations(canary):
            if (loc.host, loc.path) == (location.host, location.path):
                return canary, loc
    return None


def nginx_streams(objects: NamespaceObjects, *, rate: float) -> list[Stream]:
    """The request streams of every stable Ingress of the namespace, split with its canary."""
    canaries = [i for i in objects.ingresses if canary_prefix(i) is not None]
    streams: list[Stream] = []
    for ingress in sorted(objects.ingresses, key=name_of):
        if canary_prefix(ingress) is not None:
            continue
        locs = locations(ingress)
        for loc in locs:
            per_location = rate / len(locs)
            base = {
                "namespace": objects.namespace,
                "ingress": name_of(ingress),
                "service": loc.service,
                "host": loc.host,
                "path": loc.path,
                "method": "GET",
            }
            match = _canary_for(loc, canaries)
            share = canary_share(match[0]) if match else 0.0
            streams += _route(objects, base, loc.service, canary="", rate=per_location * (1 - share))
            if match:
                canary_loc = match[1]
                upstream = f"{objects.namespace}-{canary_loc.service}-{canary_loc.port}"
                streams += _route(
                    objects, base, canary_loc.service, canary=upstream, rate=per_location * share
                )
    return streams


def _route(
    objects: NamespaceObjects, base: dict[str, str], service: str, *, canary: str, rate: float
) -> list[Stream]:
    series = labels(**base, canary=canary)

    def served(_: Revision) -> list[Labels]:
        return [series]

    revisions = revisions_behind(objects, service=service)
    return spread(revisions, family="nginx", rate=rate, served=served, unserved=[series])
