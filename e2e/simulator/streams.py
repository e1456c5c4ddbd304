"""A stream: steady traffic of one label set, answered by one kind of version.

Each router module (nginx, istio) turns its objects into streams; the counters turn streams and elapsed
time into request counts. A stream's labels are those of the metric series minus the status code,
which the counters add from the stream's profile (its error rate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from e2e.simulator.backends import Revision
from e2e.simulator.profiles import NO_ENDPOINTS, Profile

Family = Literal["nginx", "istio"]
Labels = tuple[tuple[str, str], ...]


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
) -> list[Stream]:
    """Spread `rate` over the revisions in proportion to their ready pods (as a Service balances over
    its endpoints). With no ready pod at all, the whole rate becomes the proxy's 503s, labelled
    `unserved`. A revision may report under several label sets (Istio's source and destination
    reporters), each counting every request once."""
    if rate <= 0:
        return []
    total = sum(r.ready_pods for r in revisions)
    if total == 0:
        return [Stream(family=family, labels=ls, rate=rate, profile=NO_ENDPOINTS) for ls in unserved]
    return [
        Stream(family=family, labels=ls, rate=rate * r.ready_pods / total, profile=r.profile)
        for r in revisions
        for ls in served(r)
    ]
