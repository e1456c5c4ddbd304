"""Analysis judgement: a measurement's phase, a metric's phase, a run's phase.

Three levels, each a pure function of what the status already holds, so a restarted controller
reaches the same verdict:

1. **measurement**: a provider's value against ``successCondition``/``failureCondition``
   (:func:`judge_measurement`), with Argo Rollouts' meaning: a matching failure condition fails;
   with only a success condition, not meeting it fails; with only a failure condition, not
   matching it succeeds; with both and neither matching, the measurement is Inconclusive; a
   condition that cannot be evaluated makes an Error.
2. **metric**: its counters against ``failureLimit`` (default 0; -1 none), ``inconclusiveLimit``
   (0), ``consecutiveErrorLimit`` (4), ``consecutiveSuccessLimit`` (0, off: that many successes in
   a row make it Successful at once) and ``count`` (:func:`metric_phase`). Errors do not count
   toward ``count``, as in Argo, and break a run of successes.
3. **run**: the worst metric (:func:`run_phase`): Failed, then Error, then Inconclusive, then
   Running/Pending, then Successful. A decisive metric ends the run at once instead of waiting
   for the others; dry-run metrics are measured and summarised but never decide.

Where we are stricter than Argo, on purpose (DESIGN.md: "never a success" without evidence):

* **no data is never a success**: ``null``, NaN, an empty vector (or one holding only NaN), an
  empty string or map. Argo lets such a value through any condition that happens to be true of it
  (``default(result, 0) < 0.05``, or no condition at all). Here it becomes an Error measurement
  saying so (so ``consecutiveErrorLimit`` absorbs a scrape gap), unless a ``failureCondition``
  explicitly matched it (``isNaN(result)``), which stays Failed: the user asked for that;
* **a metric is never Successful without a successful measurement**: Argo calls a metric
  Successful once ``count`` is reached or the run is terminated, even if every measurement errored
  or failed within the limits. Here such a metric takes the phase of what it did see (Error, else
  Inconclusive, else Failed). A metric stopped before its first measurement is still Successful
  on termination, which keeps "terminate the run to skip analysis" working as in Argo.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rollouts.api.analysis import DryRun, Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import Measurement, MetricResult, RunSummary
from rollouts.api.templated import NO_LIMIT
from rollouts.engine.expressions import ConditionError, MeasurementValue, compile_condition, evaluate

__all__ = [
    "DEFAULT_MEASUREMENT_RETENTION",
    "Judgement",
    "RunJudgement",
    "dry_run_metric_names",
    "format_value",
    "is_no_data",
    "judge_measurement",
    "metric_phase",
    "record_measurement",
    "run_phase",
]

DEFAULT_MEASUREMENT_RETENTION: Final = 10
"""Measurements kept per metric in the status when ``measurementRetention`` does not say (Argo: 10)."""

_SEVERITY: Final = {
    AnalysisPhase.SUCCESSFUL: 0,
    AnalysisPhase.PENDING: 1,
    AnalysisPhase.RUNNING: 1,
    AnalysisPhase.INCONCLUSIVE: 2,
    AnalysisPhase.ERROR: 3,
    AnalysisPhase.FAILED: 4,
}


@dataclass(frozen=True, slots=True)
class Judgement:
    """A phase and the sentence that explains it (``None`` when there is nothing to explain)."""

    phase: AnalysisPhase
    message: str | None = None


@dataclass(frozen=True, slots=True)
class RunJudgement:
    """The verdict on a whole run, with each metric's own verdict and the status summaries."""

    phase: AnalysisPhase
    message: str | None
    metrics: Mapping[str, Judgement] = field(default_factory=dict)
    run_summary: RunSummary = field(default_factory=RunSummary)
    dry_run_summary: RunSummary = field(default_factory=RunSummary)


# --- values -----------------------------------------------------------------------------------------


def format_value(value: MeasurementValue, *, limit: int = 200) -> str:
    """The value as users read it in a status or message: compact JSON (``[0.97]``, ``NaN``)."""
    try:
        text = json.dumps(value, separators=(",", ":"), default=str, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_missing(item: Any) -> bool:
    return item is None or (isinstance(item, float) and math.isnan(item))


def is_no_data(value: MeasurementValue) -> bool:
    """True when the provider answered but said nothing: null, NaN, or an empty/all-NaN vector.

    Prometheus returns an empty vector when the series does not exist yet (no traffic, a typo in
    a label) and NaN for 0/0 rates; both mean "we do not know", which must not pass as healthy.
    """
    if _is_missing(value):
        return True
    if isinstance(value, str | Mapping):
        return len(value) == 0
    if isinstance(value, Sequence):
        return all(_is_missing(item) for item in value)
    return False


# --- one measurement --------------------------------------------------------------------------------


def _evaluate(name: str, text: str, value: MeasurementValue) -> bool:
    try:
        return evaluate(compile_condition(text), value)
    except ConditionError as exc:
        raise ConditionError(f"{name}: {exc}", expression=exc.expression, column=exc.column) from None


def judge_measurement(
    *, value: MeasurementValue, success_condition: str | None, failure_condition: str | None
) -> Judgement:
    """The phase of one measurement whose provider returned ``value``.

    Never raises: a condition that does not compile or does not evaluate gives an Error whose
    message names the field and quotes the expression, the same way a provider failure would.
    """
    success_text = success_condition or None
    failure_text = failure_condition or None
    shown = format_value(value)
    no_data = is_no_data(value)
    try:
        succeeded = _evaluate("successCondition", success_text, value) if success_text else None
        failed = _evaluate("failureCondition", failure_text, value) if failure_text else None
    except ConditionError as exc:
        if no_data:
            return Judgement(AnalysisPhase.ERROR, f"no data (result {shown}); {exc}")
        return Judgement(AnalysisPhase.ERROR, str(exc))

    if failed:
        return Judgement(AnalysisPhase.FAILED, f'failureCondition "{failure_text}" met by result {shown}')
    if no_data:
        return Judgement(
            AnalysisPhase.ERROR,
            f"no data: the metric returned {shown}, which is never taken as a success "
            "(an empty vector usually means the series does not exist yet or the query's labels are wrong)",
        )
    if succeeded is False and failed is None:
        return Judgement(AnalysisPhase.FAILED, f'successCondition "{success_text}" not met by result {shown}')
    if succeeded is False:  # both conditions set, neither matched
        return Judgement(
            AnalysisPhase.INCONCLUSIVE,
            f'neither successCondition "{success_text}" nor failureCondition "{failure_text}" '
            f"matched result {shown}",
        )
    return Judgement(AnalysisPhase.SUCCESSFUL)


# --- one metric -------------------------------------------------------------------------------------


def record_measurement(
    result: MetricResult, measurement: Measurement, *, keep: int = DEFAULT_MEASUREMENT_RETENTION
) -> MetricResult:
    """``result`` with ``measurement`` added: counters updated and history capped at ``keep``.

    A measurement still in progress (Running/Pending) only takes its slot; when it completes,
    passing it again replaces that slot and updates the counters once. Errors raise the error
    counters but not ``count``, so a metric with ``count: 3`` still takes three real readings.
    """
    history = list(result.measurements or [])
    if history and not history[-1].phase.is_completed():
        history[-1] = measurement
    else:
        history.append(measurement)
    update: dict[str, Any] = {"measurements": history[-keep:] if keep > 0 else []}
    phase = measurement.phase
    if phase in (AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.INCONCLUSIVE):
        counter = {"Successful": "successful", "Failed": "failed", "Inconclusive": "inconclusive"}[phase]
        update[counter] = getattr(result, counter) + 1
        update["count"] = result.count + 1
        update["consecutive_error"] = 0
        successful = phase is AnalysisPhase.SUCCESSFUL
        update["consecutive_success"] = result.consecutive_success + 1 if successful else 0
    elif phase is AnalysisPhase.ERROR:
        update["error"] = result.error + 1
        update["consecutive_error"] = result.consecutive_error + 1
        update["consecutive_success"] = 0
    if phase.is_completed() and measurement.message:
        update["message"] = measurement.message
    return result.model_copy(update=update)


def _effective_count(metric: Metric) -> int | None:
    """Readings the metric takes: ``count``; once when neither count nor interval is set."""
    if metric.count is not None:
        return metric.count
    return 1 if metric.interval is None else None


def _last_value(result: MetricResult, phase: AnalysisPhase) -> str:
    """``; last <phase> value <v>`` from the newest measurement in ``phase`` (empty without one):
    the Rollout's status and Events quote the run's message, so the user sees what was measured."""
    for measurement in reversed(result.measurements or []):
        if measurement.phase is phase and measurement.value is not None:
            said = measurement.message
            extra = f" ({said})" if said and measurement.value not in said else ""  # e.g. a Job's reason
            return f"; last {phase.value.lower()} value {measurement.value}{extra}"
    return ""


def _streak_not_reached(metric: Metric, result: MetricResult, why: str, limits_failures: bool) -> Judgement:
    """Count ran out before ``consecutiveSuccessLimit`` successes in a row: Failed, as a check that
    waits for a condition and never saw it; Inconclusive when ``failureLimit`` was also in use and
    was not exceeded either (neither limit decided: a human does), as in Argo Rollouts."""
    phase = AnalysisPhase.INCONCLUSIVE if limits_failures else AnalysisPhase.FAILED
    return Judgement(
        phase,
        f"{why} without {metric.consecutive_success_limit} successful in a row (consecutiveSuccessLimit; "
        f"{result.consecutive_success} in a row at the end, {result.successful} successful in all)",
    )


def _without_success(result: MetricResult, why: str) -> Judgement:
    """The phase of a finished metric that never saw a successful measurement."""
    seen = f"{result.error} errors, {result.failed} failed, {result.inconclusive} inconclusive"
    if result.error:
        return Judgement(AnalysisPhase.ERROR, f"{why} without a successful measurement ({seen})")
    if result.inconclusive:
        return Judgement(
            AnalysisPhase.INCONCLUSIVE,
            f"{why} without a successful measurement ({seen})"
            + _last_value(result, AnalysisPhase.INCONCLUSIVE),
        )
    return Judgement(
        AnalysisPhase.FAILED,
        f"{why} without a successful measurement ({seen})" + _last_value(result, AnalysisPhase.FAILED),
    )


def metric_phase(metric: Metric, result: MetricResult | None, *, terminating: bool = False) -> Judgement:
    """The phase of one metric from its recorded measurements, counters and limits.

    A phase once completed is kept (a verdict does not change on later passes). ``terminating``
    is true when the run was told to stop or another counted metric already decided it; a metric
    that could run forever then ends with the verdict of what it measured so far.
    """
    if result is not None and result.phase.is_completed():
        return Judgement(result.phase, result.message)
    measurements = [] if result is None else (result.measurements or [])
    if terminating:  # what is still in progress will not be finished: judge what was
        measurements = [m for m in measurements if m.phase.is_completed()]
    if result is None or not measurements:
        if terminating:
            return Judgement(AnalysisPhase.SUCCESSFUL, "run terminated before the first measurement")
        return Judgement(AnalysisPhase.PENDING)
    if not measurements[-1].phase.is_completed():
        return Judgement(AnalysisPhase.RUNNING)
    limits_failures = metric.failure_limit != NO_LIMIT
    needs_streak = metric.consecutive_success_limit > 0
    if limits_failures and result.failed > metric.failure_limit:
        return Judgement(
            AnalysisPhase.FAILED,
            f"failed ({result.failed}) > failureLimit ({metric.failure_limit})"
            + _last_value(result, AnalysisPhase.FAILED),
        )
    if needs_streak and result.consecutive_success >= metric.consecutive_success_limit:
        return Judgement(
            AnalysisPhase.SUCCESSFUL,
            f"{result.consecutive_success} successful in a row reached consecutiveSuccessLimit "
            f"({metric.consecutive_success_limit})",
        )
    if result.inconclusive > metric.inconclusive_limit:
        return Judgement(
            AnalysisPhase.INCONCLUSIVE,
            f"inconclusive ({result.inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})"
            + _last_value(result, AnalysisPhase.INCONCLUSIVE),
        )
    if result.consecutive_error > metric.consecutive_error_limit:
        return Judgement(
            AnalysisPhase.ERROR,
            f"consecutive errors ({result.consecutive_error}) > consecutiveErrorLimit "
            f"({metric.consecutive_error_limit}); last: {measurements[-1].message or 'no message'}",
        )
    count = _effective_count(metric)
    if count is not None and result.count >= count:
        if needs_streak:
            return _streak_not_reached(metric, result, f"count ({count}) reached", limits_failures)
        if result.successful == 0:
            return _without_success(result, f"count ({count}) reached")
        return Judgement(AnalysisPhase.SUCCESSFUL, f"count ({count}) reached")
    if terminating:
        if result.successful == 0:
            return _without_success(result, "run terminated")
        return Judgement(AnalysisPhase.SUCCESSFUL, "run terminated")
    return Judgement(AnalysisPhase.RUNNING)


# --- the run ----------------------------------------------------------------------------------------


def dry_run_metric_names(*, metrics: Sequence[Metric], rules: Sequence[DryRun] | None) -> frozenset[str]:
    """Names of the metrics in dry-run mode. A rule's ``metricName`` is a regular expression
    matched against the *whole* name (``.*`` for all; ``error-rate`` does not also catch
    ``error-rate-p99`` as Argo's unanchored match would). A rule that matches nothing or does
    not compile raises ``ValueError`` naming the rule, so a typo does not silently gate a rollout.
    """
    names: set[str] = set()
    for index, rule in enumerate(rules or []):
        try:
            pattern = re.compile(rule.metric_name)
        except re.error as exc:
            raise ValueError(
                f"dryRun[{index}].metricName {rule.metric_name!r} is not a valid regular expression: {exc}"
            ) from None
        matched = {m.name for m in metrics if pattern.fullmatch(m.name)}
        if not matched:
            known = ", ".join(m.name for m in metrics)
            raise ValueError(
                f"dryRun[{index}].metricName {rule.metric_name!r} matches no metric (metrics: {known})"
            )
        names |= matched
    return frozenset(names)


def _summary(phases: Iterable[AnalysisPhase]) -> RunSummary:
    listed = list(phases)
    return RunSummary(
        count=len(listed),
        successful=listed.count(AnalysisPhase.SUCCESSFUL),
        failed=listed.count(AnalysisPhase.FAILED),
        inconclusive=listed.count(AnalysisPhase.INCONCLUSIVE),
        error=listed.count(AnalysisPhase.ERROR),
    )


def run_phase(
    *,
    metrics: Sequence[Metric],
    results: Sequence[MetricResult],
    dry_run: Sequence[DryRun] | None = None,
    terminate: bool = False,
) -> RunJudgement:
    """The run's phase: the worst counted metric (Failed > Error > Inconclusive > Running/Pending
    > Successful). Once a counted metric is Failed, Error or Inconclusive the run is decided, and
    the other metrics are judged as terminating: on what they measured so far (a measurement still
    in progress, a Job, is not waited for; the controller deletes the Job).
    Dry-run metrics are judged and summarised but never change the run's phase; a run made only
    of dry-run metrics is Successful once they all complete.
    """
    by_name = {result.name: result for result in results}
    dry = dry_run_metric_names(metrics=metrics, rules=dry_run)
    first = {m.name: metric_phase(m, by_name.get(m.name), terminating=terminate) for m in metrics}
    decided = any(
        j.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)
        for name, j in first.items()
        if name not in dry
    )
    judged = (
        {m.name: metric_phase(m, by_name.get(m.name), terminating=True) for m in metrics}
        if decided and not terminate
        else first
    )
    counted = [(name, j) for name, j in judged.items() if name not in dry]
    run_summary = _summary(j.phase for _, j in counted)
    dry_summary = _summary(j.phase for name, j in judged.items() if name in dry)
    if not counted:
        complete = all(j.phase.is_completed() for j in judged.values())
        phase = AnalysisPhase.SUCCESSFUL if complete else AnalysisPhase.RUNNING
        message = "all metrics are dry-run" if complete else None
        return RunJudgement(phase, message, judged, run_summary, dry_summary)
    worst_name, worst = max(counted, key=lambda item: _SEVERITY[item[1].phase])
    if worst.phase is AnalysisPhase.SUCCESSFUL:
        return RunJudgement(AnalysisPhase.SUCCESSFUL, None, judged, run_summary, dry_summary)
    if not worst.phase.is_completed():
        return RunJudgement(AnalysisPhase.RUNNING, None, judged, run_summary, dry_summary)
    message = f'metric "{worst_name}" assessed {worst.phase.value}' + (
        f": {worst.message}" if worst.message else ""
    )
    return RunJudgement(worst.phase, message, judged, run_summary, dry_summary)
