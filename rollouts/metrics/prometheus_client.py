"""What every provider that queries Prometheus shares: the client cache and the failure wording.

The ``prometheus`` provider (one instant query) and the ``judge`` (two range queries) talk to the
same servers in the same way, so a refused query, a timeout or an untrusted certificate reads the
same in both, and the connection handling is written once.

Why the client is built lazily and kept per (address, headers, timeout, insecure): prometheus-api-
client imports ``requests`` (about 0.1 s), which the CLI and the unit tests of other modules should
not pay for; and a client holds a connection pool, so one per Prometheus keeps connections warm
across measurements instead of opening one per query. Retries are off: the next measurement is the
retry, and ``consecutiveErrorLimit`` says how many misses are tolerated; the client's default (three
retries with back-off) would turn one unreachable Prometheus into seconds of silence per
measurement.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from rollouts.api.common import WebMetricHeader

if TYPE_CHECKING:
    from prometheus_api_client import PrometheusConnect

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "PROMETHEUS_ADDRESS_ENV",
    "ClientKey",
    "PrometheusClients",
    "failure",
    "fallback_address",
]

DEFAULT_TIMEOUT_SECONDS: Final = 10
"""Seconds a query may take when the metric sets no ``timeout``."""

PROMETHEUS_ADDRESS_ENV: Final = "PROMETHEUS_ADDRESS"
"""Environment variable with the default address, when the controller got no --prometheus-address."""

_CLIENTS_KEPT: Final = 32
_POOL_SIZE: Final = 32


def fallback_address(flag: str | None) -> str | None:
    """The address a metric without one uses: the controller's flag, else ``$PROMETHEUS_ADDRESS``."""
    return flag or os.environ.get(PROMETHEUS_ADDRESS_ENV) or None


@dataclass(frozen=True, slots=True)
class ClientKey:
    """What makes two clients different: the server, what is sent with each query, how long it waits."""

    address: str
    headers: tuple[tuple[str, str], ...]
    timeout: float
    insecure: bool = False

    @classmethod
    def of(
        cls,
        address: str,
        *,
        headers: list[WebMetricHeader] | None,
        timeout: int | None,
        insecure: bool | None,
    ) -> ClientKey:
        """The key for a metric's fields (``timeout`` unset: :data:`DEFAULT_TIMEOUT_SECONDS`)."""
        return cls(
            address,
            tuple((h.key, h.value) for h in headers or []),
            float(timeout or DEFAULT_TIMEOUT_SECONDS),
            bool(insecure),
        )


class PrometheusClients:
    """prometheus-api-client clients by :class:`ClientKey`, the least recently used closed past 32.
    Thread-safe: the controller measures from worker threads."""

    def __init__(self) -> None:
        self._clients: OrderedDict[ClientKey, PrometheusConnect] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ClientKey) -> PrometheusConnect:
        """The client for ``key``, made on first use."""
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


def failure(exc: Exception, *, address: str, timeout: float, provider: str = "prometheus") -> str:
    """The cause of a failed query in a user's words, by exception type (requests' hierarchy).
    ``provider`` names the metric's field in the advice (``provider.<provider>.insecure``).
    Anything that is not a query failure (a bug) is re-raised."""
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
            f"controller its CA, or set provider.{provider}.insecure: true to skip the check"
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
