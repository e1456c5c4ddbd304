"""A metric's verdict quotes the value that decided it: the Rollout's status and Events repeat the
run's message, and "failed (1) > failureLimit (0)" alone does not tell a user what was measured."""

from __future__ import annotations

from rollouts.api.analysis import Metric
from rollouts.api.enums import AnalysisPhase as P
from rollouts.api.measurement import Measurement, MetricResult
from rollouts.engine.analysis import metric_phase, record_measurement, run_phase


def _metric(**fields: object) -> Metric:
    provider = {"prometheus": {"address": "http://prometheus:9090", "query": "up"}}
    return Metric.model_validate({"name": "success-rate", "provider": provider, "interval": "1s", **fields})


def _measured(*readings: tuple[P, str | None]) -> MetricResult:
    result = MetricResult(name="success-rate", phase=P.RUNNING)
    for phase, value in readings:
        result = record_measurement(result, Measurement(phase=phase, value=value))
    return result


def test_failed_metric_names_the_last_failing_value() -> None:
    result = _measured((P.SUCCESSFUL, "[0.99]"), (P.FAILED, "[0.68]"), (P.SUCCESSFUL, None))
    verdict = metric_phase(_metric(), result)
    assert verdict.phase is P.FAILED
    assert verdict.message == "failed (1) > failureLimit (0); last failed value [0.68]"


def test_inconclusive_metric_names_the_last_inconclusive_value() -> None:
    verdict = metric_phase(_metric(), _measured((P.INCONCLUSIVE, "[0.5]")))
    assert verdict.phase is P.INCONCLUSIVE and verdict.message is not None
    assert verdict.message.endswith("; last inconclusive value [0.5]")


def test_count_reached_without_success_names_the_failing_value() -> None:
    result = _measured((P.FAILED, "[0.7]"), (P.FAILED, "[0.6]"))
    verdict = metric_phase(_metric(count=2, failureLimit=5), result)
    assert verdict.phase is P.FAILED and verdict.message is not None
    assert verdict.message.endswith("last failed value [0.6]")


def test_the_run_message_carries_the_metric_name_and_value() -> None:
    metric = _metric()
    result = _measured((P.FAILED, "[0.68]"))
    verdict = run_phase(metrics=[metric], results=[result])
    assert verdict.phase is P.FAILED
    assert (
        verdict.message
        == 'metric "success-rate" assessed Failed: failed (1) > failureLimit (0); last failed value [0.68]'
    )


def test_no_value_no_clause() -> None:
    verdict = metric_phase(_metric(), _measured((P.FAILED, None)))
    assert verdict.message == "failed (1) > failureLimit (0)"
