"""The judge provider against a scripted Prometheus: the two range queries it asks, the verdict
it draws from their samples, and each way a query fails (an Error naming the query, never a Pass)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollouts.api import Argument, Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.engine.analysis_args import resolve_run_args
from rollouts.metrics import PROVIDERS, Providers, ProviderSettings, take_measurement
from rollouts.metrics.judge import JudgeProvider
from rollouts.metrics.provider import Measurement
from tests.unit.metrics.fake_prometheus import (
    FakePrometheus,
    bad_query,
    fake_prometheus,
    matrix_of,
    series,
    vector,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CANARY = 'sum(rate(errors{hash="c"}[4s])) / sum(rate(requests{hash="c"}[4s]))'
BASELINE = 'sum(rate(errors{hash="s"}[4s])) / sum(rate(requests{hash="s"}[4s]))'
HEALTHY = [0.0009, 0.0011, 0.001, 0.0012, 0.0008, 0.001, 0.0011, 0.0009, 0.001, 0.0012, 0.0008, 0.001]
WORSE = [0.011, 0.0105, 0.0112, 0.0098, 0.0101, 0.0115, 0.0109, 0.0102, 0.011, 0.0107, 0.0111, 0.0104]


@pytest.fixture
def prom() -> Iterator[FakePrometheus]:
    with fake_prometheus() as fake:
        yield fake


def metric(address: str | None, **judge: Any) -> Metric:
    body: dict[str, Any] = {
        "canaryQuery": CANARY,
        "baselineQuery": BASELINE,
        "window": "40s",
        "step": "2s",
        "direction": "HigherIsWorse",
        **judge,
    }
    if address is not None:
        body["address"] = address
    return Metric.model_validate({"name": "errors", "provider": {"judge": body}})


def measure(m: Metric, **provider: Any) -> Measurement:
    return JudgeProvider(now=lambda: NOW, **provider).measure(m)


def answer(prom: FakePrometheus, canary: Any, baseline: Any) -> None:
    prom.answer_query(CANARY, canary)
    prom.answer_query(BASELINE, baseline)


def test_a_canary_with_a_higher_error_rate_fails_with_the_test_in_the_measurement(
    prom: FakePrometheus,
) -> None:
    answer(prom, matrix_of(series(*WORSE)), matrix_of(series(*HEALTHY)))
    m = measure(metric(prom.address))
    assert m.phase is AnalysisPhase.FAILED
    assert m.message is not None and m.message.startswith("canary is higher (worse): p=")
    assert m.metadata["decision"] == "Fail"
    assert (m.metadata["canaryCount"], m.metadata["baselineCount"]) == ("12", "12")
    assert float(m.metadata["pValue"]) < 0.001 and float(m.metadata["statistic"]) == 144.0
    assert float(m.metadata["canaryMedian"]) == pytest.approx(0.0108)
    assert float(m.metadata["baselineMedian"]) == pytest.approx(0.001)
    assert (m.metadata["canaryQuery"], m.metadata["baselineQuery"]) == (CANARY, BASELINE)
    assert (m.metadata["address"], m.metadata["window"], m.metadata["step"]) == (prom.address, "40s", "2s")
    assert isinstance(m.value, dict) and m.value["canaryMedian"] == pytest.approx(0.0108)
    # Two range queries, over the same window ending now, one sample per step.
    assert [(r.path, r.query) for r in prom.received] == [
        ("/api/v1/query_range", CANARY),
        ("/api/v1/query_range", BASELINE),
    ]
    end = NOW.timestamp()
    for r in prom.received:
        assert (float(r.params["start"]), float(r.params["end"]), r.params["step"]) == (end - 40, end, "2")


def test_a_canary_like_its_baseline_passes(prom: FakePrometheus) -> None:
    answer(prom, matrix_of(series(*reversed(HEALTHY))), matrix_of(series(*HEALTHY)))
    m = measure(metric(prom.address))
    assert m.phase is AnalysisPhase.SUCCESSFUL, m.message
    assert m.message is not None and "canary not shown higher" in m.message
    assert m.metadata["decision"] == "Pass" and float(m.metadata["pValue"]) > 0.05


def test_lower_is_worse_fails_a_canary_whose_success_rate_dropped(prom: FakePrometheus) -> None:
    answer(prom, matrix_of(series(*[1 - v for v in WORSE])), matrix_of(series(*[1 - v for v in HEALTHY])))
    assert measure(metric(prom.address, direction="LowerIsWorse")).phase is AnalysisPhase.FAILED
    # ... and the same samples judged the other way round pass: direction decides.
    assert measure(metric(prom.address, direction="HigherIsWorse")).phase is AnalysisPhase.SUCCESSFUL


def test_a_shift_smaller_than_min_effect_passes_and_says_so(prom: FakePrometheus) -> None:
    answer(prom, matrix_of(series(*WORSE)), matrix_of(series(*HEALTHY)))
    m = measure(metric(prom.address, minEffect=0.02))
    assert m.phase is AnalysisPhase.SUCCESSFUL
    assert m.message is not None and "under minEffect 0.02" in m.message


def test_too_few_samples_is_inconclusive_never_a_pass(prom: FakePrometheus) -> None:
    # The canary got traffic for the last 4 steps of the window only: the rest is NaN (0/0).
    canary = ["NaN"] * 8 + WORSE[:4]
    answer(prom, matrix_of(series(*canary)), matrix_of(series(*HEALTHY)))
    m = measure(metric(prom.address))
    assert m.phase is AnalysisPhase.INCONCLUSIVE
    assert m.message == ("4 canary and 12 baseline samples; at least 10 on each side are needed (minSamples)")
    assert (m.metadata["canaryCount"], m.metadata["canaryNaN"], m.metadata["baselineNaN"]) == ("4", "8", "0")
    assert m.metadata["decision"] == "Inconclusive"


def test_a_canary_query_with_no_series_is_inconclusive_naming_the_query(prom: FakePrometheus) -> None:
    answer(prom, matrix_of(), matrix_of(series(*HEALTHY)))
    m = measure(metric(prom.address))
    assert m.phase is AnalysisPhase.INCONCLUSIVE
    assert m.message is not None and "0 canary and 12 baseline samples" in m.message
    assert f'the canary query returned no series over 40s: "{CANARY}"' in m.message
    assert "pValue" not in m.metadata and m.metadata["canaryCount"] == "0"


def test_every_series_of_a_side_gives_samples_per_pod(prom: FakePrometheus) -> None:
    # a query keeping the pod label: 3 pods x 4 steps = 12 samples, enough on its own
    pods = [series(*WORSE[i : i + 4]) for i in (0, 4, 8)]
    answer(prom, matrix_of(*pods), matrix_of(series(*HEALTHY[:6]), series(*HEALTHY[6:])))
    m = measure(metric(prom.address))
    assert (m.metadata["canaryCount"], m.metadata["baselineCount"]) == ("12", "12")
    assert m.phase is AnalysisPhase.FAILED


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_an_unreachable_prometheus_is_an_error_naming_the_canary_query() -> None:
    address = _dead_address()
    m = measure(metric(address))
    assert m.phase is AnalysisPhase.ERROR
    assert m.message is not None and f"Prometheus at {address} is unreachable" in m.message
    assert m.message.endswith(f'canary query "{CANARY}"')


def test_a_rejected_baseline_query_is_an_error_with_prometheus_reason(prom: FakePrometheus) -> None:
    prom.answer_query(CANARY, matrix_of(series(*WORSE)))
    prom.answer_query(BASELINE, bad_query("parse error: unexpected }"), status=400)
    m = measure(metric(prom.address))
    assert m.phase is AnalysisPhase.ERROR
    assert m.message == (
        "Prometheus rejected the query (HTTP 400 bad_data: parse error: unexpected }); "
        f'baseline query "{BASELINE}"'
    )


def test_a_failed_canary_query_stops_before_the_baseline_is_asked(prom: FakePrometheus) -> None:
    prom.answer_query(CANARY, bad_query("boom"), status=422)
    assert measure(metric(prom.address)).phase is AnalysisPhase.ERROR
    assert [r.query for r in prom.received] == [CANARY]


def test_a_timeout_is_an_error_saying_so(prom: FakePrometheus) -> None:
    prom.answer(matrix_of(series(*HEALTHY)), delay=1.5)
    m = measure(metric(prom.address, timeout=1))
    assert m.phase is AnalysisPhase.ERROR
    assert m.message is not None and "did not answer within 1s (timeout)" in m.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (vector(0.01), "the answer is an instant vector where a range query returns a matrix"),
        (matrix_of(series(0.01, "+Inf")), "sample value +Inf is infinite"),
        ({"status": "success", "data": {"result": "x"}}, "the answer is not a range vector (matrix)"),
        (matrix_of({"metric": {}}), "a series without values"),
    ],
    ids=["instant-vector", "infinite", "not-a-list", "no-values"],
)
def test_an_answer_that_is_no_matrix_of_numbers_is_an_error(
    prom: FakePrometheus, body: Any, expected: str
) -> None:
    prom.answer(body)
    m = measure(metric(prom.address))
    assert m.phase is AnalysisPhase.ERROR
    assert m.message is not None and expected in m.message and f'canary query "{CANARY}"' in m.message


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # asked for
def test_an_untrusted_certificate_points_at_the_judges_insecure_field() -> None:
    with fake_prometheus(tls=True) as fake:
        m = measure(metric(fake.address))
        assert m.phase is AnalysisPhase.ERROR
        assert m.message is not None and "set provider.judge.insecure: true" in m.message
        fake.answer(matrix_of(series(*HEALTHY)))
        assert measure(metric(fake.address, insecure=True)).phase is AnalysisPhase.SUCCESSFUL


def test_no_address_anywhere_is_an_error_naming_the_field_and_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_ADDRESS", raising=False)
    m = measure(metric(None))
    assert m.phase is AnalysisPhase.ERROR
    assert m.message is not None and "set provider.judge.address" in m.message
    assert "--prometheus-address" in m.message


def test_registered_measured_through_the_run_args_and_the_controllers_address(prom: FakePrometheus) -> None:
    assert "judge" in PROVIDERS
    template = metric(None, canaryQuery='errors{hash="{{args.canary}}"}', baselineQuery='errors{hash="s"}')
    prom.answer_query('errors{hash="c9"}', matrix_of(series(*WORSE)))
    prom.answer_query('errors{hash="s"}', matrix_of(series(*HEALTHY)))
    args = resolve_run_args(
        [Argument.model_validate({"name": "canary", "value": "c9"})], secrets={}, namespace="shop"
    )
    providers = Providers(ProviderSettings(prometheus_address=prom.address))
    m = take_measurement(providers, template, args)
    assert m.phase is AnalysisPhase.FAILED, m.message
    assert m.metadata["canaryQuery"] == 'errors{hash="c9"}' and m.metadata["address"] == prom.address
    # what the AnalysisRun's status records: the mapping as compact JSON, the figures as text
    status = m.to_status(started_at=NOW, finished_at=NOW + timedelta(seconds=1))
    assert status.value is not None and status.value.startswith('{"pValue":')
    assert status.metadata is not None and status.metadata["decision"] == "Fail"
