"""The Prometheus provider against the real Prometheus of the local cluster, scraping a real target."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.api import AnalysisRun, Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.engine.analysis_schedule import advance, plan_measurements
from rollouts.metrics.prometheus import PrometheusProvider
from tests.integration.analysis.conftest import AppMetrics


def metric(address: str, query: str, **fields: Any) -> Metric:
    return Metric.model_validate(
        {
            "name": "success-rate",
            "successCondition": "result[0] >= 0.95",
            "provider": {"prometheus": {"address": address, "query": query}},
            **fields,
        }
    )


def dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_healthy_then_unhealthy_value_is_judged(app_metrics: AppMetrics) -> None:
    query = f'app_success_ratio{{run="{app_metrics.run_id}"}}'
    address = app_metrics.cluster.prometheus_url
    provider = PrometheusProvider()
    app_metrics.set("app_success_ratio", 0.99)
    app_metrics.wait_scraped(query, expect=0.99)
    good = provider.measure(metric(address, query))
    assert good.phase is AnalysisPhase.SUCCESSFUL and good.value == [0.99]

    app_metrics.set("app_success_ratio", 0.4)
    app_metrics.wait_scraped(query, expect=0.4)
    bad = provider.measure(metric(address, query))
    assert bad.phase is AnalysisPhase.FAILED and "[0.4]" in (bad.message or "")


def test_series_that_does_not_exist_is_an_error_not_a_success(app_metrics: AppMetrics) -> None:
    query = f'app_success_ratio{{run="{app_metrics.run_id}", typo="yes"}}'
    m = PrometheusProvider().measure(
        metric(app_metrics.cluster.prometheus_url, query, successCondition="default(result, 1) >= 0.95")
    )
    assert m.phase is AnalysisPhase.ERROR and "no data" in (m.message or "") and query in (m.message or "")


def test_malformed_query_shows_the_real_parse_error(app_metrics: AppMetrics) -> None:
    m = PrometheusProvider().measure(metric(app_metrics.cluster.prometheus_url, "sum(rate(x[1m]}"))
    assert m.phase is AnalysisPhase.ERROR
    assert "rejected the query (HTTP 400 bad_data" in (m.message or "") and "sum(rate(x[1m]}" in (
        m.message or ""
    )


def test_unreachable_prometheus_errors_until_consecutive_error_limit_fails_the_metric() -> None:
    provider = PrometheusProvider()
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": "r"},
            "spec": {
                "metrics": [
                    metric(dead_address(), "up", interval="10s", consecutiveErrorLimit=2).model_dump(
                        by_alias=True, exclude_none=True
                    )
                ]
            },
        }
    )
    now = datetime.now(UTC)
    for _ in range(10):
        plan = plan_measurements(run, now)
        taken = {m.name: provider.measure(m).to_status(started_at=now, finished_at=now) for m in plan.due}
        run = run.model_copy(update={"status": advance(run, now, taken)})
        assert run.status is not None
        if run.status.phase.is_completed():
            break
        now += timedelta(seconds=10)
    assert run.status is not None and run.status.phase is AnalysisPhase.ERROR
    result = (run.status.metric_results or [])[0]
    assert result.error == 3 and result.successful == 0
    assert all(
        m.phase is AnalysisPhase.ERROR and "is unreachable" in (m.message or "")
        for m in result.measurements or []
    )
    assert "consecutiveErrorLimit (2)" in (run.status.message or "")
