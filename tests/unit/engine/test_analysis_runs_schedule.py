"""AnalysisRun scheduling by deadlines from the status: initialDelay, interval, count, restarts,
errors, terminate, dryRun and retention, as a user reading the run's status would see them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.api import AnalysisRun
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import Measurement
from rollouts.engine.analysis import judge_measurement
from rollouts.engine.analysis_schedule import advance, plan_measurements

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def metric(name: str = "rate", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "successCondition": "result >= 0.95",
        "provider": {"prometheus": {"address": "http://prom:9090", "query": "q"}},
        **fields,
    }


def run(*metrics: dict[str, Any], **spec: Any) -> AnalysisRun:
    return AnalysisRun.model_validate({"metadata": {"name": "r"}, "spec": {"metrics": list(metrics), **spec}})


def reading(value: float | None, when: datetime, *, error: str | None = None) -> Measurement:
    """A measurement judged as the providers judge it (an error when ``error`` is set)."""
    if error is not None:
        return Measurement(phase=AnalysisPhase.ERROR, message=error, started_at=when, finished_at=when)
    verdict = judge_measurement(value=value, success_condition="result >= 0.95", failure_condition=None)
    return Measurement(
        phase=verdict.phase, message=verdict.message, started_at=when, finished_at=when, value=str(value)
    )


def restart(r: AnalysisRun) -> AnalysisRun:
    """The run as a fresh controller reads it back from the API server (JSON round trip)."""
    return AnalysisRun.model_validate(r.model_dump(by_alias=True, exclude_none=True, mode="json"))


def step(r: AnalysisRun, now: datetime, value: Callable[[str], Measurement]) -> tuple[AnalysisRun, list[str]]:
    """One controller pass: measure what is due, record, write status (and read it back)."""
    plan = plan_measurements(r, now)
    taken = {m.name: value(m.name) for m in plan.due}
    status = advance(r, now, taken)
    return restart(r.model_copy(update={"status": status})), sorted(taken)


def drive(
    r: AnalysisRun, value: Callable[[str, datetime], Measurement], *, until: float, tick: float = 1.0
) -> tuple[AnalysisRun, list[tuple[float, str]]]:
    """Run passes every ``tick`` seconds up to ``until``; return the run and (time, metric) measured."""
    log: list[tuple[float, str]] = []
    t = 0.0
    while t <= until:
        now = at(t)
        r, names = step(r, now, lambda name, now=now: value(name, now))  # type: ignore[misc]
        log += [(t, n) for n in names]
        t += tick
    return r, log


def healthy(name: str, when: datetime) -> Measurement:
    return reading(0.99, when)


def result_of(r: AnalysisRun, name: str = "rate") -> Any:
    assert r.status is not None
    return next(m for m in r.status.metric_results or [] if m.name == name)


def test_count_and_interval_measure_exactly_count_times_then_succeed() -> None:
    r, log = drive(run(metric(interval="10s", count=3)), healthy, until=60)
    assert [t for t, _ in log] == [0, 10, 20]
    assert r.status is not None and r.status.phase is AnalysisPhase.SUCCESSFUL
    res = result_of(r)
    assert (res.count, res.successful, res.phase) == (3, 3, AnalysisPhase.SUCCESSFUL)
    assert [m.finished_at for m in res.measurements] == [at(0), at(10), at(20)]
    assert r.status.completed_at == at(20)  # the pass that decided it; later passes keep it


def test_initial_delay_postpones_the_first_measurement() -> None:
    r = run(metric(interval="10s", count=2, initialDelay="30s"))
    first = plan_measurements(r, at(0))
    assert first.due == () and first.wake_at == at(30)
    r, log = drive(r, healthy, until=60)
    assert [t for t, _ in log] == [30, 40]


def test_wake_at_is_the_next_deadline_across_metrics() -> None:
    r = run(metric("fast", interval="5s", count=3), metric("slow", interval="20s", count=2))
    r, names = step(r, at(0), lambda n: reading(0.99, at(0)))
    assert names == ["fast", "slow"]
    assert plan_measurements(r, at(1)).wake_at == at(5)


def test_restart_mid_run_repeats_nothing_and_loses_nothing() -> None:
    r, _ = drive(run(metric(interval="60s", count=3)), healthy, until=61)  # measured at 0 and 60
    assert result_of(r).count == 2
    again = restart(r)  # a new controller process
    plan = plan_measurements(again, at(62))
    assert plan.due == () and plan.wake_at == at(120)
    # Down for several intervals: one catch-up measurement, not one per missed interval.
    late = plan_measurements(again, at(400))
    assert [m.name for m in late.due] == ["rate"]
    again, _ = step(again, at(400), lambda n: reading(0.99, at(400)))
    assert result_of(again).count == 3 and again.status is not None
    assert again.status.phase is AnalysisPhase.SUCCESSFUL


def test_start_time_is_kept_so_initial_delay_survives_a_restart() -> None:
    r, _ = step(run(metric(initialDelay="60s")), at(0), lambda n: reading(0.99, at(0)))
    assert r.status is not None and r.status.started_at == at(0) and r.status.phase is AnalysisPhase.RUNNING
    assert plan_measurements(restart(r), at(30)).wake_at == at(60)


def test_failure_beyond_failure_limit_fails_the_run_and_stops_measuring() -> None:
    values = iter([0.99, 0.5, 0.5])
    r, log = drive(
        run(metric(interval="10s", count=10, failureLimit=1)),
        lambda n, when: reading(next(values), when),
        until=100,
    )
    assert len(log) == 3
    assert r.status is not None and r.status.phase is AnalysisPhase.FAILED
    assert "failureLimit (1)" in (r.status.message or "")
    assert plan_measurements(r, at(200)).wake_at is None


def test_errors_past_consecutive_error_limit_error_the_run_with_the_last_cause() -> None:
    def unreachable(name: str, when: datetime) -> Measurement:
        return reading(None, when, error='Prometheus at http://x is unreachable; query "q"')

    r, log = drive(run(metric(interval="10s", consecutiveErrorLimit=2)), unreachable, until=100)
    assert len(log) == 3  # two tolerated, the third decides
    assert r.status is not None and r.status.phase is AnalysisPhase.ERROR
    assert "unreachable" in (r.status.message or "") and result_of(r).error == 3


def test_a_one_shot_metric_that_errored_is_retried() -> None:
    outcomes = iter([None, 0.99])

    def flaky(name: str, when: datetime) -> Measurement:
        value = next(outcomes)
        return reading(value, when, error=None if value else "timeout")

    r, log = drive(run(metric()), flaky, until=30)
    assert [t for t, _ in log] == [0, 10]
    assert r.status is not None and r.status.phase is AnalysisPhase.SUCCESSFUL


def test_all_errors_until_count_is_never_successful() -> None:
    r, _ = drive(
        run(metric(interval="1s", count=2, consecutiveErrorLimit=100)),
        lambda n, when: reading(None, when, error="empty"),
        until=5,
    )
    assert r.status is not None and r.status.phase is not AnalysisPhase.SUCCESSFUL


def test_no_count_measures_until_terminated() -> None:
    r, log = drive(run(metric(interval="10s")), healthy, until=100)
    assert len(log) == 11 and r.status is not None and r.status.phase is AnalysisPhase.RUNNING
    stopped = r.model_copy(update={"spec": r.spec.model_copy(update={"terminate": True})})
    assert plan_measurements(stopped, at(110)).due == ()
    final = advance(stopped, at(105), {})
    assert final.phase is AnalysisPhase.SUCCESSFUL and final.message == "run terminated"


def test_terminate_before_any_measurement_completes_the_run() -> None:
    r = run(metric(interval="10s", initialDelay="1m"), terminate=True)
    assert plan_measurements(r, at(0)).due == ()
    assert advance(r, at(0), {}).phase is AnalysisPhase.SUCCESSFUL


def test_dry_run_metric_failing_is_shown_but_does_not_decide() -> None:
    def value(name: str, when: datetime) -> Measurement:
        return reading(0.1 if name == "experimental" else 0.99, when)

    r, _ = drive(
        run(
            metric("rate", count=1), metric("experimental", count=1), dryRun=[{"metricName": "experimental"}]
        ),
        value,
        until=5,
    )
    assert r.status is not None and r.status.phase is AnalysisPhase.SUCCESSFUL
    exp = result_of(r, "experimental")
    assert exp.phase is AnalysisPhase.FAILED and exp.dry_run is True
    assert r.status.dry_run_summary is not None and r.status.dry_run_summary.failed == 1
    assert result_of(r, "rate").dry_run is None


def test_dry_run_rule_matching_nothing_errors_the_run_with_the_fix() -> None:
    r, _ = step(run(metric(), dryRun=[{"metricName": "typo"}]), at(0), lambda n: reading(0.99, at(0)))
    assert r.status is not None and r.status.phase is AnalysisPhase.ERROR
    assert "spec.dryRun[0].metricName 'typo' matches no metric" in (r.status.message or "")


def test_retention_keeps_the_last_ten_by_default_and_the_rule_limit_otherwise() -> None:
    r, _ = drive(
        run(
            metric("a", interval="1s"),
            metric("b", interval="1s"),
            measurementRetention=[{"metricName": "b", "limit": 3}],
        ),
        healthy,
        until=14,
    )
    a, b = result_of(r, "a"), result_of(r, "b")
    assert a.count == 15 and len(a.measurements) == 10 and a.measurements[-1].finished_at == at(14)
    assert b.count == 15 and len(b.measurements) == 3


def test_a_completed_run_is_final() -> None:
    r, _ = drive(run(metric(count=1)), healthy, until=0)
    assert r.status is not None and r.status.phase is AnalysisPhase.SUCCESSFUL
    assert advance(r, at(50), {"rate": reading(0.1, at(50))}) == r.status
    assert plan_measurements(r, at(50)).due == ()
