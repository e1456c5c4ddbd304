"""The Prometheus provider: result shaping, judgement, and each way a query fails (never a success)."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from rollouts.api import Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.engine.analysis_args import resolve_run_args
from rollouts.metrics import Providers, ProviderSettings, take_measurement
from rollouts.metrics.prometheus import PrometheusProvider
from tests.unit.metrics.fake_prometheus import (
    FakePrometheus,
    bad_query,
    fake_prometheus,
    matrix,
    scalar,
    string,
    vector,
)

QUERY = 'sum(rate(requests_total{job="web",code!~"5.."}[1m])) / sum(rate(requests_total{job="web"}[1m]))'


@pytest.fixture
def prom() -> Iterator[FakePrometheus]:
    with fake_prometheus() as fake:
        yield fake


def metric(
    address: str,
    *,
    query: str = QUERY,
    success: str | None = "result[0] >= 0.95",
    failure: str | None = None,
    **prometheus: Any,
) -> Metric:
    body: dict[str, Any] = {
        "name": "success-rate",
        "provider": {"prometheus": {"address": address, "query": query, **prometheus}},
    }
    if success is not None:
        body["successCondition"] = success
    if failure is not None:
        body["failureCondition"] = failure
    return Metric.model_validate(body)


def measure(m: Metric) -> Any:
    return PrometheusProvider().measure(m)


def test_vector_becomes_a_list_and_is_judged(prom: FakePrometheus) -> None:
    prom.answer(vector(0.97, 0.5))
    good = measure(metric(prom.address))
    assert good.phase is AnalysisPhase.SUCCESSFUL
    assert good.value == [0.97, 0.5]
    assert good.metadata["query"] == QUERY
    assert prom.received[0].path == "/api/v1/query" and prom.received[0].query == QUERY


def test_failing_value_fails_with_the_condition_and_value(prom: FakePrometheus) -> None:
    prom.answer(vector(0.5))
    bad = measure(metric(prom.address))
    assert bad.phase is AnalysisPhase.FAILED
    assert bad.message is not None and "result[0] >= 0.95" in bad.message and "[0.5]" in bad.message


def test_scalar_becomes_a_number(prom: FakePrometheus) -> None:
    prom.answer(scalar("0.99"))
    m = measure(metric(prom.address, query="scalar(up)", success="result > 0.9"))
    assert m.value == 0.99 and m.phase is AnalysisPhase.SUCCESSFUL


def test_string_stays_a_string(prom: FakePrometheus) -> None:
    prom.answer(string("green"))
    m = measure(metric(prom.address, query='"green"', success='result == "green"'))
    assert m.value == "green" and m.phase is AnalysisPhase.SUCCESSFUL


def test_matrix_is_an_error_that_says_how_to_fix_the_query(prom: FakePrometheus) -> None:
    prom.answer(matrix(1.0, 1.0))
    m = measure(metric(prom.address, query="up[1m]"))
    assert m.phase is AnalysisPhase.ERROR
    assert "range vector" in m.message and "instant query" in m.message and 'query "up[1m]"' in m.message


def test_empty_vector_is_an_error_showing_the_query(prom: FakePrometheus) -> None:
    prom.answer(vector())
    m = measure(metric(prom.address, success="default(result, 0) < 0.05"))  # Argo would pass this
    assert m.phase is AnalysisPhase.ERROR
    assert "no data" in m.message and QUERY in m.message


def test_nan_is_an_error_showing_the_query(prom: FakePrometheus) -> None:
    prom.answer(vector("NaN"))
    m = measure(metric(prom.address, success="result[0] < 0.05 || true"))
    assert m.phase is AnalysisPhase.ERROR
    assert "no data" in m.message and "NaN" in m.message and QUERY in m.message


def test_missing_series_through_scalar_is_nan_hence_an_error(prom: FakePrometheus) -> None:
    prom.answer(scalar("NaN"))
    m = measure(metric(prom.address, query='scalar(sum(up{job="nope"}))', success="result >= 0"))
    assert m.phase is AnalysisPhase.ERROR and 'job="nope"' in m.message
    assert isinstance(m.value, float) and math.isnan(m.value)


def test_nan_a_failure_condition_asks_for_is_failed_not_success(prom: FakePrometheus) -> None:
    prom.answer(vector("NaN"))
    m = measure(metric(prom.address, success=None, failure="isNaN(result[0])"))
    assert m.phase is AnalysisPhase.FAILED


def test_malformed_query_shows_prometheus_parse_error(prom: FakePrometheus) -> None:
    prom.answer(bad_query('1:5: parse error: unexpected "}"'), status=400)
    m = measure(metric(prom.address, query="sum(rate(x[1m]}"))
    assert m.phase is AnalysisPhase.ERROR
    assert "rejected the query" in m.message and "400" in m.message and "parse error" in m.message
    assert 'query "sum(rate(x[1m]}"' in m.message


def test_server_error_is_an_error_not_retried(prom: FakePrometheus) -> None:
    prom.answer({"status": "error", "errorType": "internal", "error": "boom"}, status=503)
    m = measure(metric(prom.address))
    assert m.phase is AnalysisPhase.ERROR and "503" in m.message and "boom" in m.message
    assert len(prom.received) == 1  # the next measurement is the retry


def test_timeout_is_an_error_naming_the_limit(prom: FakePrometheus) -> None:
    prom.answer(vector(1.0), delay=2.5)
    m = measure(metric(prom.address, timeout=1))
    assert m.phase is AnalysisPhase.ERROR
    assert "did not answer within 1s (timeout)" in m.message and QUERY in m.message


def test_unreachable_is_an_error_naming_the_address() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = measure(metric(f"http://127.0.0.1:{port}"))
    assert m.phase is AnalysisPhase.ERROR
    assert f"127.0.0.1:{port} is unreachable" in m.message and QUERY in m.message


def test_headers_are_sent_with_secret_args_substituted(prom: FakePrometheus) -> None:
    m = metric(prom.address, headers=[{"key": "Authorization", "value": "Bearer {{args.token}}"}])
    run_args = [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "prom-auth", "key": "token"}}}]
    from rollouts.api import Argument

    args = resolve_run_args(
        [Argument.model_validate(a) for a in run_args],
        secrets={"prom-auth": {"token": "s3cr3t"}},
        namespace="shop",
    )
    result = take_measurement(Providers(), m, args)
    assert result.phase is AnalysisPhase.SUCCESSFUL
    assert prom.received[-1].headers["Authorization"] == "Bearer s3cr3t"
    assert "s3cr3t" not in str(result)  # the secret is not echoed into the status


def test_unauthorized_points_at_the_secret(prom: FakePrometheus) -> None:
    prom.answer({"status": "error", "errorType": "unauthorized", "error": "bad token"}, status=401)
    m = measure(metric(prom.address))
    assert m.phase is AnalysisPhase.ERROR and "401" in m.message and "Secret" in m.message


def test_query_args_are_substituted(prom: FakePrometheus) -> None:
    from rollouts.api import Argument

    m = metric(prom.address, query='up{service="{{args.service}}"}', success="result[0] == 1")
    args = resolve_run_args([Argument(name="service", value="web-canary")], secrets={}, namespace="shop")
    result = take_measurement(Providers(), m, args)
    assert prom.received[-1].query == 'up{service="web-canary"}'
    assert result.metadata["query"] == 'up{service="web-canary"}'


def test_default_address_from_the_controller_setting(prom: FakePrometheus) -> None:
    m = metric(prom.address).model_copy(deep=True)
    spec = m.provider.prometheus
    assert spec is not None
    no_address = m.model_copy(
        update={
            "provider": m.provider.model_copy(update={"prometheus": spec.model_copy(update={"address": ""})})
        }
    )
    assert (
        PrometheusProvider(default_address=prom.address).measure(no_address).phase is AnalysisPhase.SUCCESSFUL
    )
    missing = PrometheusProvider(default_address=None)
    missing.default_address = None
    out = missing.measure(no_address)
    assert out.phase is AnalysisPhase.ERROR and "--prometheus-address" in out.message


def test_default_address_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_ADDRESS", "http://prom.example:9090")
    assert PrometheusProvider().default_address == "http://prom.example:9090"
    assert PrometheusProvider(default_address="http://flag:9090").default_address == "http://flag:9090"


def test_providers_from_settings_share_one_prometheus(prom: FakePrometheus) -> None:
    providers = Providers(ProviderSettings(prometheus_address=prom.address))
    m = metric(prom.address)
    assert providers.for_metric(m) is providers.for_metric(m)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # asked for
def test_insecure_skips_the_certificate_check_of_an_https_prometheus() -> None:
    with fake_prometheus(tls=True) as fake:
        fake.answer(vector(0.99))
        refused = measure(metric(fake.address))
        assert refused.phase is AnalysisPhase.ERROR and "certificate" in refused.message.lower(), (
            refused.message
        )
        trusted = measure(metric(fake.address, insecure=True))
        assert trusted.phase is AnalysisPhase.SUCCESSFUL, trusted.message
