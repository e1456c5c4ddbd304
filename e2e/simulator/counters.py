"""Request counters and duration histograms, advanced by streams and elapsed time.

The counts are expected values, not random draws: `rate * seconds` requests per stream, of which
exactly `error_rate` are errors, with latencies spread over the buckets by the profile's distribution.
Totals are kept as floats and shown rounded down, so every exposed counter is a whole number that never
decreases, and a rate over any window is the configured one within one request. This makes the
simulator's numbers exact enough for tests to assert on, with no seed to manage.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

from e2e.simulator.profiles import Profile
from e2e.simulator.streams import Family, Labels, Stream


@dataclass(frozen=True)
class FamilySpec:
    """How one router's metrics are named and shaped (following the real exporters)."""

    requests: str
    requests_help: str
    duration: str
    duration_help: str
    status_label: str
    buckets: tuple[float, ...]
    unit: float  # multiplier from seconds to the histogram's unit


# The Prometheus Go client's default buckets (`prometheus.DefBuckets`), in seconds.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

FAMILIES: dict[Family, FamilySpec] = {
    "nginx": FamilySpec(
        requests="nginx_ingress_controller_requests",
        requests_help="The total number of client requests",
        duration="nginx_ingress_controller_request_duration_seconds",
        duration_help="The request processing time in seconds",
        status_label="status",
        buckets=DEFAULT_BUCKETS,  # ingress-nginx keeps the client's defaults
        unit=1.0,
    ),
    "istio": FamilySpec(
        requests="istio_requests_total",
        requests_help="Total requests",
        duration="istio_request_duration_milliseconds",
        duration_help="Request duration in milliseconds",
        status_label="response_code",
        buckets=(0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000),
        unit=1000.0,
    ),
    # The application's own metrics, as a service instrumented with a Prometheus client library (Go's
    # promhttp: a counter and a histogram, both by `code`) exports them from every pod.
    "app": FamilySpec(
        requests="http_requests_total",
        requests_help="Total number of HTTP requests served, by status code",
        duration="http_request_duration_seconds",
        duration_help="Time taken to serve HTTP requests, in seconds",
        status_label="code",
        buckets=DEFAULT_BUCKETS,
        unit=1.0,
    ),
}

SeriesKey = tuple[Family, Labels]


@functools.cache
def _bucket_shares(profile: Profile, family: Family) -> tuple[float, ...]:
    """Share of a profile's requests within each bucket bound (a profile has few, fixed values)."""
    spec = FAMILIES[family]
    return tuple(profile.latency_cdf(bound / spec.unit) for bound in spec.buckets)


class Counters:
    """Running totals per series: requests, and per histogram series its buckets and sum."""

    def __init__(self) -> None:
        self.requests: dict[SeriesKey, float] = defaultdict(float)
        self.buckets: dict[SeriesKey, list[float]] = {}
        self.duration_sum: dict[SeriesKey, float] = defaultdict(float)

    def advance(self, streams: list[Stream], seconds: float) -> None:
        """Add `seconds` worth of every stream's requests."""
        if seconds <= 0:
            return
        for stream in streams:
            spec = FAMILIES[stream.family]
            count = stream.rate * seconds
            errors = count * stream.profile.error_rate
            ok_status = "200"
            for status, n in ((ok_status, count - errors), (stream.profile.error_status, errors)):
                if n <= 0:
                    continue
                key: SeriesKey = (stream.family, tuple(sorted((*stream.labels, (spec.status_label, status)))))
                self.requests[key] += n
                cdf = _bucket_shares(stream.profile, stream.family)
                held = self.buckets.setdefault(key, [0.0] * len(spec.buckets))
                for i, share in enumerate(cdf):
                    held[i] += n * share
                self.duration_sum[key] += n * stream.profile.mean_seconds * spec.unit

    def total(self, family: Family, **match: str) -> int:
        """Exposed request count summed over the series whose labels include `match` (for tests)."""
        return sum(
            int(v)
            for (fam, ls), v in self.requests.items()
            if fam == family and all(dict(ls).get(k) == want for k, want in match.items())
        )
