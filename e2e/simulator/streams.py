"""A stream: steady traffic of one label set, answered by one kind of version.

Each router module (nginx, istio) turns its objects into streams; the counters turn streams and elapsed
time into request counts. A stream's labels are those of the metric series minus the status code,
which the counters add from the stream's profile (its error rate).

Besides its own family's streams, a router gets from `spread` one `app` stream per revision that served
its requests: the application's own metrics, as each pod would export them and Prometheus would scrape
them with the pod's hash attached. They are made here, once per served request, and not from the
router's series, because a router may report one request several times (Istio's two reporters) or
not tell revisions apart (NGINX labels by Service); and requests no pod served (the proxy's 503s)
have none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from e2e.simulator.backends import Revision
from e2e.simulator.profiles import NO_ENDPOINTS, Profile

Family = Literal["nginx", "istio", "app"]
Labels = tuple[tuple[str, str], ...]

# `rollouts-pod-template-hash` as Prometheus' pod relabelling spells a label name.
APP_HASH_LABEL = "rollouts_pod_template_hash"


@dataclass(frozen=True)
class Stream:
    """`rate` requests per second with these `labels`, answered as `profile` says."""

    family: Family
    labels: Labels
    rate: float
    profile: Profile

    def label(self, name: str) -> str:
        return dict(self.labels).get(name, "")


def labels(**values: str) -> Labels:
    """A label set in a canonical (sorted) order, so equal sets make equal series."""
    return tuple(sorted(values.items()))


def spread(
    revisions: tuple[Revision, ...],
    *,
    family: Family,
    rate: float,
    served: Callable[[Revision], list[Labels]],
    unserved: list[Labels],
    app: Mapping[str, str],
) -> list[Stream]:
    """Spread `rate` over the revisions in proportion to their ready pods (as a Service balances over
    its endpoints). With no ready pod at all, the whole rate becomes the proxy's 503s, labelled
    `unserved`. A revision may report under several label sets (Istio's source and destination
    reporters), each counting every request once.

    Each revision that serves also gets one `app` stream of its share, labelled `app` (the pods'
    namespace, the request class) plus its hash, whatever the router reports; unserved requests none."""
    if rate <= 0:
        return []
    total = sum(r.ready_pods for r in revisions)
    if total == 0:
        return [Stream(family=family, labels=ls, rate=rate, profile=NO_ENDPOINTS) for ls in unserved]
    streams = []
    for r in revisions:
        share = rate * r.ready_pods / total
        streams += [Stream(family=family, labels=ls, rate=share, profile=r.profile) for ls in served(r)]
        app_labels = labels(**app, **{APP_HASH_LABEL: r.pod_template_hash})
        streams.append(Stream(family="app", labels=app_labels, rate=share, profile=r.profile))
    return streams
