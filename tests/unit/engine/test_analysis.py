"""Analysis judgement: measurements, metrics and runs, including where we are stricter than Argo."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.api.analysis import DryRun, Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import Measurement, MetricResult
from rollouts.engine.analysis import (
    dry_run_metric_names,
    format_value,
    is_no_data,
    judge_measurement,
    metric_phase,
    record_measurement,
    run_phase,
)

P = AnalysisPhase
NAN = math.nan


def metric(name: str = "m", **fields: Any) -> Metric:
    provider = {"prometheus": {"address": "http://prometheus:9090", "query": "up"}}
    return Metric.model_validate({"name": name, "provider": provider, **fields})


def results_of(name: str, *phases: AnalysisPhase) -> MetricResult:
    result = MetricResult(name=name, phase=P.RUNNING)
    for phase in phases:
        result = record_measurement(result, Measurement(phase=phase, message=f"{phase.value} reading"))
    return result


# --- one measurement --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "success", "failure", "phase", "fragment"),
    [
        ([0.97], "result[0] >= 0.95", None, P.SUCCESSFUL, None),
        ([0.90], "result[0] >= 0.95", None, P.FAILED, 'successCondition "result[0] >= 0.95" not met'),
        (0.1, None, "result > 0.5", P.SUCCESSFUL, None),
        (0.6, None, "result > 0.5", P.FAILED, 'failureCondition "result > 0.5" met by result 0.6'),
        (0.5, "result < 0.3", "result > 0.7", P.INCONCLUSIVE, "neither successCondition"),
        (0.8, "result < 0.3", "result > 0.7", P.FAILED, "failureCondition"),
        (0.2, "result < 0.3", "result > 0.7", P.SUCCESSFUL, None),
        (0.6, "result > 0", "result > 0.5", P.FAILED, "failureCondition"),  # both match: failure wins
        (1.0, None, None, P.SUCCESSFUL, None),  # no condition: any real value passes
        (0.5, "", "result > 1", P.SUCCESSFUL, None),  # an empty condition is no condition
        # no data is never a success
        ([], None, None, P.ERROR, "no data: the metric returned []"),
        ([], "result[0] >= 0.95", None, P.ERROR, "index out of range"),
        (NAN, "result < 0.05", None, P.ERROR, "no data: the metric returned NaN"),
        (None, "default(result, 0) < 0.05", None, P.ERROR, "no data: the metric returned null"),
        ([NAN], None, "result[0] > 0.05", P.ERROR, "no data"),
        ("", "result == ''", None, P.ERROR, "no data"),
        ({}, None, None, P.ERROR, "no data"),
        (NAN, None, "isNaN(result) || result > 0.05", P.FAILED, "failureCondition"),  # asked for
        # broken conditions are Errors that say which field
        (0.5, "result >", None, P.ERROR, 'successCondition: condition "result >" is not valid'),
        (0.5, None, "results > 1", P.ERROR, 'failureCondition: condition "results > 1"'),
        ("up", "result > 1", None, P.ERROR, "type mismatch"),
        ([0.5], "result[0]", None, P.ERROR, "must give true or false"),
    ],
)
def test_judge_measurement(
    value: Any, success: str | None, failure: str | None, phase: AnalysisPhase, fragment: str | None
) -> None:
    judgement = judge_measurement(value=value, success_condition=success, failure_condition=failure)
    assert judgement.phase is phase
    if fragment is None:
        assert judgement.message is None
    else:
        assert judgement.message is not None and fragment in judgement.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        (NAN, True),
        ([], True),
        ([NAN, NAN], True),
        ([None], True),
        ("", True),
        ({}, True),
        (0.0, False),
        (0, False),
        (False, False),
        ([0.0], False),
        ([NAN, 0.5], False),
        ("ok", False),
        ({"a": None}, False),
        (math.inf, False),
    ],
)
def test_is_no_data(value: Any, expected: bool) -> None:
    assert is_no_data(value) is expected


@pytest.mark.parametrize(
    ("value", "text"),
    [([0.97], "[0.97]"), (NAN, "NaN"), (None, "null"), ({"ok": True}, '{"ok":true}'), ("x" * 300, None)],
)
def test_format_value(value: Any, text: str | None) -> None:
    formatted = format_value(value)
    if text is None:
        assert len(formatted) == 200 and formatted.endswith("...")
    else:
        assert formatted == text


@given(
    value=st.sampled_from([None, NAN, [], [NAN], [None, NAN], "", {}]),
    success=st.sampled_from([None, "result[0] >= 0.95", "default(result, 0) < 1", "isNil(result) || true"]),
    failure=st.sampled_from([None, "result[0] > 0.5", "default(result, 0) > 1", "false"]),
)
def test_no_data_is_never_a_success(value: Any, success: str | None, failure: str | None) -> None:
    judgement = judge_measurement(value=value, success_condition=success, failure_condition=failure)
    assert judgement.phase is not P.SUCCESSFUL


# --- recording measurements ---------------------------------------------------------------------------


def test_record_measurement_counts_like_argo() -> None:
    result = results_of("m", P.SUCCESSFUL, P.ERROR, P.ERROR, P.FAILED, P.INCONCLUSIVE, P.ERROR)
    assert (result.count, result.successful, result.failed, result.inconclusive) == (3, 1, 1, 1)
    assert (result.error, result.consecutive_error) == (3, 1)  # errors never count toward count
    assert result.message == "Error reading"


def test_in_flight_measurement_is_replaced_not_duplicated() -> None:
    result = results_of("m", P.SUCCESSFUL, P.RUNNING)
    assert result.count == 1 and len(result.measurements or []) == 2
    result = record_measurement(result, Measurement(phase=P.FAILED))
    assert result.count == 2 and result.failed == 1 and len(result.measurements or []) == 2


def test_measurement_history_is_capped() -> None:
    result = results_of("m", *[P.SUCCESSFUL] * 15)
    assert result.count == 15 and len(result.measurements or []) == 10
    capped = record_measurement(result, Measurement(phase=P.FAILED), keep=3)
    assert [m.phase for m in capped.measurements or []] == [P.SUCCESSFUL, P.SUCCESSFUL, P.FAILED]


# --- one metric -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "phases", "terminating", "expected", "fragment"),
    [
        ({}, None, False, P.PENDING, None),
        ({}, None, True, P.SUCCESSFUL, "terminated before the first measurement"),
        ({"interval": "1m"}, (P.SUCCESSFUL, P.RUNNING), False, P.RUNNING, None),
        ({"interval": "1m"}, (P.FAILED,), False, P.FAILED, "failed (1) > failureLimit (0)"),
        ({"interval": "1m", "failureLimit": 1}, (P.FAILED,), False, P.RUNNING, None),
        ({"interval": "1m", "failureLimit": 1}, (P.FAILED, P.FAILED), False, P.FAILED, "failureLimit (1)"),
        ({"interval": "1m"}, (P.INCONCLUSIVE,), False, P.INCONCLUSIVE, "inconclusiveLimit (0)"),
        ({"interval": "1m", "inconclusiveLimit": 2}, (P.INCONCLUSIVE,) * 2, False, P.RUNNING, None),
        ({"interval": "1m"}, (P.ERROR,) * 4, False, P.RUNNING, None),  # 4 errors tolerated by default
        (
            {"interval": "1m"},
            (P.ERROR,) * 5,
            False,
            P.ERROR,
            "consecutive errors (5) > consecutiveErrorLimit (4)",
        ),
        ({"interval": "1m", "consecutiveErrorLimit": 0}, (P.ERROR,), False, P.ERROR, "last: Error reading"),
        ({"interval": "1m"}, (P.ERROR,) * 3 + (P.SUCCESSFUL,) + (P.ERROR,) * 3, False, P.RUNNING, None),
        ({"interval": "1m", "count": 3}, (P.SUCCESSFUL,) * 3, False, P.SUCCESSFUL, "count (3) reached"),
        ({"interval": "1m", "count": 3}, (P.SUCCESSFUL,) * 2, False, P.RUNNING, None),
        ({"interval": "1m", "count": 2}, (P.SUCCESSFUL, P.ERROR, P.SUCCESSFUL), False, P.SUCCESSFUL, None),
        ({}, (P.SUCCESSFUL,), False, P.SUCCESSFUL, "count (1) reached"),  # no count, no interval: once
        ({"interval": "1m"}, (P.SUCCESSFUL,) * 50, False, P.RUNNING, None),  # until stopped
        ({"interval": "1m"}, (P.SUCCESSFUL,) * 2, True, P.SUCCESSFUL, "run terminated"),
        # stricter than Argo: no successful measurement, no success
        (
            {"interval": "1m", "count": 2, "failureLimit": 2},
            (P.FAILED, P.FAILED),
            False,
            P.FAILED,
            "count (2) reached without a successful measurement",
        ),
        (
            {"interval": "1m", "count": 2, "inconclusiveLimit": 5},
            (P.INCONCLUSIVE, P.INCONCLUSIVE),
            False,
            P.INCONCLUSIVE,
            "without a successful measurement",
        ),
        (
            {"interval": "1m"},
            (P.ERROR,) * 3,
            True,
            P.ERROR,
            "run terminated without a successful measurement",
        ),
        ({"interval": "1m", "failureLimit": 3}, (P.FAILED, P.ERROR), True, P.ERROR, "1 errors, 1 failed"),
        # consecutiveSuccessLimit: that many successes in a row decide at once
        (
            {"interval": "1m", "failureLimit": -1, "consecutiveSuccessLimit": 2},
            (P.FAILED, P.SUCCESSFUL, P.FAILED, P.SUCCESSFUL, P.SUCCESSFUL),
            False,
            P.SUCCESSFUL,
            "2 successful in a row reached consecutiveSuccessLimit (2)",
        ),
        (  # failureLimit -1: failures never fail it; it waits for the streak
            {"interval": "1m", "failureLimit": -1, "consecutiveSuccessLimit": 3},
            (P.FAILED,) * 20 + (P.SUCCESSFUL,) * 2,
            False,
            P.RUNNING,
            None,
        ),
        (  # an error breaks the streak
            {"interval": "1m", "failureLimit": -1, "consecutiveSuccessLimit": 2},
            (P.SUCCESSFUL, P.ERROR, P.SUCCESSFUL),
            False,
            P.RUNNING,
            None,
        ),
        (  # both limits in use: failureLimit still fails it first
            {"interval": "1m", "failureLimit": 1, "consecutiveSuccessLimit": 3},
            (P.SUCCESSFUL, P.FAILED, P.SUCCESSFUL, P.FAILED),
            False,
            P.FAILED,
            "failureLimit (1)",
        ),
        (  # count ran out before the streak, failureLimit off: Failed
            {"interval": "1m", "count": 4, "failureLimit": -1, "consecutiveSuccessLimit": 3},
            (P.SUCCESSFUL, P.SUCCESSFUL, P.FAILED, P.SUCCESSFUL),
            False,
            P.FAILED,
            "count (4) reached without 3 successful in a row",
        ),
        (  # count ran out before the streak and within failureLimit: neither decided, a human does
            {"interval": "1m", "count": 4, "failureLimit": 2, "consecutiveSuccessLimit": 3},
            (P.SUCCESSFUL, P.SUCCESSFUL, P.FAILED, P.SUCCESSFUL),
            False,
            P.INCONCLUSIVE,
            "1 in a row at the end, 3 successful in all",
        ),
    ],
)
def test_metric_phase(
    fields: dict[str, Any],
    phases: tuple[AnalysisPhase, ...] | None,
    terminating: bool,
    expected: AnalysisPhase,
    fragment: str | None,
) -> None:
    result = None if phases is None else results_of("m", *phases)
    judgement = metric_phase(metric(**fields), result, terminating=terminating)
    assert judgement.phase is expected
    if fragment is not None:
        assert judgement.message is not None and fragment in judgement.message


def test_completed_metric_phase_is_kept() -> None:
    done = MetricResult(name="m", phase=P.FAILED, message="failed (1) > failureLimit (0)")
    assert metric_phase(metric(), done).phase is P.FAILED


# --- the run ----------------------------------------------------------------------------------------

ONCE = {"interval": "1m", "count": 1}
FOREVER = {"interval": "1m"}


@pytest.mark.parametrize(
    ("name", "setup", "expected", "fragment"),
    [
        ("all successful", [("a", ONCE, (P.SUCCESSFUL,)), ("b", ONCE, (P.SUCCESSFUL,))], P.SUCCESSFUL, None),
        (
            "one still running",
            [("a", ONCE, (P.SUCCESSFUL,)), ("b", FOREVER, (P.SUCCESSFUL,))],
            P.RUNNING,
            None,
        ),
        ("one not started", [("a", ONCE, (P.SUCCESSFUL,)), ("b", ONCE, ())], P.RUNNING, None),
        (
            "a failure decides at once",
            [("a", ONCE, (P.FAILED,)), ("b", FOREVER, ())],
            P.FAILED,
            '"a" assessed Failed',
        ),
        (
            "failed is worse than error",
            [("a", ONCE, (P.ERROR,) * 5), ("b", ONCE, (P.FAILED,))],
            P.FAILED,
            '"b"',
        ),
        (
            "error is worse than inconclusive",
            [("a", ONCE, (P.INCONCLUSIVE,)), ("b", ONCE, (P.ERROR,) * 5)],
            P.ERROR,
            '"b"',
        ),
        (
            "inconclusive beats running",
            [("a", ONCE, (P.INCONCLUSIVE,)), ("b", FOREVER, (P.SUCCESSFUL,))],
            P.INCONCLUSIVE,
            None,
        ),
    ],
)
def test_run_phase(
    name: str,
    setup: list[tuple[str, dict[str, Any], tuple[AnalysisPhase, ...]]],
    expected: AnalysisPhase,
    fragment: str | None,
) -> None:
    metrics = [metric(n, **fields) for n, fields, _ in setup]
    results = [results_of(n, *phases) for n, _, phases in setup if phases]
    judgement = run_phase(metrics=metrics, results=results)
    assert judgement.phase is expected, name
    if fragment is not None:
        assert judgement.message is not None and fragment in judgement.message


def test_a_decided_run_stops_the_metrics_that_would_run_forever() -> None:
    metrics = [metric("a", **ONCE), metric("b", **FOREVER)]
    results = [results_of("a", P.FAILED), results_of("b", P.SUCCESSFUL, P.SUCCESSFUL)]
    judgement = run_phase(metrics=metrics, results=results)
    assert judgement.metrics["b"].phase is P.SUCCESSFUL
    assert judgement.run_summary.count == 2 and judgement.run_summary.failed == 1


def test_dry_run_metrics_do_not_decide() -> None:
    metrics = [metric("latency", **ONCE), metric("error-rate", **ONCE)]
    results = [results_of("latency", P.SUCCESSFUL), results_of("error-rate", P.FAILED)]
    judgement = run_phase(metrics=metrics, results=results, dry_run=[DryRun(metric_name="error-rate")])
    assert judgement.phase is P.SUCCESSFUL
    assert judgement.metrics["error-rate"].phase is P.FAILED  # still judged and shown
    assert (judgement.run_summary.count, judgement.run_summary.successful) == (1, 1)
    assert (judgement.dry_run_summary.count, judgement.dry_run_summary.failed) == (1, 1)


def test_a_run_of_only_dry_run_metrics_succeeds_when_complete() -> None:
    metrics = [metric("a", **ONCE)]
    running = run_phase(metrics=metrics, results=[], dry_run=[DryRun(metric_name=".*")])
    assert running.phase is P.RUNNING
    done = run_phase(metrics=metrics, results=[results_of("a", P.FAILED)], dry_run=[DryRun(metric_name=".*")])
    assert done.phase is P.SUCCESSFUL and done.message == "all metrics are dry-run"


def test_terminate_before_any_measurement_skips_the_analysis() -> None:
    judgement = run_phase(metrics=[metric("a", **FOREVER)], results=[], terminate=True)
    assert judgement.phase is P.SUCCESSFUL


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([], frozenset()),
        ([".*"], frozenset({"error-rate", "error-rate-p99", "latency"})),
        (["error-rate"], frozenset({"error-rate"})),  # whole-name match, unlike Argo's substring match
        (["error-rate.*"], frozenset({"error-rate", "error-rate-p99"})),
        (["latency", "error-rate"], frozenset({"latency", "error-rate"})),
    ],
)
def test_dry_run_metric_names(rules: list[str], expected: frozenset[str]) -> None:
    metrics = [metric("error-rate"), metric("error-rate-p99"), metric("latency")]
    got = dry_run_metric_names(metrics=metrics, rules=[DryRun(metric_name=r) for r in rules])
    assert got == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("errors", r"dryRun\[0\].metricName 'errors' matches no metric"),
        ("(", "not a valid regular expression"),
    ],
)
def test_dry_run_rule_mistakes_are_named(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dry_run_metric_names(metrics=[metric("latency")], rules=[DryRun(metric_name=rule)])


# --- invariants -------------------------------------------------------------------------------------

_PHASES = st.sampled_from([P.SUCCESSFUL, P.FAILED, P.INCONCLUSIVE, P.ERROR])


@given(
    stories=st.lists(
        st.tuples(
            st.sampled_from([ONCE, FOREVER, {"interval": "1m", "count": 3}, {}]),
            st.lists(_PHASES, max_size=8),
        ),
        min_size=1,
        max_size=4,
    ),
    terminate=st.booleans(),
)
def test_run_is_successful_only_with_evidence(
    stories: list[tuple[dict[str, Any], list[AnalysisPhase]]], terminate: bool
) -> None:
    """A Successful run has, for every metric it measured, at least one successful measurement;
    in particular a run whose measurements all errored is never Successful."""
    metrics = [metric(f"m{i}", **fields) for i, (fields, _) in enumerate(stories)]
    results = [results_of(f"m{i}", *phases) for i, (_, phases) in enumerate(stories)]
    judgement = run_phase(metrics=metrics, results=results, terminate=terminate)
    if judgement.phase is P.SUCCESSFUL:
        for result in results:
            assert result.successful > 0 or not result.measurements
    all_errors = all(phases and set(phases) == {P.ERROR} for _, phases in stories)
    if all_errors:
        assert judgement.phase is not P.SUCCESSFUL


def test_consecutive_success_limit_above_count_could_never_be_reached() -> None:
    with pytest.raises(ValueError, match="consecutiveSuccessLimit is 5 but count is 3, so it could never"):
        metric(interval="1m", count=3, consecutiveSuccessLimit=5)
