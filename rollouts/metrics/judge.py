"""The canary judge: one PromQL for the canary and for the baseline, over a window, compared.

Each measurement makes two range queries (``custom_query_range``) over ``[now - window, now]`` at
``step``, one with ``canaryQuery`` and one with ``baselineQuery``. Every finite value of every series
of each answer is one sample of that side: a query that aggregates (``sum(rate(...))``) gives one
sample per step, one that keeps a pod label gives one per pod and step. NaN (a ratio over a step
with no requests) is no sample; the count of those dropped is in the metadata, because a canary that
got no traffic shows up there first. ``rollouts.engine.judge_stats.judge`` decides:

* Pass -> Successful, Fail -> Failed, Inconclusive -> Inconclusive (too few samples on a side, or
  too few to ever reach ``alpha``), with the judgment's reason as the message;
* the value is a small mapping (p-value and both medians), readable in ``kubectl get ar -o yaml``
  and in the Rollout's abort message; the metadata holds every figure of the test (statistic,
  pValue, medians, counts, decision) and what was asked (both resolved queries, address, window).

A query that returns no series at all gives that side 0 samples: Inconclusive, with a message naming
the query, never a Pass. Every failure the outside world can cause (no address, unreachable, a
timeout, a query Prometheus rejects, an answer that is not a matrix) is an Error measurement naming
the cause and the query; the wording and the client cache are the Prometheus provider's
(``rollouts.metrics.prometheus_client``). The canary is queried first, and a failed canary query
stops the measurement: a judgment needs both sides.

The clock is injected (``now``) so unit tests know the exact range asked for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from rollouts.api.analysis import JudgeMetric, Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.engine.judge_stats import Decision, Direction, Judgment, judge
from rollouts.metrics.prometheus_client import (
    PROMETHEUS_ADDRESS_ENV,
    ClientKey,
    PrometheusClients,
    failure,
    fallback_address,
)
from rollouts.metrics.provider import Measurement, error

__all__ = ["JudgeProvider", "samples_of"]

PHASES: Final = {
    Decision.PASS: AnalysisPhase.SUCCESSFUL,
    Decision.FAIL: AnalysisPhase.FAILED,
    Decision.INCONCLUSIVE: AnalysisPhase.INCONCLUSIVE,
}


class MatrixError(ValueError):
    """An answer that is not the matrix a range query returns."""


@dataclass(frozen=True, kw_only=True)
class Samples:
    """One side's samples: the finite values, how many NaN were dropped, how many series answered."""

    values: list[float]
    nan: int
    series: int


def samples_of(result: Any) -> Samples:
    """The samples in the ``data.result`` of a range query (what ``custom_query_range`` returns):
    a list of ``{metric, values: [[time, "text"], ...]}``. Raises :class:`MatrixError` for anything
    else, e.g. an instant vector (``{metric, value}``) from a server that ignored the range."""
    if not isinstance(result, list):
        raise MatrixError(f"the answer is not a range vector (matrix): {json.dumps(result)[:200]}")
    values: list[float] = []
    nan = 0
    for item in result:
        if isinstance(item, dict) and "value" in item and "values" not in item:
            raise MatrixError(
                "the answer is an instant vector where a range query returns a matrix; check that "
                "the address is Prometheus' own API (a proxy may have dropped the range)"
            )
        points = item.get("values") if isinstance(item, dict) else None
        if not isinstance(points, list):
            raise MatrixError(f"a series without values: {json.dumps(item)[:200]}")
        for point in points:
            try:
                value = float(point[1])  # "NaN", "+Inf" and "-Inf" read as such
            except (TypeError, ValueError, IndexError, KeyError):
                raise MatrixError(f"sample {json.dumps(point)[:80]} is not [time, number]") from None
            if math.isnan(value):
                nan += 1
            elif math.isinf(value):
                raise MatrixError(
                    f"sample value {point[1]} is infinite (a histogram_quantile in the +Inf bucket, or "
                    "a division by zero); the test needs finite numbers"
                )
            else:
                values.append(value)
    return Samples(values=values, nan=nan, series=len(result))


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


class JudgeProvider:
    """Measures ``provider.judge`` metrics. Thread-safe (the controller measures from worker threads).

    ``default_address``: the controller's ``--prometheus-address`` (else ``$PROMETHEUS_ADDRESS``);
    ``now``: the clock that ends the window; ``clients``: the client cache (one of its own if unset).
    """

    def __init__(
        self,
        *,
        default_address: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clients: PrometheusClients | None = None,
    ) -> None:
        self.default_address = fallback_address(default_address)
        self._now = now
        self._clients = clients or PrometheusClients()

    def measure(self, metric: Metric) -> Measurement:
        spec = metric.provider.judge
        if spec is None:
            return error(f"metric {metric.name!r} has no judge provider")
        address = (spec.address or self.default_address or "").rstrip("/")
        metadata = {
            "canaryQuery": spec.canary_query,
            "baselineQuery": spec.baseline_query,
            "address": address,
            "window": spec.window,
            "step": spec.step,
        }
        if not address:
            return error(
                f"metric {metric.name!r} has no Prometheus address: set provider.judge.address, or start "
                f"the controller with --prometheus-address (or ${PROMETHEUS_ADDRESS_ENV}); canary query "
                f'"{spec.canary_query}"',
                metadata=metadata,
            )
        end = self._now()  # one window for both sides
        sides: dict[str, Samples] = {}
        for side, query in (("canary", spec.canary_query), ("baseline", spec.baseline_query)):
            found = self._query(spec, address, query, end=end)
            if isinstance(found, str):
                return error(f'{found}; {side} query "{query}"', metadata=metadata)
            sides[side] = found
        return _measurement(spec, sides["canary"], sides["baseline"], metadata)

    def _query(self, spec: JudgeMetric, address: str, query: str, *, end: datetime) -> Samples | str:
        """The samples of one query over the window ending at ``end``, or why there are none (the
        cause of an Error)."""
        key = ClientKey.of(address, headers=spec.headers, timeout=spec.timeout, insecure=spec.insecure)
        step = f"{spec.step_span.total_seconds():g}"  # seconds: Prometheus' durations have no "1.5m"
        try:
            raw = self._clients.get(key).custom_query_range(
                query, start_time=end - spec.window_span, end_time=end, step=step
            )
        except Exception as exc:  # classified by failure(); anything unexpected is re-raised there
            return failure(exc, address=address, timeout=key.timeout, provider="judge")
        try:
            return samples_of(raw)
        except MatrixError as exc:
            return str(exc)


def _measurement(
    spec: JudgeMetric, canary: Samples, baseline: Samples, metadata: Mapping[str, str]
) -> Measurement:
    judgment = judge(
        canary.values,
        baseline.values,
        direction=Direction(spec.direction),
        min_samples=spec.min_samples,
        alpha=spec.alpha,
        min_effect=spec.min_effect,
    )
    message = judgment.reason
    for side, samples, query in (
        ("canary", canary, spec.canary_query),
        ("baseline", baseline, spec.baseline_query),
    ):
        if samples.series == 0:
            message += f'; the {side} query returned no series over {spec.window}: "{query}"'
    return Measurement(
        phase=PHASES[judgment.decision],
        value={
            "pValue": _rounded(judgment.p_value),
            "canaryMedian": _rounded(judgment.canary_median),
            "baselineMedian": _rounded(judgment.baseline_median),
        },
        message=message,
        metadata={**metadata, **_figures(judgment, canary, baseline)},
    )


def _figures(judgment: Judgment, canary: Samples, baseline: Samples) -> dict[str, str]:
    figures = {
        "decision": judgment.decision.value,
        "statistic": _figure(judgment.statistic),
        "pValue": _figure(judgment.p_value),
        "canaryMedian": _figure(judgment.canary_median),
        "baselineMedian": _figure(judgment.baseline_median),
        "canaryCount": str(judgment.canary_count),
        "baselineCount": str(judgment.baseline_count),
        "canaryNaN": str(canary.nan),
        "baselineNaN": str(baseline.nan),
    }
    return {name: text for name, text in figures.items() if text}
