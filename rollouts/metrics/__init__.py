"""Metric providers behind one Protocol: Prometheus, web and the judge, and the table that picks one.

Public API: :func:`take_measurement` (what the AnalysisRun controller calls), :class:`Providers`
and :class:`ProviderSettings` (one shared set per controller), :class:`Measurement` and the
:class:`MetricProvider` Protocol (what a new provider implements, plus one line in
:data:`PROVIDERS`).
"""

from rollouts.metrics.measuring import take_measurement
from rollouts.metrics.provider import Measurement, MetricProvider
from rollouts.metrics.registry import (
    PROVIDERS,
    Providers,
    ProviderSettings,
    UnknownProviderError,
    provider_name,
)

__all__ = [
    "PROVIDERS",
    "Measurement",
    "MetricProvider",
    "ProviderSettings",
    "Providers",
    "UnknownProviderError",
    "provider_name",
    "take_measurement",
]
