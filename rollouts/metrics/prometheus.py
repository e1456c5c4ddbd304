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

Why the client is built lazily and kept per (address, headers, timeout): prometheus-api-client
imports ``requests`` (about 0.1 s), which the CLI and the unit tests of other modules should not
pay for; and a client holds a connection pool, so one per Prometheus keeps connections warm
across measurements instead of opening one per query. Retries are off: the next measurement is
the retry, and ``consecutiveErrorLimit`` says how many misses are tolerated; the client's
default (three retries with back-off) would turn one unreachable Prometheus into seconds of
silence per measurement.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from rollouts.api.analysis import Metric, PrometheusMetric
from rollouts.engine.expressions import MeasurementValue
from rollouts.metrics.provider import Measurement, error, judged

if TYPE_CHECKING:
    from prometheus_api_client import PrometheusConnect

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "PROMETHEUS_ADDRESS_ENV", "PrometheusProvider", "shape_result"]

DEFAULT_TIMEOUT_SECONDS: Final = 10
"""Seconds a query may take when the metric sets no ``timeout``."""

PROMETHEUS_ADDRESS_ENV: Final = "PROMETHEUS_ADDRESS"
"""Environment variable with the default address, when the controller got no --prometheus-address."""

_CLIENTS_KEPT: Final = 32
_POOL_SIZE: Final = 32


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


def _rejection(exc: Exception) -> str:
    """Prometheus' own explanation from a non-200 answer ("HTTP Status Code 400 (b'{...}')")."""
    text = str(exc)
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        raw = text[start : end + 1]
        try:
            body = json.loads(raw.encode().decode("unicode_escape"))
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and body.get("error"):
            code = text.split("(")[0].replace("HTTP Status Code", "HTTP").strip()
            return f"Prometheus rejected the query ({code} {body.get('errorType', '')}: {body['error']})"
    return f"Prometheus answered with an error ({text[:300]})"


def _failure(exc: Exception, *, address: str, timeout: float) -> str:
    """The cause of a failed query in a user's words, by exception type (requests' hierarchy)."""
    import requests
    from prometheus_api_client.exceptions import PrometheusApiClientException

    if isinstance(exc, PrometheusApiClientException):
        reason = _rejection(exc)
        if " 401 " in f" {reason} " or " 403 " in f" {reason} ":
            reason += "; check the Authorization header and the Secret it comes from"
        return reason
    if isinstance(exc, requests.Timeout):
        return f"Prometheus at {address} did not answer within {timeout:g}s (timeout)"
    if isinstance(exc, requests.exceptions.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return (
            f"Prometheus at {address} has a TLS certificate this controller does not trust; give the "
            "controller its CA, or set provider.prometheus.insecure: true to skip the check"
        )
    if isinstance(exc, requests.ConnectionError):
        return f"Prometheus at {address} is unreachable ({type(exc).__name__}: {_short(exc)})"
    if isinstance(exc, requests.RequestException | ValueError | KeyError | TypeError):
        what = f"{type(exc).__name__}: {_short(exc)}"
        return f"Prometheus at {address} gave an answer that could not be read ({what})"
    raise exc


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass(frozen=True, slots=True)
class _ClientKey:
    address: str
    headers: tuple[tuple[str, str], ...]
    timeout: float
    insecure: bool = False


class PrometheusProvider:
    """Measures ``provider.prometheus`` metrics with prometheus-api-client's ``custom_query``.

    ``default_address`` is used when a metric names no address (the controller's
    ``--prometheus-address``, else ``$PROMETHEUS_ADDRESS``). Thread-safe: the controller calls
    :meth:`measure` from worker threads.
    """

    def __init__(self, *, default_address: str | None = None) -> None:
        self.default_address = default_address or os.environ.get(PROMETHEUS_ADDRESS_ENV) or None
        self._clients: OrderedDict[_ClientKey, PrometheusConnect] = OrderedDict()
        self._lock = threading.Lock()

    def _client(self, key: _ClientKey) -> PrometheusConnect:
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        import requests
        from prometheus_api_client import PrometheusConnect
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        retry = Retry(total=0, read=False, redirect=0, raise_on_status=False)
        session = requests.Session()
        session.verify = not key.insecure  # the client reads it from the session it is given
        # The client mounts its own adapter (10 pooled connections) on the address; one on the
        # longer query prefix wins, sized for the controller's measurement threads.
        session.mount(f"{key.address}/api/", HTTPAdapter(max_retries=retry, pool_maxsize=_POOL_SIZE))
        client = PrometheusConnect(
            url=key.address,
            headers=dict(key.headers) or None,
            retry=retry,
            session=session,
            timeout=math.ceil(key.timeout),
        )
        with self._lock:
            self._clients[key] = client
            while len(self._clients) > _CLIENTS_KEPT:
                _, old = self._clients.popitem(last=False)
                old.close()
        return client

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
        timeout = float(spec.timeout or DEFAULT_TIMEOUT_SECONDS)
        headers = tuple((h.key, h.value) for h in spec.headers or [])
        try:
            raw = self._client(_ClientKey(address, headers, timeout, spec.insecure)).custom_query(spec.query)
        except Exception as exc:  # classified below; anything unexpected is re-raised there
            return error(f"{_failure(exc, address=address, timeout=timeout)}; {shown}", metadata=metadata)
        try:
            value = shape_result(raw)
        except ShapeError as exc:
            return error(f"{exc}; {shown}", metadata=metadata)
        return judged(metric, value, shown=shown, metadata=metadata)
