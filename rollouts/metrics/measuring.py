"""Taking one measurement of one metric: arguments in, the right provider called, a value out.

This is the only entry point the AnalysisRun controller uses. Whatever goes wrong before the
provider is even called (an argument whose Secret is missing, a ``{{args.NAME}}`` with no such
argument, an unknown provider) is also an Error measurement on that metric, with a message
naming the argument or field and the fix, so the run's status tells the user, and
``consecutiveErrorLimit`` decides, exactly as for an unreachable Prometheus.
"""

from __future__ import annotations

import logging

from rollouts.api.analysis import Metric
from rollouts.engine.analysis_args import ArgumentError, ResolvedArgs, substitute_args
from rollouts.metrics.provider import Measurement, error
from rollouts.metrics.registry import Providers, UnknownProviderError

__all__ = ["resolved_metric", "take_measurement"]

_log = logging.getLogger(__name__)


def resolved_metric(metric: Metric, args: ResolvedArgs) -> Metric | Measurement:
    """``metric`` with the run's ``args`` filled in, or the Error measurement saying why it cannot
    be measured (an argument without a value, a placeholder with no argument)."""
    problem = args.problem_for(metric)
    if problem is not None:
        return error(f"metric {metric.name!r} was not measured: {problem}")
    try:
        return substitute_args(metric, args.values)
    except ArgumentError as exc:
        return error(str(exc))


def take_measurement(providers: Providers, metric: Metric, args: ResolvedArgs) -> Measurement:
    """Measure ``metric`` once with the run's resolved ``args``. Never raises."""
    resolved = resolved_metric(metric, args)
    if isinstance(resolved, Measurement):
        return resolved
    try:
        provider = providers.for_metric(metric)
    except UnknownProviderError as exc:
        return error(str(exc))
    try:
        return provider.measure(resolved)
    except Exception as exc:  # a provider bug must not stop the other metrics or the controller
        _log.exception("provider of metric %r raised instead of returning an Error measurement", metric.name)
        return error(
            f"metric {metric.name!r}: the provider failed unexpectedly ({type(exc).__name__}: {exc})"
        )
