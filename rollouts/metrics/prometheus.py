"""Prometheus: an instant PromQL query, its answer shaped for conditions, every failure an Error.

Shaping (what a condition sees as ``result``):

* a **scalar** becomes a number (``result > 0.9``);
* an instant **vector** becomes a list of numbers in Prometheus' order (``result[0] >= 0.95``);
* a **string** stays a string;
* a range vector (**matrix**) is an Error: a condition cannot judge a series of samples, and the
  fix (an instant query, e.g. ``rate(x[5m])`` rather than ``x[5m]``) is in the message.

Strictness: Prometheus unreachable, a timeout, a query Prometheus rejects (HTTP 400 with its
parse error), any other HTTP error, an answer that is not Prometheus JSON: each is an Error
measurement naming the cause and showing the resolved query. An empty vector or NaN reaches the
engine's judgement, which calls it "no data" (an Error, unless a ``failureCondition`` such as
``isNaN(result)`` explicitly matches it); it is never a success.

The client cache and the wording of each failure are shared with the judge
(``rollouts.metrics.prometheus_client``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rollouts.api.analysis import Metric, PrometheusMetric
from rollouts.engine.expressions import MeasurementValue
from rollouts.metrics.prometheus_client import (
    DEFAULT_TIMEOUT_SECONDS,
    PROMETHEUS_ADDRESS_ENV,
    ClientKey,
    PrometheusClients,
    failure,
    fallback_address,
)
from rollouts.metrics.provider import Measurement, error, judged

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "PROMETHEUS_ADDRESS_ENV", "PrometheusProvider", "shape_result"]


class ShapeError(ValueError):
    """An answer a condition cannot judge (a matrix, or JSON that is not a Prometheus result)."""


def _number(text: Any) -> float:
    try:
        return float(text)  # Prometheus writes "NaN", "+Inf", "-Inf" as such; float() reads them
    except (TypeError, ValueError):
        raise ShapeError(f"sample value {text!r} is not a number") from None


def shape_result(result: Any) -> MeasurementValue:
    """The ``data.result`` of an instant query (what ``custom_query`` returns) as a condition's
    ``result``. prometheus-api-client drops ``resultType``, so the shape tells: a scalar or
    string is ``[time, "text"]``; a vector is a list of ``{metric, value}``; a matrix a list of
    ``{metric, values}``."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        text = result[1]
        try:
            return float(text)
        except (TypeError, ValueError):
            return str(text)
    if not isinstance(result, list):
        raise ShapeError(f"unexpected result {json.dumps(result)[:200]}")
    values: list[float] = []
    for item in result:
        if not isinstance(item, dict):
            raise ShapeError(f"unexpected series {json.dumps(item)[:200]}")
        if "values" in item:
            raise ShapeError(
                "the query returned a range vector (matrix), which a condition cannot judge; "
                "make it an instant query, e.g. rate(metric[5m]) or avg_over_time(metric[5m]) "
                "instead of metric[5m]"
            )
        sample = item.get("value")
        if not isinstance(sample, list) or len(sample) != 2:
            raise ShapeError(f"series without a value: {json.dumps(item)[:200]}")
        values.append(_number(sample[1]))
    return values


class PrometheusProvider:
    """Measures ``provider.prometheus`` metrics with prometheus-api-client's ``custom_query``.

    ``default_address`` is used when a metric names no address (the controller's
    ``--prometheus-address``, else ``$PROMETHEUS_ADDRESS``). Thread-safe: the controller calls
    :meth:`measure` from worker threads.
    """

    def __init__(
        self, *, default_address: str | None = None, clients: PrometheusClients | None = None
    ) -> None:
        self.default_address = fallback_address(default_address)
        self._clients = clients or PrometheusClients()

    def measure(self, metric: Metric) -> Measurement:
        spec = metric.provider.prometheus
        if spec is None:
            return error(f"metric {metric.name!r} has no prometheus provider")
        return self._query(metric, spec)

    def _query(self, metric: Metric, spec: PrometheusMetric) -> Measurement:
        address = (spec.address or self.default_address or "").rstrip("/")
        shown = f'query "{spec.query}"'
        metadata: Mapping[str, str] = {"query": spec.query, "address": address}
        if not address:
            return error(
                f"metric {metric.name!r} has no Prometheus address: set provider.prometheus.address, or "
                f"start the controller with --prometheus-address (or ${PROMETHEUS_ADDRESS_ENV}); {shown}",
                metadata=metadata,
            )
        key = ClientKey.of(address, headers=spec.headers, timeout=spec.timeout, insecure=spec.insecure)
        try:
            raw = self._clients.get(key).custom_query(spec.query)
        except Exception as exc:  # classified by failure(); anything unexpected is re-raised there
            return error(f"{failure(exc, address=address, timeout=key.timeout)}; {shown}", metadata=metadata)
        try:
            value = shape_result(raw)
        except ShapeError as exc:
            return error(f"{exc}; {shown}", metadata=metadata)
        return judged(metric, value, shown=shown, metadata=metadata)
