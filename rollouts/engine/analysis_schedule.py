"""When an AnalysisRun's metrics are measured, and what the status says after a measurement.

Scheduling is by deadlines read from the status, never by timers kept in memory: a metric is due
``initialDelay`` after the run's ``startedAt`` for its first measurement, then ``interval`` after
its last measurement's ``finishedAt``. So the AnalysisRun controller can be restarted at any
moment: a measurement recorded in the status is never taken again, and one that was due while
the controller was down is taken as soon as it is back (once, not once per missed interval).

One pass of the controller over a run is:

1. :func:`plan_measurements` (pure): the metrics due at ``now`` and the next deadline;
2. the controller takes those measurements (I/O, in ``rollouts.metrics``);
3. :func:`advance` (pure): the status with them recorded (history capped by
   ``measurementRetention``, counts updated), every metric judged, the run's phase set
   (``rollouts.engine.analysis``), then one status write; then it sleeps until the deadline
   :func:`plan_measurements` gives for the new status.

``spec.terminate`` stops measuring at once: the metrics take the verdict of what they measured
(``metric_phase`` with ``terminating``) and the run completes. A measurement still in progress
when the run completes (a Job metric's Job) is dropped from the status: it was never judged, and
the controller deletes its Job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from rollouts.api.analysis import AnalysisRun, MeasurementRetention, Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import AnalysisRunStatus, Measurement, MetricResult
from rollouts.engine.analysis import (
    DEFAULT_MEASUREMENT_RETENTION,
    dry_run_metric_names,
    record_measurement,
    run_phase,
)

__all__ = [
    "ERROR_RETRY_INTERVAL",
    "MeasurementPlan",
    "advance",
    "next_measurement_at",
    "plan_measurements",
    "unfinished_measurement",
]

ERROR_RETRY_INTERVAL: Final = timedelta(seconds=10)
"""Wait before measuring again after an Error, for a metric with no ``interval`` (measured once):
an unreachable Prometheus is retried until ``consecutiveErrorLimit`` decides, as in Argo."""


@dataclass(frozen=True, kw_only=True)
class MeasurementPlan:
    """The metrics to measure now, and the next moment another pass is needed (``None``: never).

    ``in_progress``: metrics whose measurement is still in progress (a Job running), looked at on
    every pass, since a change to the Job is what wakes the run; their ``resumeAt`` is only the
    fallback deadline in ``wake_at``.
    """

    due: tuple[Metric, ...]
    wake_at: datetime | None
    in_progress: tuple[Metric, ...] = ()


def unfinished_measurement(result: MetricResult | None) -> Measurement | None:
    """The metric's last measurement if it is still in progress (a Job running), else ``None``."""
    last = result.measurements[-1] if result is not None and result.measurements else None
    return None if last is None or last.phase.is_completed() else last


def _started(run: AnalysisRun, now: datetime) -> datetime:
    return run.status.started_at if run.status is not None and run.status.started_at is not None else now


def _results(run: AnalysisRun) -> dict[str, MetricResult]:
    return {r.name: r for r in (run.status.metric_results or [])} if run.status is not None else {}


def _completed(run: AnalysisRun) -> bool:
    return run.status is not None and run.status.phase.is_completed()


def next_measurement_at(
    metric: Metric, result: MetricResult | None, *, started_at: datetime
) -> datetime | None:
    """When ``metric`` is next measured, from its recorded results; ``None`` once it is complete."""
    if result is not None and result.phase.is_completed():
        return None
    measurements = [] if result is None else (result.measurements or [])
    if not measurements:
        return started_at + timedelta(seconds=metric.initial_delay_seconds)
    unfinished = unfinished_measurement(result)
    if unfinished is not None:  # a Job still running: look at it again then
        return unfinished.resume_at or started_at
    last = measurements[-1]
    if last.finished_at is None:  # recorded without a finish time (by hand): measure again now
        return started_at
    interval = metric.interval_seconds
    if interval is not None:
        return last.finished_at + timedelta(seconds=interval)
    if last.phase is AnalysisPhase.ERROR:
        return last.finished_at + ERROR_RETRY_INTERVAL
    return None  # measured once, and that measurement counted


def plan_measurements(run: AnalysisRun, now: datetime) -> MeasurementPlan:
    """The metrics of ``run`` due at ``now``, and the earliest future deadline among the others."""
    if _completed(run) or run.spec.terminate:
        return MeasurementPlan(due=(), wake_at=None)
    started = _started(run, now)
    results = _results(run)
    due: list[Metric] = []
    in_progress: list[Metric] = []
    wake_at: datetime | None = None
    for metric in run.spec.metrics:
        result = results.get(metric.name)
        at = next_measurement_at(metric, result, started_at=started)
        if at is None:
            continue
        if at <= now:
            due.append(metric)
            continue
        if unfinished_measurement(result) is not None:
            in_progress.append(metric)
        if wake_at is None or at < wake_at:
            wake_at = at
    return MeasurementPlan(due=tuple(due), wake_at=wake_at, in_progress=tuple(in_progress))


def _retention(metric: Metric, rules: Sequence[MeasurementRetention] | None) -> int:
    for rule in rules or []:
        try:
            if re.fullmatch(rule.metric_name, metric.name):
                return rule.limit
        except re.error:
            continue
    return DEFAULT_MEASUREMENT_RETENTION


def _without_unfinished(result: MetricResult) -> MetricResult:
    if unfinished_measurement(result) is None:
        return result
    return result.model_copy(update={"measurements": (result.measurements or [])[:-1] or None})


def advance(run: AnalysisRun, now: datetime, taken: Mapping[str, Measurement]) -> AnalysisRunStatus:
    """The run's status once the measurements ``taken`` (metric name to measurement) are recorded
    and everything is judged again at ``now``. Pure: the same run and measurements give the same
    status. A completed run's status is returned unchanged (a verdict is final).
    """
    if _completed(run):
        assert run.status is not None
        return run.status
    spec = run.spec
    previous = _results(run)
    results: list[MetricResult] = []
    for metric in spec.metrics:
        result = previous.get(metric.name) or MetricResult(name=metric.name, phase=AnalysisPhase.PENDING)
        if metric.name in taken:
            keep = _retention(metric, spec.measurement_retention)
            result = record_measurement(result, taken[metric.name], keep=keep)
        results.append(result)
    started = _started(run, now)
    try:
        verdict = run_phase(
            metrics=spec.metrics, results=results, dry_run=spec.dry_run, terminate=spec.terminate
        )
        dry = dry_run_metric_names(metrics=spec.metrics, rules=spec.dry_run)
    except ValueError as exc:  # a dryRun rule that matches nothing or does not compile
        return AnalysisRunStatus(
            phase=AnalysisPhase.ERROR,
            message=f"spec.{exc}; fix the rule in the AnalysisTemplate",
            started_at=started,
            completed_at=now,
            metric_results=results,
        )
    judged: list[MetricResult] = []
    for result in results:
        judgement = verdict.metrics[result.name]
        update: dict[str, object] = {"phase": judgement.phase, "message": judgement.message or result.message}
        if result.name in dry:
            update["dry_run"] = True
        judged.append(result.model_copy(update=update))
    if verdict.phase.is_completed():  # a measurement still in progress will never be finished
        judged = [_without_unfinished(result) for result in judged]
    message = verdict.message
    if spec.terminate and verdict.phase is AnalysisPhase.SUCCESSFUL and message is None:
        message = "run terminated"
    return AnalysisRunStatus(
        phase=verdict.phase,
        message=message,
        started_at=started,
        completed_at=now if verdict.phase.is_completed() else None,
        metric_results=judged,
        run_summary=verdict.run_summary,
        dry_run_summary=verdict.dry_run_summary if verdict.dry_run_summary.count else None,
    )
