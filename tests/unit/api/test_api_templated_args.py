"""``{{args.NAME}}`` in a template metric's count, limits and durations: what the models and the CRD
accept, what they reject and say, and that a run's metrics stay plain values."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api import (
    AnalysisRun,
    AnalysisTemplate,
    ArgTemplate,
    ClusterAnalysisTemplate,
    parse_object,
    validation_errors,
)
from rollouts.api.templated import TEMPLATED_FIELDS
from tests.unit.api.crd_check import crd_schemas, server_errors

Doc = dict[str, Any]


def template(kind: str = "AnalysisTemplate", **fields: Any) -> Doc:
    metric = {"name": "m", "successCondition": "result[0] > 0", "provider": {"prometheus": {"query": "up"}}}
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": "t"},
        "spec": {"args": [{"name": "n"}, {"name": "d"}], "metrics": [{**metric, **fields}]},
    }


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("count placeholder", {"count": "{{args.n}}", "interval": "1m"}),
    ("spaces inside the braces", {"count": "{{ args.n }}", "interval": "1m"}),
    ("count placeholder without interval", {"count": "{{args.n}}"}),
    (
        "every limit",
        {
            "failureLimit": "{{args.n}}",
            "inconclusiveLimit": "{{args.n}}",
            "consecutiveErrorLimit": "{{args.n}}",
        },
    ),
    ("interval placeholder", {"count": 3, "interval": "{{args.d}}"}),
    ("initialDelay placeholder", {"initialDelay": "{{args.d}}"}),
    ("number inside a duration", {"interval": "{{args.n}}m", "initialDelay": "1m{{args.n}}s"}),
    ("literals as before", {"count": 3, "interval": "30s", "failureLimit": 2}),
    ("names with dashes and dots", {"count": "{{args.sample-count}}", "interval": "{{args.window.size}}"}),
]

REJECTED: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, fields, models' message after the path, the CRD's complaint)
    (
        "a quoted number",
        {"count": "5"},
        "`spec.metrics[0].count`: '5' is a quoted number; write 5 without quotes",
        "should match",
    ),
    (
        "text around the placeholder",
        {"failureLimit": "{{args.n}}0"},
        "`spec.metrics[0].failureLimit`: '{{args.n}}0' holds a placeholder among other text",
        "should match",
    ),
    (
        "a word",
        {"inconclusiveLimit": "many"},
        "`spec.metrics[0].inconclusiveLimit`: 'many' is neither a whole number nor a placeholder",
        "should match",
    ),
    (
        "not an argument placeholder",
        {"count": "{{count}}"},
        "`spec.metrics[0].count`: '{{count}}' is neither",
        "should match",
    ),
    (
        "a negative literal",
        {"consecutiveErrorLimit": -1},
        "`spec.metrics[0].consecutiveErrorLimit` must be at least 0 (got -1)",
        "greater than or equal",
    ),
    (
        "a bad literal duration",
        {"interval": "often"},
        "`spec.metrics[0].interval`: 'often' is not a duration",
        "should match",
    ),
    (
        "placeholders that cannot make a duration",
        {"interval": "every {{args.d}}"},
        "`spec.metrics[0].interval`: 'every {{args.d}}' is not a duration even with a number in each "
        "placeholder",
        "should match",
    ),
    (
        "a literal count > 1 without interval",
        {"count": 3},
        "`spec.metrics[0].interval`: count is 3 but interval is not set",
        "",
    ),
]


@pytest.mark.parametrize("kind", ["AnalysisTemplate", "ClusterAnalysisTemplate"])
@pytest.mark.parametrize(("case", "fields"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_a_template_accepts(kind: str, case: str, fields: dict[str, Any]) -> None:
    doc = template(kind, **fields)
    assert validation_errors(doc) == []
    assert server_errors(doc, crd_schemas()) == []


@pytest.mark.parametrize(("case", "fields", "message", "server"), REJECTED, ids=[c[0] for c in REJECTED])
def test_a_template_rejects(case: str, fields: dict[str, Any], message: str, server: str) -> None:
    doc = template(**fields)
    errors = validation_errors(doc)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"AnalysisTemplate t: {message}"), errors[0]
    if server:  # the cross-field rule is the models' (and resolution's) alone
        assert any(server in line for line in server_errors(doc, crd_schemas())), server_errors(
            doc, crd_schemas()
        )


def test_the_message_says_which_fields_take_placeholders_inside_a_value() -> None:
    (error,) = validation_errors(template(count="x{{args.n}}"))
    assert 'exactly one placeholder such as "{{args.count}}"' in error
    assert "placeholders inside a value work in interval and initialDelay only" in error
    (error,) = validation_errors(template(interval="{{args.d}}{{args.n}}"))
    assert '"{{args.interval}}"' in error and '"{{args.minutes}}m"' in error


def test_a_placeholder_is_kept_as_written_and_round_trips() -> None:
    doc = template(count="{{ args.n }}", interval="{{args.n}}m", failureLimit="{{args.n}}")
    parsed = parse_object(doc)
    assert isinstance(parsed, AnalysisTemplate)
    (metric,) = parsed.spec.metrics
    assert metric.count == ArgTemplate("{{ args.n }}") and metric.count.names == ("n",)
    assert isinstance(metric.interval, ArgTemplate) and not metric.interval.whole
    assert metric.placeholders() == {
        "interval": ArgTemplate("{{args.n}}m"),
        "count": ArgTemplate("{{ args.n }}"),
        "failureLimit": ArgTemplate("{{args.n}}"),
    }
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert dumped["spec"]["metrics"][0]["count"] == "{{ args.n }}"
    assert dumped["spec"]["metrics"][0]["interval"] == "{{args.n}}m"
    assert AnalysisTemplate.model_validate(dumped) == parsed


def test_an_analysis_run_holds_resolved_values_only() -> None:
    doc = template(count="{{args.n}}", interval="1m")
    doc["kind"] = "AnalysisRun"
    errors = validation_errors(doc)
    assert errors == ["AnalysisRun t: `spec.metrics[0].count` must be a whole number (got '{{args.n}}')"]
    assert server_errors(doc, crd_schemas()) == [".spec.metrics[0].count: wrong type"]


@pytest.mark.parametrize("kind", ["AnalysisTemplate", "ClusterAnalysisTemplate"])
def test_the_crd_says_a_placeholder_is_allowed(kind: str) -> None:
    metric = crd_schemas()[kind]["properties"]["spec"]["properties"]["metrics"]["items"]["properties"]
    least = {"failureLimit": -1}  # -1: no limit
    for field in TEMPLATED_FIELDS.values():
        if field in ("interval", "initialDelay"):
            continue
        assert metric[field]["x-kubernetes-int-or-string"] is True
        assert metric[field]["minimum"] == least.get(field, 0) and "args" in metric[field]["pattern"]
        assert '"{{args.NAME}}"' in metric[field]["description"]
    for field in ("interval", "initialDelay"):
        assert metric[field]["type"] == "string"
        assert '"{{args.minutes}}m"' in metric[field]["description"]
    run = crd_schemas()["AnalysisRun"]["properties"]["spec"]["properties"]["metrics"]["items"]["properties"]
    assert run["count"]["type"] == "integer" and "{{" not in run["count"]["description"]


def test_the_two_template_kinds_share_the_metric_model() -> None:
    for model in (AnalysisTemplate, ClusterAnalysisTemplate):
        assert model.model_fields["spec"].annotation is AnalysisTemplate.model_fields["spec"].annotation
    assert AnalysisRun.model_fields["spec"].annotation is not AnalysisTemplate.model_fields["spec"].annotation
