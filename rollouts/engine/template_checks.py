"""The checks of one AnalysisTemplate or ClusterAnalysisTemplate on its own (``lint`` and admission).

A template is often kept in a file without the Rollouts that use it (a ClusterAnalysisTemplate
always is). What can be told from the template alone is checked here, on the template's document:

* a metric's ``count``, limits, ``interval`` or ``initialDelay`` written with ``{{args.NAME}}``
  must name an argument the template declares (in ``spec.args``): otherwise every run of it
  fails, whatever the Rollout passes;
* where such an argument has a default in the template (``value``), the metric is filled with it
  by the engine's own :func:`~rollouts.engine.analysis_runs.fill_metric`, so a default that is no
  number, no duration, negative, or a count > 1 without interval is found as the controller
  would find it. An argument read from a Secret cannot fill such a field at all.

A value a Rollout passes is checked where the Rollout is (``lint``'s
:mod:`rollouts.cli.lint_references` builds the run, the controller builds it when the step
starts), and a problem found here is not reported there again.
"""

from __future__ import annotations

from dataclasses import dataclass

from rollouts.engine.analysis_runs import ArgValue, MetricFieldError, Template, fill_metric

__all__ = ["TemplateProblem", "check_template"]

_SELF = "this template"


@dataclass(frozen=True, kw_only=True)
class TemplateProblem:
    """One problem of a template: the field path in it and what to do."""

    path: str
    message: str


def _own_values(template: Template) -> dict[str, ArgValue]:
    """The template's args that have a value of its own (a default, or a Secret), by name."""
    values: dict[str, ArgValue] = {}
    for index, arg in enumerate(template.spec.args or []):
        if arg.value is not None:
            values[arg.name] = ArgValue(value=arg.value, origin=f"spec.args[{index}]", declared_in=_SELF)
        elif arg.value_from is not None and arg.value_from.secret_key_ref is not None:
            origin = f"spec.args[{index}].valueFrom.secretKeyRef"
            values[arg.name] = ArgValue(value=None, origin=origin, declared_in=_SELF)
    return values


def check_template(template: Template) -> list[TemplateProblem]:
    """Every problem of the placeholders in ``template``'s metric fields that the template alone shows."""
    declared = [arg.name for arg in template.spec.args or []]
    values = _own_values(template)
    problems: list[TemplateProblem] = []
    for index, metric in enumerate(template.spec.metrics):
        at = f"spec.metrics[{index}]"
        undeclared = False
        for field, text in metric.placeholders().items():
            for name in text.names:
                if name not in declared:
                    undeclared = True
                    problems.append(
                        TemplateProblem(
                            path=f"{at}.{field}",
                            message=f"{text.text!r} names argument {name!r}, which this template does not "
                            f"declare (its args: {', '.join(declared) or 'none'}); add {{name: {name}}} "
                            "to spec.args, or fix the name",
                        )
                    )
        if undeclared:
            continue
        try:
            fill_metric(metric, values, template=_SELF, where=f"metric {metric.name!r}")
        except MetricFieldError as exc:
            problems.append(TemplateProblem(path=f"{at}.{exc.field}", message=exc.detail))
    return problems
