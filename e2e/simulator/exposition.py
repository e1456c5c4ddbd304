"""The Prometheus text exposition format (version 0.0.4) of the counters.

Counters and buckets are shown rounded down (see `counters`): whole requests, never decreasing, each
bucket at most the `+Inf` one, which equals `_count`, as Prometheus expects of a histogram.
"""

from __future__ import annotations

from e2e.simulator.counters import FAMILIES, Counters, SeriesKey
from e2e.simulator.streams import Labels

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Labels, *extra: tuple[str, str]) -> str:
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in (*pairs, *extra))
    return "{" + body + "}"


def _bound(value: float) -> str:
    return f"{value:g}"  # as the Go client prints bucket bounds: 0.005, 1, 10


def render(counters: Counters, *, extra: list[str] | None = None) -> str:
    """All series in text format; `extra` lines (already formatted) are appended as they are."""
    lines: list[str] = []
    for family, spec in FAMILIES.items():
        keys: list[SeriesKey] = sorted(k for k in counters.requests if k[0] == family)
        if not keys:
            continue
        lines += [f"# HELP {spec.requests} {spec.requests_help}", f"# TYPE {spec.requests} counter"]
        lines += [f"{spec.requests}{_labels(ls)} {int(counters.requests[(fam, ls)])}" for fam, ls in keys]
        lines += [f"# HELP {spec.duration} {spec.duration_help}", f"# TYPE {spec.duration} histogram"]
        for key in keys:
            _, ls = key
            count = int(counters.requests[key])
            for bound, held in zip(spec.buckets, counters.buckets[key], strict=True):
                lines.append(
                    f"{spec.duration}_bucket{_labels(ls, ('le', _bound(bound)))} {min(int(held), count)}"
                )
            lines.append(f"{spec.duration}_bucket{_labels(ls, ('le', '+Inf'))} {count}")
            lines.append(f"{spec.duration}_sum{_labels(ls)} {counters.duration_sum[key]:.6f}")
            lines.append(f"{spec.duration}_count{_labels(ls)} {count}")
    lines += extra or []
    return "\n".join(lines) + "\n"
