"""The controller's own Prometheus metrics, in the text exposition format.

A few counters, one histogram and one gauge do not justify a client library: this module keeps
them in plain dicts and renders them on each scrape of ``/metrics``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["BUCKETS", "ControllerMetrics"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the reconcile duration histogram."""


def _labels(pairs: Mapping[str, str]) -> str:
    if not pairs:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(pairs.items()))
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class ControllerMetrics:
    """Reconciles and errors by outcome, reconcile duration, and (read at scrape) Rollouts by phase
    and the AnalysisRun controller's measurements and status writes."""

    phases: Callable[[], Mapping[str, int]] = dict
    analysis_measurements: Callable[[], Mapping[str, int]] = dict
    """Measurements taken by the AnalysisRun controller, by phase (read at scrape)."""
    analysis_status_writes: Callable[[], int] = int
    """AnalysisRun status writes made by the AnalysisRun controller (read at scrape)."""
    api_requests: Callable[[], Mapping[str, int]] = dict
    """Requests made to the API server, keyed ``"VERB Kind[/subresource]"`` (read at scrape)."""
    events_queued: Callable[[], int] = int
    """Events emitted and not yet posted (read at scrape): a backlog that keeps growing means the
    API server takes Events slower than the controller makes them, and a full one drops them."""
    reconciles: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    _bucket_counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    _duration_sum: float = 0.0
    _duration_count: int = 0

    def observe_reconcile(self, *, seconds: float, outcome: str) -> None:
        """Count one pass (``outcome``: ``ok``, ``requeue`` or ``error``) and its duration."""
        self.reconciles[outcome] += 1
        self._duration_sum += seconds
        self._duration_count += 1
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self._bucket_counts[index] += 1

    def observe_error(self, kind: str) -> None:
        self.errors[kind] += 1

    def render(self) -> str:
        lines = [
            "# HELP kube_rollouts_reconciles_total Reconcile passes, by outcome.",
            "# TYPE kube_rollouts_reconciles_total counter",
        ]
        for outcome in sorted(set(self.reconciles) | {"ok"}):
            lines.append(
                f"kube_rollouts_reconciles_total{_labels({'outcome': outcome})} {self.reconciles[outcome]}"
            )
        lines += [
            "# HELP kube_rollouts_reconcile_errors_total Failed passes, by error kind.",
            "# TYPE kube_rollouts_reconcile_errors_total counter",
        ]
        for kind in sorted(self.errors):
            lines.append(f"kube_rollouts_reconcile_errors_total{_labels({'kind': kind})} {self.errors[kind]}")
        lines += [
            "# HELP kube_rollouts_reconcile_duration_seconds Duration of one observe-decide-act pass.",
            "# TYPE kube_rollouts_reconcile_duration_seconds histogram",
        ]
        for bound, count in zip(BUCKETS, self._bucket_counts, strict=True):
            lines.append(f'kube_rollouts_reconcile_duration_seconds_bucket{{le="{bound}"}} {count}')
        lines.append(f'kube_rollouts_reconcile_duration_seconds_bucket{{le="+Inf"}} {self._duration_count}')
        lines.append(f"kube_rollouts_reconcile_duration_seconds_sum {self._duration_sum:.6f}")
        lines.append(f"kube_rollouts_reconcile_duration_seconds_count {self._duration_count}")
        lines += [
            "# HELP kube_rollouts_rollouts Rollouts watched, by phase.",
            "# TYPE kube_rollouts_rollouts gauge",
        ]
        counts = dict(self.phases())
        for phase in sorted(set(counts) | {"Healthy", "Progressing", "Paused", "Degraded"}):
            lines.append(f"kube_rollouts_rollouts{_labels({'phase': phase})} {counts.get(phase, 0)}")
        lines += [
            "# HELP kube_rollouts_analysis_measurements_total Analysis measurements taken, by phase.",
            "# TYPE kube_rollouts_analysis_measurements_total counter",
        ]
        measured = dict(self.analysis_measurements())
        for phase in sorted(set(measured) | {"Successful", "Failed", "Inconclusive", "Error"}):
            labels = _labels({"phase": phase})
            lines.append(f"kube_rollouts_analysis_measurements_total{labels} {measured.get(phase, 0)}")
        lines += [
            "# HELP kube_rollouts_analysis_status_writes_total AnalysisRun status writes.",
            "# TYPE kube_rollouts_analysis_status_writes_total counter",
            f"kube_rollouts_analysis_status_writes_total {self.analysis_status_writes()}",
            "# HELP kube_rollouts_api_requests_total Requests to the API server, by verb and kind.",
            "# TYPE kube_rollouts_api_requests_total counter",
            "# HELP kube_rollouts_events_queued Events emitted and not yet posted to the API server.",
            "# TYPE kube_rollouts_events_queued gauge",
            f"kube_rollouts_events_queued {self.events_queued()}",
        ]
        for key, count in sorted(self.api_requests().items()):
            verb, _, kind = key.partition(" ")
            lines.append(f"kube_rollouts_api_requests_total{_labels({'verb': verb, 'kind': kind})} {count}")
        return "\n".join(lines) + "\n"
