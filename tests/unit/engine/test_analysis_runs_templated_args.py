"""``{{args.NAME}}`` in a template metric's count, limits and durations, filled in when the engine
builds the AnalysisRun: the values it gives, and every value it refuses with where and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api import AnalysisRun, AnalysisTemplate, ArgTemplate, Metric, TemplateMetric
from rollouts.api.rollout_analysis import RolloutAnalysis
from rollouts.engine.analysis_runs import (
    AnalysisRunError,
    ArgValue,
    MetricFieldError,
    build_analysis_run,
    fill_metric,
    resolve_metric,
)
from rollouts.engine.plan import CreateAnalysisRun
from rollouts.engine.snapshot import AnalysisRunKind
from tests.unit.engine.test_analysis_runs import rollout

PROVIDER = {"prometheus": {"address": "http://prom:9090", "query": 'up{service="{{args.service}}"}'}}


def build(
    fields: dict[str, Any], args: list[dict[str, Any]], given: list[dict[str, Any]] | None = None
) -> AnalysisRun:
    template = AnalysisTemplate.model_validate(
        {
            "metadata": {"name": "budget"},
            "spec": {
                "args": [{"name": "service", "value": "web"}, *args],
                "metrics": [
                    {"name": "errors", "successCondition": "result[0] < 1", "provider": PROVIDER, **fields}
                ],
            },
        }
    )
    analysis = RolloutAnalysis.model_validate(
        {"templates": [{"templateName": "budget"}], "args": given or []}
    )
    action = CreateAnalysisRun(
        name="web-run",
        kind=AnalysisRunKind.STEP,
        pod_template_hash="latest2",
        analysis=analysis,
        step_index=1,
    )
    return build_analysis_run(rollout=rollout(), action=action, templates=[template])


def plain(metric: Metric) -> tuple[object, ...]:
    return (
        metric.count,
        metric.interval,
        metric.initial_delay,
        metric.failure_limit,
        metric.inconclusive_limit,
        metric.consecutive_error_limit,
    )


RESOLVED: list[tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], tuple[object, ...]]] = [
    # (case, metric fields, template args, the Rollout's args, (count, interval, initialDelay, limits...))
    (
        "template defaults",
        {"count": "{{args.count}}", "interval": "{{args.interval}}"},
        [{"name": "count", "value": "3"}, {"name": "interval", "value": "30s"}],
        [],
        (3, "30s", None, 0, 0, 4),
    ),
    (
        "the Rollout's values win",
        {"count": "{{args.count}}", "interval": "{{args.interval}}"},
        [{"name": "count", "value": "3"}, {"name": "interval", "value": "30s"}],
        [{"name": "count", "value": "10"}, {"name": "interval", "value": "1m"}],
        (10, "1m", None, 0, 0, 4),
    ),
    (
        "numbers inside durations",
        {"interval": "{{args.minutes}}m", "initialDelay": "1m{{args.seconds}}s"},
        [{"name": "minutes"}, {"name": "seconds", "value": "30"}],
        [{"name": "minutes", "value": "2"}],
        (None, "2m", "1m30s", 0, 0, 4),
    ),
    (
        "every limit",
        {
            "failureLimit": "{{args.f}}",
            "inconclusiveLimit": "{{ args.i }}",
            "consecutiveErrorLimit": "{{args.e}}",
        },
        [{"name": "f", "value": "2"}, {"name": "i", "value": " 1 "}, {"name": "e", "value": "0"}],
        [],
        (None, None, None, 2, 1, 0),
    ),
    (
        "a Rollout field",
        {"count": "{{args.replicas}}", "interval": "1m"},
        [{"name": "replicas", "valueFrom": {"fieldRef": {"fieldPath": "spec.replicas"}}}],
        [],
        (4, "1m", None, 0, 0, 4),
    ),
    (
        "a Rollout field passed by the Rollout",
        {"count": "{{args.count}}", "interval": "1m"},
        [{"name": "count"}],
        [{"name": "count", "valueFrom": {"fieldRef": {"fieldPath": "spec.replicas"}}}],
        (4, "1m", None, 0, 0, 4),
    ),
    (
        "a count of 1 needs no interval",
        {"count": "{{args.count}}"},
        [{"name": "count", "value": "1"}],
        [],
        (1, None, None, 0, 0, 4),
    ),
    (
        "no failure limit",
        {"failureLimit": "{{args.f}}", "interval": "1m"},
        [{"name": "f", "value": "-1"}],
        [],
        (None, "1m", None, -1, 0, 4),
    ),
    (
        "literals are kept",
        {"count": 2, "interval": "10s", "failureLimit": 1},
        [],
        [],
        (2, "10s", None, 1, 0, 4),
    ),
]


@pytest.mark.parametrize(
    ("case", "fields", "args", "given", "expected"), RESOLVED, ids=[c[0] for c in RESOLVED]
)
def test_placeholders_are_filled_in(
    case: str,
    fields: dict[str, Any],
    args: list[dict[str, Any]],
    given: list[dict[str, Any]],
    expected: tuple[object, ...],
) -> None:
    run = build(fields, args, given)
    (metric,) = run.spec.metrics
    assert type(metric) is Metric
    assert plain(metric) == expected
    body = run.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert AnalysisRun.model_validate(body) == run  # the run's own model (and CRD) takes it back
    fields_written = {k: v for k, v in body["spec"]["metrics"][0].items() if k != "provider"}
    assert "{{" not in str(fields_written)
    assert body["spec"]["metrics"][0]["provider"] == PROVIDER  # queries are filled at measurement


WHERE = "Rollout 'web' spec.strategy.canary.steps[1].analysis: AnalysisTemplate 'budget' metric 'errors': "
FROM_ROLLOUT = "(set in the Rollout's spec.strategy.canary.steps[1].analysis.args[0])"

REFUSED: list[tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], str]] = [
    # (case, metric fields, template args, the Rollout's args, the whole message after WHERE)
    (
        "a count that is no number",
        {"count": "{{args.count}}", "interval": "1m"},
        [{"name": "count"}],
        [{"name": "count", "value": "five"}],
        f"count '{{{{args.count}}}}' gives 'five' {FROM_ROLLOUT}, which is not a whole number; make that "
        "value a whole number such as 5",
    ),
    (
        "a negative limit",
        {"inconclusiveLimit": "{{args.limit}}"},
        [{"name": "limit", "value": "-1"}],
        [],
        "inconclusiveLimit '{{args.limit}}' gives '-1' (set in AnalysisTemplate 'budget' spec.args[1]), "
        "which is negative; make that value 0 or more",
    ),
    (
        "a streak longer than count",
        {"count": 3, "interval": "1m", "consecutiveSuccessLimit": "{{args.streak}}"},
        [{"name": "streak", "value": "5"}],
        [],
        "consecutiveSuccessLimit is 5 but count is 3, so it could never be reached; lower "
        "consecutiveSuccessLimit or raise count",
    ),
    (
        "a failure limit below -1 (no limit)",
        {"failureLimit": "{{args.limit}}"},
        [{"name": "limit", "value": "-2"}],
        [],
        "failureLimit '{{args.limit}}' gives '-2' (set in AnalysisTemplate 'budget' spec.args[1]), which is "
        "too low; make that value -1 or more",
    ),
    (
        "a fraction",
        {"consecutiveErrorLimit": "{{args.limit}}"},
        [{"name": "limit"}],
        [{"name": "limit", "value": "2.5"}],
        f"consecutiveErrorLimit '{{{{args.limit}}}}' gives '2.5' {FROM_ROLLOUT}, which is not a whole "
        "number; make that value a whole number such as 5",
    ),
    (
        "a bad duration",
        {"interval": "{{args.interval}}"},
        [{"name": "interval"}],
        [{"name": "interval", "value": "often"}],
        f"interval '{{{{args.interval}}}}' gives 'often' {FROM_ROLLOUT}, which is not a duration; make the "
        "value of interval a duration such as 30s, 5m or 1h",
    ),
    (
        "a bare number as a whole duration",
        {"initialDelay": "{{args.delay}}"},
        [{"name": "delay", "value": "30"}],
        [],
        "initialDelay '{{args.delay}}' gives '30' (set in AnalysisTemplate 'budget' spec.args[1]), which is "
        "not a duration; make the value of delay a duration such as 30s, 5m or 1h",
    ),
    (
        "a duration where a number goes",
        {"interval": "{{args.minutes}}m"},
        [{"name": "minutes"}],
        [{"name": "minutes", "value": "5m"}],
        f"interval '{{{{args.minutes}}}}m' gives '5mm' {FROM_ROLLOUT}, which is not a duration; make the "
        "value of minutes a number, e.g. 5",
    ),
    (
        "a count > 1 without interval",
        {"count": "{{args.count}}"},
        [{"name": "count"}],
        [{"name": "count", "value": "3"}],
        f"count '{{{{args.count}}}}' gives '3' {FROM_ROLLOUT}, but interval is not set; set an interval such "
        "as 1m in the template's metric, or make that value 1",
    ),
    (
        "an argument read from a Secret",
        {"count": "{{args.token}}", "interval": "1m"},
        [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "n"}}}],
        [],
        "count '{{args.token}}' names argument 'token', which is read from a Secret (AnalysisTemplate "
        "'budget' spec.args[1].valueFrom.secretKeyRef); a Secret's value is never written into an "
        "AnalysisRun, so it cannot set count: give token a value (in the Rollout's analysis args or as the "
        "template's default), or write count in the template",
    ),
    (
        "an argument no template declares",
        {"count": "{{args.cnt}}", "interval": "1m"},
        [{"name": "count", "value": "3"}],
        [],
        "count '{{args.cnt}}' names argument 'cnt', which the run does not have (its arguments: count, "
        "service); declare cnt in the template's args, or fix the name",
    ),
]


@pytest.mark.parametrize(("case", "fields", "args", "given", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_value_a_field_cannot_take_is_an_error_naming_everything(
    case: str, fields: dict[str, Any], args: list[dict[str, Any]], given: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(AnalysisRunError) as caught:
        build(fields, args, given)
    assert str(caught.value) == WHERE + message


def test_the_error_says_which_field_and_whether_the_template_alone_is_the_cause() -> None:
    by_default = [{"name": "count", "value": "x"}]
    with pytest.raises(MetricFieldError) as own:
        build({"count": "{{args.count}}", "interval": "1m"}, by_default)
    assert (own.value.field, own.value.values, own.value.template_only) == ("count", ("x",), True)
    with pytest.raises(MetricFieldError) as passed:
        build(
            {"count": "{{args.count}}", "interval": "1m"},
            [{"name": "count"}],
            [{"name": "count", "value": "x"}],
        )
    assert (passed.value.field, passed.value.template_only) == ("count", False)
    with pytest.raises(MetricFieldError) as secret:
        build(
            {"count": "{{args.t}}"}, [{"name": "t", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
        )
    assert secret.value.values == ()  # a Secret's value is never read here, let alone shown


def metric(**fields: Any) -> TemplateMetric:
    return TemplateMetric.model_validate({"name": "m", "provider": PROVIDER, **fields})


def test_fill_metric_fills_what_it_has_values_for_and_keeps_the_rest() -> None:
    values = {"n": ArgValue(value="3", origin="spec.args[0]", declared_in="t")}
    filled = fill_metric(
        metric(count="{{args.n}}", interval="{{args.d}}"), values, template="t", where="metric 'm'"
    )
    assert filled.count == 3 and filled.interval == ArgTemplate("{{args.d}}")
    with pytest.raises(MetricFieldError) as caught:
        resolve_metric(metric(count="{{args.n}}", interval="{{args.d}}"), values, where="metric 'm'")
    assert str(caught.value).startswith("metric 'm': interval '{{args.d}}' names argument 'd', which the run")


def test_a_metric_without_placeholders_is_the_same_metric() -> None:
    written = metric(count=3, interval="1m", failureLimit=1)
    resolved = resolve_metric(written, {}, where="metric 'm'")
    assert resolved.model_dump() == written.model_dump()


def test_consecutive_success_limit_is_filled_in() -> None:
    run = build(
        {"interval": "1m", "failureLimit": -1, "consecutiveSuccessLimit": "{{args.streak}}"},
        [{"name": "streak", "value": "3"}],
    )
    (metric,) = run.spec.metrics
    assert (metric.failure_limit, metric.consecutive_success_limit) == (-1, 3)
