"""The table of metric providers: one line per provider, and an error for a name not in it.

Adding a provider is one module implementing :class:`~rollouts.metrics.provider.MetricProvider`
and one line in :data:`PROVIDERS`. A metric whose provider is not in the table is an error that
names it and lists the known ones, never a silent fall-back to Prometheus (Flagger's habit).

The ``job`` provider is not in the table: its measurements span passes and it creates objects, so
the AnalysisRun controller drives it itself (``rollouts.metrics.job``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from rollouts.api.analysis import Metric
from rollouts.metrics.judge import JudgeProvider
from rollouts.metrics.prometheus import PrometheusProvider
from rollouts.metrics.provider import MetricProvider
from rollouts.metrics.web import WebProvider

__all__ = ["PROVIDERS", "ProviderSettings", "Providers", "UnknownProviderError", "provider_name"]


@dataclass(frozen=True, kw_only=True)
class ProviderSettings:
    """What the controller's flags give the providers.

    ``prometheus_address``: default Prometheus when a metric names none (else ``$PROMETHEUS_ADDRESS``);
    ``http_transport``: the transport of the web provider's client (``httpx.MockTransport`` in tests).
    """

    prometheus_address: str | None = None
    http_transport: httpx.BaseTransport | None = None


PROVIDERS: Final[Mapping[str, Callable[[ProviderSettings], MetricProvider]]] = {
    "prometheus": lambda s: PrometheusProvider(default_address=s.prometheus_address),
    "web": lambda s: WebProvider(transport=s.http_transport),
    "judge": lambda s: JudgeProvider(default_address=s.prometheus_address),
}


KNOWN_PROVIDERS: Final = (*PROVIDERS, "job")
"""Every provider a metric may name: the table's, and ``job``, which the controller drives."""


class UnknownProviderError(LookupError):
    """A metric names a provider this controller does not have."""


def provider_name(metric: Metric) -> str:
    """The provider a metric uses (the one field set under ``provider``)."""
    names = [name for name, spec in metric.provider if spec is not None]
    if len(names) != 1:
        raise UnknownProviderError(
            f"metric {metric.name!r} must set exactly one provider (got {names or 'none'}); "
            f"known providers: {', '.join(KNOWN_PROVIDERS)}"
        )
    return names[0]


class Providers:
    """One instance of each provider, made on first use and shared by all runs (thread-safe)."""

    def __init__(self, settings: ProviderSettings | None = None) -> None:
        self.settings = settings or ProviderSettings()
        self._made: dict[str, MetricProvider] = {}
        self._lock = threading.Lock()

    def for_metric(self, metric: Metric) -> MetricProvider:
        """The provider for ``metric``; raises :class:`UnknownProviderError` naming the metric."""
        name = provider_name(metric)
        factory = PROVIDERS.get(name)
        if factory is None:
            raise UnknownProviderError(
                f"metric {metric.name!r}: provider {name!r} is not supported; known providers: "
                f"{', '.join(KNOWN_PROVIDERS)}"
            )
        with self._lock:
            if name not in self._made:
                self._made[name] = factory(self.settings)
            return self._made[name]
