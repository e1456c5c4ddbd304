"""Conditions are checked where they are written, not minutes later at the first measurement.

A ``successCondition`` or ``failureCondition`` that does not parse (``result[0] >=``) or names
something that does not exist (``results[0]``) would otherwise only show up as an Error
measurement once a run is measured, mid-delivery. :func:`condition_problems` compiles every
condition of a list of metrics with the same compiler the measurements use, so ``lint``, the
engine (before it starts a run) and admission can refuse it with the expression and the
parser's position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rollouts.api.analysis import Metric, TemplateMetric
from rollouts.engine.expressions import ConditionError, compile_condition

__all__ = ["ConditionProblem", "condition_problems"]

_PLACEHOLDER_HINT = (
    "; {{args.NAME}} is not filled into conditions: compare with a literal, or move the threshold "
    "into the query"
)


@dataclass(frozen=True, kw_only=True)
class ConditionProblem:
    """One condition that cannot be judged: where it is (``spec.metrics[0].successCondition``) and why."""

    path: str
    metric: str
    message: str


def condition_problems(
    metrics: Sequence[Metric | TemplateMetric], *, prefix: str = "spec.metrics"
) -> list[ConditionProblem]:
    """Every success/failure condition of ``metrics`` that does not compile, in order."""
    problems: list[ConditionProblem] = []
    for index, metric in enumerate(metrics):
        for field, text in (
            ("successCondition", metric.success_condition),
            ("failureCondition", metric.failure_condition),
        ):
            if not text:
                continue
            try:
                compile_condition(text)
            except ConditionError as exc:
                # the first line names the column; the caret drawing below it is for terminals
                message = str(exc).splitlines()[0] + (_PLACEHOLDER_HINT if "{{" in text else "")
                problems.append(
                    ConditionProblem(path=f"{prefix}[{index}].{field}", metric=metric.name, message=message)
                )
    return problems
