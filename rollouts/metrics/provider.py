"""The one contract every metric provider implements, and the measurement it returns.

A provider turns a metric (its ``{{args.NAME}}`` already filled in) into a :class:`Measurement`:
a value, the phase the engine judged it to be, and a message. It never raises for anything the
outside world can do to it (an unreachable server, a timeout, a bad answer, an empty one): those
are measurements in phase Error whose message says which cause and shows the query or URL
(DESIGN.md section 6, after Argo Rollouts' ``metric/provider.go``). An exception out of a
provider is a bug in it.

Providers are synchronous: prometheus-api-client is built on ``requests``. The AnalysisRun
controller runs them in worker threads, so a slow Prometheus holds a thread, not the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from rollouts.api.analysis import Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import Measurement as ApiMeasurement
from rollouts.engine.analysis import format_value, judge_measurement
from rollouts.engine.expressions import MeasurementValue

__all__ = ["Measurement", "MetricProvider", "error", "judged"]


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """What one provider call found: ``value`` (``None`` when nothing could be read), the phase it
    was judged to be, a message explaining any phase but Successful, and provider details
    (``metadata``, e.g. the resolved query) shown in the AnalysisRun's status."""

    phase: AnalysisPhase
    value: MeasurementValue = None
    message: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    resume_at: datetime | None = None
    """For a measurement still in progress (phase Running: a Job): when to look at it again."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def to_status(self, *, started_at: datetime, finished_at: datetime) -> ApiMeasurement:
        """The measurement as an AnalysisRun's status records it (the value as compact JSON); one
        still in progress has no finish time and no value yet."""
        done = self.phase.is_completed()
        return ApiMeasurement(
            phase=self.phase,
            message=self.message,
            started_at=started_at,
            finished_at=finished_at if done else None,
            value=None
            if self.value is None and (self.phase is AnalysisPhase.ERROR or not done)
            else format_value(self.value),
            metadata=dict(self.metadata) or None,
            resume_at=None if done else self.resume_at,
        )


class MetricProvider(Protocol):
    """Measures metrics of one provider kind (``prometheus``, ``web``)."""

    def measure(self, metric: Metric) -> Measurement:
        """Take one measurement of ``metric`` (arguments already substituted). Never raises."""
        ...


def error(message: str, *, metadata: Mapping[str, str] | None = None) -> Measurement:
    """An Error measurement: nothing usable was read."""
    return Measurement(phase=AnalysisPhase.ERROR, message=message, metadata=metadata or {})


def judged(
    metric: Metric, value: MeasurementValue, *, shown: str, metadata: Mapping[str, str]
) -> Measurement:
    """``value`` judged by the metric's conditions (the engine decides; providers only read).

    ``shown`` (e.g. ``query "sum(rate(...))"``) is appended to any Error message, so "no data"
    says which query returned nothing.
    """
    verdict = judge_measurement(
        value=value, success_condition=metric.success_condition, failure_condition=metric.failure_condition
    )
    message = verdict.message
    if verdict.phase is AnalysisPhase.ERROR:
        message = f"{message}; {shown}"
    return Measurement(phase=verdict.phase, value=value, message=message, metadata=metadata)
