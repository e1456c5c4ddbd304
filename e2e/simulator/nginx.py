"""NGINX Ingress: which share of each stable Ingress's traffic its canary Ingress takes, as streams.

How ingress-nginx behaves, and so how the simulator does:
- An Ingress annotated `<prefix>/canary: "true"` is a canary. It is merged into the location of the
  non-canary Ingress with the same host and path, and takes `<prefix>/canary-weight` out of
  `<prefix>/canary-weight-total` (default 100) of that location's requests. Any annotation prefix is
  recognised (the controller's `--annotations-prefix`, a Rollout's `annotationPrefix`). A canary with
  no matching stable location gets nothing, as in nginx.
- Header and cookie canaries are decided per request class (`mix`), in ingress-nginx's order:
  1. `<prefix>/canary-by-header: <name>`, when the request carries that header (any case): with
     `<prefix>/canary-by-header-value` a value equal to it goes to the canary; else with
     `<prefix>/canary-by-header-pattern` a value the regex finds (a search, anchored only if the
     pattern anchors itself) goes to the canary, and a pattern that does not compile sends it to the
     stable backend; with neither, `always` goes to the canary and `never` to the stable backend. Any
     other value is ignored (on to the cookie).
  2. `<prefix>/canary-by-cookie: <name>`, when the request carries that cookie: `always` -> canary,
     `never` -> stable, anything else is ignored (on to the weight).
  3. the weight, for whatever falls through. Plain requests carry no header or cookie: weight only.
- Metric labels are those of `nginx_ingress_controller_requests`: `namespace`, `ingress`, `service`,
  `path`, `host`, `method`, `status`, and `canary`. All requests of the location carry the *stable*
  Ingress's name and Service (nginx labels by location); `canary` is empty for requests the stable
  backend served and holds the canary upstream's name, `<namespace>-<service>-<port>`, for those the
  canary backend served. A query for the canary's traffic is therefore
  `nginx_ingress_controller_requests{ingress="<stable ingress>", canary!=""}`. `method` is the request
  class's method (`GET` for plain requests), and a tagged class's series also carry
  `request_class="<name>"` (see `mix`; plain series do not have the label).
- The requests a pod served (not the 503s of a backend without ready pods) are also counted in the
  app family, by the pod's hash (`streams`): that, not these labels, tells two revisions behind one
  canary Service apart.
- Each stable Ingress gets `rate` requests per second, spread evenly over its host/path locations,
  and each class takes its share of every location: a class's path does not pick the location (the
  `path` label is the Ingress path, as in nginx).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from e2e.simulator.backends import NamespaceObjects, Obj, Revision, name_of, revisions_behind
from e2e.simulator.mix import PLAIN, RequestClass
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


def canary_takes(ingress: Obj, request: RequestClass = PLAIN) -> float:
    """The share (0..1) of one request class's requests a canary Ingress takes: its header, then its
    cookie, then its weight decide, as ingress-nginx does (see the module docstring)."""
    prefix = canary_prefix(ingress)
    if prefix is None:
        return 0.0
    notes = _annotations(ingress)
    header = str(notes.get(f"{prefix}/canary-by-header", "")).strip()
    value = request.header(header) if header else None
    if value is not None:
        exact = str(notes.get(f"{prefix}/canary-by-header-value", ""))
        pattern = str(notes.get(f"{prefix}/canary-by-header-pattern", ""))
        if exact:
            if value == exact:
                return 1.0
        elif pattern:
            try:
                if re.search(pattern, value):
                    return 1.0
            except re.error:
                return 0.0  # nginx logs the error and routes to the stable backend
        elif value == "always":
            return 1.0
        elif value == "never":
            return 0.0
    cookie_name = str(notes.get(f"{prefix}/canary-by-cookie", "")).strip()
    cookie = request.cookie(cookie_name) if cookie_name else None
    if cookie == "always":
        return 1.0
    if cookie == "never":
        return 0.0
    return canary_share(ingress)


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


def nginx_streams(
    objects: NamespaceObjects, *, rate: float, mix: Sequence[RequestClass] = (PLAIN,)
) -> list[Stream]:
    """The request streams of every stable Ingress of the namespace, split with its canary, for each
    class of the request mix (`mix.request_mix`; by default plain requests only)."""
    canaries = [i for i in objects.ingresses if canary_prefix(i) is not None]
    streams: list[Stream] = []
    for ingress in sorted(objects.ingresses, key=name_of):
        if canary_prefix(ingress) is not None:
            continue
        locs = locations(ingress)
        for loc in locs:
            match = _canary_for(loc, canaries)
            for request in mix:
                per_location = rate * request.share / len(locs)
                base = {
                    "namespace": objects.namespace,
                    "ingress": name_of(ingress),
                    "service": loc.service,
                    "host": loc.host,
                    "path": loc.path,
                    "method": request.method,
                    **request.labels(),
                }
                share = canary_takes(match[0], request) if match else 0.0
                streams += _route(
                    objects, base, loc.service, canary="", rate=per_location * (1 - share), request=request
                )
                if match:
                    canary_loc = match[1]
                    upstream = f"{objects.namespace}-{canary_loc.service}-{canary_loc.port}"
                    streams += _route(
                        objects,
                        base,
                        canary_loc.service,
                        canary=upstream,
                        rate=per_location * share,
                        request=request,
                    )
    return streams


def _route(
    objects: NamespaceObjects,
    base: dict[str, str],
    service: str,
    *,
    canary: str,
    rate: float,
    request: RequestClass,
) -> list[Stream]:
    series = labels(**base, canary=canary)

    def served(_: Revision) -> list[Labels]:
        return [series]

    revisions = revisions_behind(objects, service=service)
    app = {"namespace": objects.namespace, **request.labels()}
    return spread(revisions, family="nginx", rate=rate, served=served, unserved=[series], app=app)
