"""Taking a measurement: args resolved (Secrets included), substituted, the provider picked by name."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rollouts.api import Argument, Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.engine.analysis_args import resolve_run_args, secret_names
from rollouts.metrics import PROVIDERS, Providers, ProviderSettings, UnknownProviderError, take_measurement
from rollouts.metrics.registry import provider_name


def web_metric(url: str = "http://checks.example/{{args.service}}", **web: Any) -> Metric:
    return Metric.model_validate(
        {"name": "health", "successCondition": "result == 1", "provider": {"web": {"url": url, **web}}}
    )


def args(*items: dict[str, Any]) -> list[Argument]:
    return [Argument.model_validate(item) for item in items]


def recording() -> tuple[Providers, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=1)

    return Providers(ProviderSettings(http_transport=httpx.MockTransport(handler))), seen


SECRET_ARG = {"name": "token", "valueFrom": {"secretKeyRef": {"name": "auth", "key": "token"}}}


def test_secret_arg_is_read_and_substituted() -> None:
    providers, seen = recording()
    m = web_metric(headers=[{"key": "Authorization", "value": "Bearer {{args.token}}"}])
    resolved = resolve_run_args(
        args({"name": "service", "value": "web"}, SECRET_ARG),
        secrets={"auth": {"token": "abc"}},
        namespace="ns",
    )
    result = take_measurement(providers, m, resolved)
    assert result.phase is AnalysisPhase.SUCCESSFUL
    assert (
        str(seen[0].url) == "http://checks.example/web" and seen[0].headers["Authorization"] == "Bearer abc"
    )


def test_missing_secret_is_an_error_measurement_naming_secret_namespace_and_fix() -> None:
    providers, seen = recording()
    m = web_metric(headers=[{"key": "Authorization", "value": "Bearer {{args.token}}"}])
    resolved = resolve_run_args(
        args({"name": "service", "value": "web"}, SECRET_ARG), secrets={"auth": None}, namespace="shop"
    )
    result = take_measurement(providers, m, resolved)
    assert result.phase is AnalysisPhase.ERROR and not seen
    assert "argument 'token'" in (result.message or "")
    assert "Secret 'auth' not found in namespace 'shop'" in (result.message or "")


def test_missing_secret_key_lists_the_keys_there() -> None:
    resolved = resolve_run_args(args(SECRET_ARG), secrets={"auth": {"password": "x"}}, namespace="shop")
    assert "has no key 'token' (keys: password)" in resolved.problems["token"]


def test_a_broken_secret_only_stops_the_metrics_that_use_it() -> None:
    providers, seen = recording()
    resolved = resolve_run_args(
        args({"name": "service", "value": "web"}, SECRET_ARG), secrets={"auth": None}, namespace="shop"
    )
    assert take_measurement(providers, web_metric(), resolved).phase is AnalysisPhase.SUCCESSFUL
    assert len(seen) == 1


def test_reference_to_an_unknown_arg_is_an_error_naming_field_and_arg() -> None:
    providers, seen = recording()
    result = take_measurement(providers, web_metric(), resolve_run_args([], secrets={}, namespace="ns"))
    assert result.phase is AnalysisPhase.ERROR and not seen
    assert "provider.web.url uses {{args.service}}" in (result.message or "")


def test_secret_names_lists_what_to_fetch() -> None:
    assert secret_names(args({"name": "a", "value": "x"}, SECRET_ARG)) == {"auth"}


def test_registry_knows_prometheus_web_and_judge_and_names_unknown_ones() -> None:
    assert set(PROVIDERS) == {"prometheus", "web", "judge"}
    assert provider_name(web_metric()) == "web"
    providers = Providers()
    m = web_metric()
    broken = m.model_copy(update={"provider": m.provider.model_copy(update={"web": None})})
    with pytest.raises(
        UnknownProviderError,
        match=r"metric .health. must set exactly one provider.*prometheus, web, judge, job",
    ):
        providers.for_metric(broken)


def test_a_provider_that_raises_becomes_an_error_measurement() -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug")

    providers = Providers(ProviderSettings(http_transport=httpx.MockTransport(explode)))
    resolved = resolve_run_args(args({"name": "service", "value": "web"}), secrets={}, namespace="ns")
    result = take_measurement(providers, web_metric(), resolved)
    assert result.phase is AnalysisPhase.ERROR and "failed unexpectedly (RuntimeError: bug)" in (
        result.message or ""
    )


JUDGE = {
    "address": "http://{{args.prometheus}}:9090",
    "canaryQuery": 'errors{hash="{{args.canary-hash}}"}',
    "baselineQuery": 'errors{hash="{{args.stable-hash}}"}',
    "direction": "HigherIsWorse",
    "headers": [{"key": "X-Scope-OrgID", "value": "{{args.tenant}}"}],
}


def test_judge_queries_address_and_headers_take_the_args() -> None:
    from rollouts.engine.analysis_args import substitute_args

    m = Metric.model_validate({"name": "errors", "provider": {"judge": JUDGE}})
    values = {"prometheus": "prom", "canary-hash": "c1", "stable-hash": "s1", "tenant": "shop"}
    spec = substitute_args(m, values).provider.judge
    assert spec is not None
    assert (spec.address, spec.canary_query, spec.baseline_query) == (
        "http://prom:9090",
        'errors{hash="c1"}',
        'errors{hash="s1"}',
    )
    assert spec.headers is not None and spec.headers[0].value == "shop"
    assert m.provider.judge is not None and "{{args.canary-hash}}" in m.provider.judge.canary_query


def test_a_judge_arg_without_a_value_stops_only_that_metric_naming_the_field() -> None:
    from rollouts.engine.analysis_args import substitute_args

    m = Metric.model_validate({"name": "errors", "provider": {"judge": JUDGE}})
    resolved = resolve_run_args(
        args({"name": "prometheus", "value": "p"}, {"name": "tenant", "value": "t"}, SECRET_ARG),
        secrets={"auth": None},
        namespace="shop",
    )
    assert resolved.problem_for(m) is None  # the Secret-backed token is not used by this metric
    with_token = Metric.model_validate(
        {"name": "errors", "provider": {"judge": {**JUDGE, "baselineQuery": "x{t='{{args.token}}'}"}}}
    )
    assert "argument 'token'" in (resolved.problem_for(with_token) or "")
    with pytest.raises(ValueError, match=r"provider\.judge\.canaryQuery uses \{\{args\.canary-hash\}\}"):
        substitute_args(m, {"prometheus": "p", "tenant": "t"})
