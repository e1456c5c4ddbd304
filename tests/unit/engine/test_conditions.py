"""Conditions are compiled where they are written: a broken one is refused before any run starts."""

from __future__ import annotations

import pytest

from rollouts.api import AnalysisTemplate
from rollouts.engine.analysis_runs import AnalysisRunError, build_analysis_run
from rollouts.engine.conditions import condition_problems
from tests.unit.engine.test_analysis_runs import action, metric, rollout


def _metric(name: str, **conditions: str) -> dict[str, object]:
    return {**metric(name), **conditions}


def _template(*metrics: dict[str, object]) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate({"metadata": {"name": "rate"}, "spec": {"metrics": list(metrics)}})


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("successCondition", "result[0] >=", "ends too early at column 13"),
        ("failureCondition", "results[0] < 1", "unknown name 'results' at column 1"),
        ("successCondition", "result[0] >= {{args.t}}", "{{args.NAME}} is not filled into conditions"),
        ("failureCondition", "lenn(result) == 0", "lenn"),
    ],
)
def test_a_condition_that_does_not_compile_is_named_with_its_position(
    field: str, text: str, expected: str
) -> None:
    problems = condition_problems(_template(_metric("ok"), _metric("bad", **{field: text})).spec.metrics)
    assert [(p.path, p.metric) for p in problems] == [(f"spec.metrics[1].{field}", "bad")]
    assert expected in problems[0].message and text in problems[0].message
    assert "\n" not in problems[0].message, "one line per problem"


def test_conditions_that_compile_give_no_problem() -> None:
    good = _metric(
        "m", successCondition="len(result) > 0 && result[0] >= 0.95", failureCondition="isNaN(result)"
    )
    assert condition_problems(_template(good).spec.metrics) == []


def test_the_engine_refuses_to_start_a_run_with_a_broken_condition() -> None:
    with pytest.raises(AnalysisRunError) as err:
        build_analysis_run(
            rollout=rollout(),
            action=action("rate"),
            templates=[_template(_metric("m", successCondition="result[0] >="))],
        )
    text = str(err.value)
    assert "spec.strategy.canary.steps[2].analysis" in text and "AnalysisTemplate 'rate'" in text
    assert "spec.metrics[0].successCondition" in text and "column 13" in text
