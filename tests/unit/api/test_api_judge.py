"""provider.judge in the API: its defaults are the engine's, its bounds and refusals name the field,
and the CRD (schema bounds and CEL rules) refuses what the models refuse."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api import Metric, TemplateMetric, validation_errors
from rollouts.api import judge as api_judge
from rollouts.engine import judge_stats
from tests.unit.api.crd_check import crd_schemas, server_errors

JUDGE = {
    "canaryQuery": 'sum(rate(errors{hash="{{args.canary-hash}}"}[30s]))',
    "baselineQuery": 'sum(rate(errors{hash="{{args.stable-hash}}"}[30s]))',
    "direction": "HigherIsWorse",
}


def template(judge: dict[str, Any] | None = None, **metric: Any) -> dict[str, Any]:
    body = {"name": "errors", "provider": {"judge": {**JUDGE, **(judge or {})}}, **metric}
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "judge", "namespace": "shop"},
        "spec": {"args": [{"name": "canary-hash"}, {"name": "stable-hash"}], "metrics": [body]},
    }


def test_defaults_are_the_engines_and_give_enough_points_for_min_samples() -> None:
    spec = Metric.model_validate({"name": "m", "provider": {"judge": JUDGE}}).provider.judge
    assert spec is not None
    assert (spec.alpha, spec.min_samples, spec.min_effect) == (
        judge_stats.DEFAULT_ALPHA,
        judge_stats.DEFAULT_MIN_SAMPLES,
        judge_stats.DEFAULT_MIN_EFFECT,
    )
    # one aggregated series over the default window gives window/step + 1 points
    points = int(spec.window_span / spec.step_span) + 1
    assert points >= spec.min_samples
    assert set(api_judge.DIRECTIONS) == {d.value for d in judge_stats.Direction}


@pytest.mark.parametrize(
    ("judge", "metric", "message"),
    [
        ({"alpha": 0}, {}, "`spec.metrics[0].provider.judge.alpha` must be greater than 0.0"),
        ({"alpha": 0.51}, {}, "`spec.metrics[0].provider.judge.alpha` must be at most 0.5"),
        ({"minSamples": 0}, {}, "`spec.metrics[0].provider.judge.minSamples` must be at least 1"),
        ({"minEffect": -0.01}, {}, "`spec.metrics[0].provider.judge.minEffect` must be at least 0.0"),
        (
            {"minEffect": float("inf")},
            {},
            "`spec.metrics[0].provider.judge.minEffect` must be a finite number",
        ),
        ({"direction": "Up"}, {}, "`spec.metrics[0].provider.judge.direction` must be 'HigherIsWorse' or"),
        (
            {"window": "30s", "step": "30s"},
            {},
            "`spec.metrics[0].provider.judge.window`: window (30s) must be longer than step (30s)",
        ),
        (
            {"window": "24h", "step": "1s"},
            {},
            "`spec.metrics[0].provider.judge.step`: window 24h at step 1s asks for 86400 points per series, "
            "more than Prometheus answers (11000); lengthen the step",
        ),
        ({"window": "soon"}, {}, "`spec.metrics[0].provider.judge.window`: 'soon' is not a duration"),
        (
            {},
            {"successCondition": "result < 0.05"},
            "`spec.metrics[0].successCondition`: a metric with provider.judge is decided by the judge",
        ),
        (
            {},
            {"failureCondition": "result > 0.01"},
            "`spec.metrics[0].failureCondition`: a metric with provider.judge is decided by the judge",
        ),
    ],
    ids=[
        "alpha-0",
        "alpha-over-half",
        "min-samples-0",
        "negative-effect",
        "infinite-effect",
        "direction",
        "window-not-longer",
        "too-many-points",
        "bad-window",
        "success-condition",
        "failure-condition",
    ],
)
def test_each_bad_judge_is_refused_naming_its_field(
    judge: dict[str, Any], metric: dict[str, Any], message: str
) -> None:
    errors = validation_errors(template(judge, **metric))
    assert len(errors) == 1, errors
    assert errors[0].startswith("AnalysisTemplate shop/judge: " + message), errors[0]


def test_a_run_metric_refuses_conditions_with_the_judge_too() -> None:
    body = {"name": "m", "successCondition": "true", "provider": {"judge": JUDGE}}
    with pytest.raises(ValueError, match="decided by the judge"):
        Metric.model_validate(body)
    with pytest.raises(ValueError, match="decided by the judge"):
        TemplateMetric.model_validate(body)
    # ... while the conditions stay as they were for every other provider
    assert Metric.model_validate({**body, "provider": {"prometheus": {"query": "up"}}}).success_condition


def test_the_judge_and_another_provider_are_two_providers() -> None:
    doc = template()
    doc["spec"]["metrics"][0]["provider"]["prometheus"] = {"query": "up"}
    (error,) = validation_errors(doc)
    assert error.endswith("set exactly one provider: prometheus, web, job or judge")
    assert any("set exactly one provider" in line for line in server_errors(doc, crd_schemas()))


@pytest.mark.parametrize(
    ("judge", "metric", "expected"),
    [
        ({}, {}, None),
        ({"alpha": 0.5, "minEffect": 0, "window": "40s", "step": "2s"}, {}, None),
        ({"alpha": 0}, {}, "alpha: should be greater than 0.0"),
        ({"alpha": 0.75}, {}, "alpha: should be less than or equal to 0.5"),
        ({"minSamples": 0}, {}, "minSamples: should be greater than or equal to 1"),
        ({"window": "10s", "step": "20s"}, {}, "window must be longer than step"),
        ({}, {"successCondition": "true"}, "decided by the judge"),
        ({"direction": "Sideways"}, {}, "direction: not one of"),
    ],
    ids=[
        "defaults",
        "bounds-included",
        "alpha-0",
        "alpha-high",
        "samples",
        "window",
        "condition",
        "direction",
    ],
)
def test_the_crd_refuses_what_the_models_refuse(
    judge: dict[str, Any], metric: dict[str, Any], expected: str | None
) -> None:
    errors = server_errors(template(judge, **metric), crd_schemas())
    if expected is None:
        assert errors == []
        assert validation_errors(template(judge, **metric)) == []
    else:
        assert any(expected in line for line in errors), errors
        assert validation_errors(template(judge, **metric)), "the models accepted what the CRD refuses"
