"""The AnalysisRun a Rollout starts: built from its templates, args resolved, labelled for the engine.

When the engine plans a :class:`~rollouts.engine.plan.CreateAnalysisRun`, it calls
:func:`build_analysis_run` with the templates of the snapshot. The result is the whole object the
act step creates, so everything that decides what the run measures is fixed here, at decision:

* **metrics** are the templates' metrics in reference order. Two templates defining a metric of
  the same name is an error naming both: Argo silently keeps one, so a run could measure
  something other than what either template says;
* **args** are the templates' args, merged (one name declared twice must agree), then set from
  the Rollout's analysis ``args``. ``value``, ``valueFrom.podTemplateHashValue`` and
  ``valueFrom.fieldRef`` are resolved now, against the Rollout as it is, so the run keeps
  measuring the revision it was made for. ``valueFrom.secretKeyRef`` stays a reference: the
  AnalysisRun controller reads the Secret at each measurement and never stores its value;
* each metric's ``{{args.NAME}}`` in ``count``, the limits, ``interval`` and ``initialDelay``
  is filled in from those args (:func:`resolve_metric`: a template's ``TemplateMetric`` becomes
  the run's plain ``Metric``) and checked as a literal is: a whole number of 0 or more, a
  duration, an interval when count > 1. An argument read from a Secret cannot fill them (its
  value would be written into the run's spec). :func:`fill_metric` does the same for the
  arguments it is given only, for ``lint`` to check a template's own defaults;
* **labels** let the Rollout controller read the run back into an
  :class:`~rollouts.engine.snapshot.ObservedAnalysisRun` (:func:`observe_analysis_run`):
  ``rollouts-pod-template-hash``, ``rollouts.dev/analysis-kind``, ``rollouts.dev/step-index``
  (step runs only) and ``rollouts.dev/rollout``;
* an **ownerReference** to the Rollout, so deleting the Rollout deletes its runs.

Every error is an :class:`AnalysisRunError` whose message names the Rollout, the field and the
fix. It leaves :func:`rollouts.engine.decide` before any action is carried out; the controller
turns it into an Event and an InvalidSpec condition (rather than a crash loop), and ``plan`` and
``lint`` report it offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from rollouts.api.analysis import (
    AnalysisRun,
    AnalysisRunSpec,
    AnalysisTemplate,
    Argument,
    ClusterAnalysisTemplate,
    DryRun,
    MeasurementRetention,
    TemplateMetric,
    TtlStrategy,
    ValueFrom,
)
from rollouts.api.common import ObjectMeta
from rollouts.api.enums import AnalysisPhase, PodTemplateHashValue
from rollouts.api.experiment import Experiment, ExperimentAnalysis
from rollouts.api.ownership import owner_reference, rollout_owner_reference
from rollouts.api.rollout import Rollout
from rollouts.api.rollout_analysis import AnalysisRunArgument, AnalysisRunMetadata, AnalysisTemplateRef
from rollouts.engine.analysis_args import ArgumentError, read_field
from rollouts.engine.analysis_errors import AnalysisRunError
from rollouts.engine.analysis_ttl import expires_at
from rollouts.engine.conditions import condition_problems
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.metric_fields import ArgValue, MetricFieldError, fill_metric, resolve_metric
from rollouts.engine.plan import CreateAnalysisRun
from rollouts.engine.references import analysis_field
from rollouts.engine.shards import instance_labels
from rollouts.engine.snapshot import AnalysisRunKind, ObservedAnalysisRun, Template

__all__ = [
    "ANALYSIS_KIND_LABEL",
    "EXPERIMENT_ANALYSIS_LABEL",
    "ROLLOUT_LABEL",
    "STEP_INDEX_LABEL",
    "AnalysisRunError",
    "ArgValue",
    "MetricFieldError",
    "Template",
    "analysis_field",
    "build_analysis_run",
    "build_experiment_analysis_run",
    "fill_metric",
    "observe_analysis_run",
    "resolve_metric",
]

ANALYSIS_KIND_LABEL: Final = "rollouts.dev/analysis-kind"
"""Why the run exists: ``step``, ``background``, ``pre`` or ``post`` (:class:`AnalysisRunKind`)."""

STEP_INDEX_LABEL: Final = "rollouts.dev/step-index"
"""Index of the canary step that started the run (step runs only)."""

EXPERIMENT_ANALYSIS_LABEL: Final = "rollouts.dev/experiment-analysis"
"""Name of the entry of an Experiment's ``spec.analyses`` that the run is for."""

ROLLOUT_LABEL: Final = "rollouts.dev/rollout"
"""Name of the Rollout that started the run, for label-selected watches and ``kubectl get ar -l``."""

_Rule = TypeVar("_Rule", DryRun, MeasurementRetention)


# --- templates --------------------------------------------------------------------------------------


def _describe(ref: AnalysisTemplateRef) -> str:
    kind = "ClusterAnalysisTemplate" if ref.cluster_scope else "AnalysisTemplate"
    return f"{kind} {ref.template_name!r}"


def _find_templates(
    refs: Sequence[AnalysisTemplateRef], templates: Sequence[Template], *, where: str
) -> list[tuple[str, Template]]:
    found: list[tuple[str, Template]] = []
    for index, ref in enumerate(refs):
        wanted = ClusterAnalysisTemplate if ref.cluster_scope else AnalysisTemplate
        match = next(
            (t for t in templates if isinstance(t, wanted) and t.metadata.name == ref.template_name), None
        )
        if match is None:
            scope = "cluster" if ref.cluster_scope else "the Rollout's namespace"
            raise AnalysisRunError(
                f"{where}.templates[{index}]: {_describe(ref)} does not exist in {scope}; create it, "
                "or fix templateName" + ("" if ref.cluster_scope else " (or set clusterScope: true)")
            )
        found.append((_describe(ref), match))
    return found


def _merge_metrics(found: Sequence[tuple[str, Template]], *, where: str) -> list[tuple[str, TemplateMetric]]:
    """Every template's metrics in reference order, each with the label of its template."""
    owner: dict[str, str] = {}
    metrics: list[tuple[str, TemplateMetric]] = []
    for label, template in found:
        for metric in template.spec.metrics:
            if metric.name in owner:
                raise AnalysisRunError(
                    f"{where}: metric {metric.name!r} is defined by both {owner[metric.name]} and {label}; "
                    "rename it in one of them (a run measures each metric name once)"
                )
            owner[metric.name] = label
            metrics.append((label, metric))
    return metrics


def _check_conditions(found: Sequence[tuple[str, Template]], *, where: str) -> None:
    """A condition that does not compile stops the run before it starts, naming template and field."""
    for label, template in found:
        problems = condition_problems(template.spec.metrics)
        if problems:
            first = problems[0]
            raise AnalysisRunError(
                f"{where}: {label} {first.path} (metric {first.metric!r}): {first.message}; "
                "fix the expression in the template"
            )


@dataclass(frozen=True, kw_only=True)
class _Declared:
    """A template argument, the template declaring it and where (``AnalysisTemplate 'x' spec.args[0]``)."""

    arg: Argument
    template: str
    at: str


def _merge_template_args(found: Sequence[tuple[str, Template]], *, where: str) -> dict[str, _Declared]:
    """Template args by name; one name declared by several templates must not conflict."""
    merged: dict[str, _Declared] = {}
    for label, template in found:
        for index, arg in enumerate(template.spec.args or []):
            previous = merged.get(arg.name)
            if previous is None or (previous.arg.value is None and previous.arg.value_from is None):
                merged[arg.name] = _Declared(arg=arg, template=label, at=f"{label} spec.args[{index}]")
            elif (arg.value is not None or arg.value_from is not None) and arg != previous.arg:
                raise AnalysisRunError(
                    f"{where}: argument {arg.name!r} has a different default in {previous.template} "
                    f"and {label}; make them agree, or pass the value from the Rollout's args"
                )
    return merged


def _one_ttl_strategy(found: Sequence[tuple[str, Template]], *, where: str) -> TtlStrategy | None:
    """The templates' ``ttlStrategy``: one run has one, so templates that set different ones are
    refused rather than one silently winning."""
    set_by = {label: t.spec.ttl_strategy for label, t in found if t.spec.ttl_strategy is not None}
    distinct = {ttl.model_dump_json() for ttl in set_by.values()}
    if len(distinct) > 1:
        raise AnalysisRunError(
            f"{where}: {' and '.join(set_by)} set different ttlStrategy values, and a run has one; "
            "make them equal or set it in one template only"
        )
    return next(iter(set_by.values()), None)


def _merge_rules(lists: Sequence[Sequence[_Rule] | None]) -> list[_Rule] | None:
    """Dry-run and retention rules of the Rollout's analysis block, then of each template, each
    once (the first retention rule matching a metric applies)."""
    merged: list[_Rule] = []
    for rules in lists:
        for rule in rules or []:
            if rule not in merged:
                merged.append(rule)
    return merged or None


# --- args -------------------------------------------------------------------------------------------


def _hash_value(which: PodTemplateHashValue, rollout: Rollout, action: CreateAnalysisRun, *, at: str) -> str:
    if which is PodTemplateHashValue.LATEST:
        return action.pod_template_hash
    stable = rollout.status.stable_rs if rollout.status is not None else None
    if not stable:
        raise AnalysisRunError(
            f"{at}.valueFrom.podTemplateHashValue is Stable but the Rollout has no stable revision yet "
            "(status.stableRS is empty); use Latest, or run this analysis only after a first deploy"
        )
    return stable


def _rollout_value(arg: AnalysisRunArgument, rollout: Rollout, action: CreateAnalysisRun, *, at: str) -> str:
    if arg.value is not None:
        return arg.value
    source = arg.value_from
    assert source is not None  # the API model requires value or valueFrom
    if source.pod_template_hash_value is not None:
        return _hash_value(source.pod_template_hash_value, rollout, action, at=at)
    assert source.field_ref is not None
    return _field_value(rollout, source.field_ref.field_path, at=f"{at}.valueFrom.fieldRef.fieldPath")


def _field_value(rollout: Rollout, path: str, *, at: str) -> str:
    try:
        return read_field(rollout.model_dump(by_alias=True, exclude_none=True, mode="json"), path)
    except ArgumentError as exc:
        raise AnalysisRunError(f"{at}: {exc} of Rollout {rollout.metadata.name!r}; fix the path") from None


def _rollout_args(
    template_args: Mapping[str, _Declared], rollout: Rollout, action: CreateAnalysisRun, *, where: str
) -> dict[str, tuple[Argument, ArgValue]]:
    """The Rollout's analysis ``args``, resolved against the Rollout now."""
    given = action.analysis.args or []
    _check_given(template_args, [a.name for a in given], where=where)
    block = analysis_field(action.kind, action.step_index)
    out: dict[str, tuple[Argument, ArgValue]] = {}
    for index, item in enumerate(given):
        value = _rollout_value(item, rollout, action, at=f"{where}.args[{index}]")
        origin = f"the Rollout's {block}.args[{index}]"
        out[item.name] = (Argument(name=item.name, value=value), ArgValue(value=value, origin=origin))
    return out


def _check_given(template_args: Mapping[str, _Declared], names: Sequence[str], *, where: str) -> None:
    for index, name in enumerate(names):
        if name not in template_args:
            known = ", ".join(sorted(template_args)) or "none"
            raise AnalysisRunError(
                f"{where}.args[{index}]: {name!r} is not an argument of the referenced templates "
                f"(they declare: {known}); fix the name or declare it in a template's args"
            )


def _resolve_args(
    template_args: Mapping[str, _Declared],
    given: Mapping[str, tuple[Argument, ArgValue]],
    *,
    rollout: Rollout | None,
    where: str,
) -> tuple[list[Argument], dict[str, ArgValue]]:
    """The run's args (``given`` by the caller first, then the templates' defaults), and each
    one's value and origin for the metric fields that use it. A template default read with
    ``fieldRef`` needs the ``rollout`` to read it from."""
    resolved: list[Argument] = []
    values: dict[str, ArgValue] = {}
    for name, declaration in template_args.items():
        declared, declared_at, label = declaration.arg, declaration.at, declaration.template
        source = declared.value_from
        if name in given:
            arg, value_of = given[name]
            resolved.append(arg)
            values[name] = value_of
        elif declared.value is not None:
            resolved.append(Argument(name=name, value=declared.value))
            values[name] = ArgValue(value=declared.value, origin=declared_at, declared_in=label)
        elif source is not None and source.secret_key_ref is not None:
            resolved.append(Argument(name=name, value_from=ValueFrom(secret_key_ref=source.secret_key_ref)))
            origin = f"{declared_at}.valueFrom.secretKeyRef"
            values[name] = ArgValue(value=None, origin=origin, declared_in=label)
        elif source is not None and source.field_ref is not None and rollout is not None:
            value = _field_value(rollout, source.field_ref.field_path, at=f"argument {name!r}")
            resolved.append(Argument(name=name, value=value))
            origin = f"{declared_at}.valueFrom.fieldRef"
            values[name] = ArgValue(value=value, origin=origin)
        elif source is not None and source.field_ref is not None:
            raise AnalysisRunError(
                f"{where}: argument {name!r} reads a Rollout field ({declared_at}.valueFrom.fieldRef), "
                "and this run belongs to no Rollout; pass the value in args"
            )
        else:
            raise AnalysisRunError(
                f"{where}: argument {name!r} has no value; add {{name: {name}, value: ...}} to {where}.args "
                "or give it a default in the template"
            )
    return resolved, values


# --- the run ----------------------------------------------------------------------------------------


def _labels(rollout_name: str, action: CreateAnalysisRun) -> dict[str, str]:
    labels = {
        POD_TEMPLATE_HASH_LABEL: action.pod_template_hash,
        ANALYSIS_KIND_LABEL: action.kind.value,
        ROLLOUT_LABEL: rollout_name,
    }
    if action.step_index is not None:
        labels[STEP_INDEX_LABEL] = str(action.step_index)
    return labels


def _owner_reference(rollout: Rollout) -> dict[str, Any]:
    try:
        return rollout_owner_reference(rollout)
    except ValueError as exc:
        raise AnalysisRunError(str(exc)) from None


def _run_spec(
    found: Sequence[tuple[str, Template]],
    args: tuple[list[Argument], dict[str, ArgValue]],
    *,
    dry_run: Sequence[DryRun] | None,
    retention: Sequence[MeasurementRetention] | None,
    where: str,
) -> AnalysisRunSpec:
    """The spec of a run of the ``found`` templates with these resolved ``args``."""
    metrics = _merge_metrics(found, where=where)
    _check_conditions(found, where=where)
    resolved, values = args
    return AnalysisRunSpec(
        metrics=[
            resolve_metric(metric, values, template=label, where=f"{where}: {label} metric {metric.name!r}")
            for label, metric in metrics
        ],
        args=resolved or None,
        dry_run=_merge_rules([dry_run, *(t.spec.dry_run for _, t in found)]),
        measurement_retention=_merge_rules([retention, *(t.spec.measurement_retention for _, t in found)]),
        ttl_strategy=_one_ttl_strategy(found, where=where),
    )


def build_analysis_run(
    *, rollout: Rollout, action: CreateAnalysisRun, templates: Sequence[Template]
) -> AnalysisRun:
    """The AnalysisRun ``action`` asks for, from ``templates`` (those the Rollout's namespace and
    the cluster hold; extra ones are ignored). Raises :class:`AnalysisRunError`.

    Dump it for the API server with ``model_dump(by_alias=True, exclude_none=True, mode="json")``.
    """
    name = rollout.metadata.name or ""
    where = f"Rollout {name!r} {analysis_field(action.kind, action.step_index)}"
    found = _find_templates(action.analysis.templates, templates, where=where)
    template_args = _merge_template_args(found, where=where)
    given = _rollout_args(template_args, rollout, action, where=where)
    spec = _run_spec(
        found,
        _resolve_args(template_args, given, rollout=rollout, where=where),
        dry_run=action.analysis.dry_run,
        retention=action.analysis.measurement_retention,
        where=where,
    )
    extra = action.analysis.analysis_run_metadata or AnalysisRunMetadata()
    metadata = ObjectMeta.model_validate(
        {
            "name": action.name,
            "namespace": rollout.metadata.namespace,
            "labels": {
                **(extra.labels or {}),
                **instance_labels(rollout.metadata.labels),
                **_labels(name, action),
            },
            "annotations": extra.annotations,
            "ownerReferences": [_owner_reference(rollout)],
        }
    )
    return AnalysisRun(metadata=metadata, spec=spec)


def observe_analysis_run(run: AnalysisRun) -> ObservedAnalysisRun | None:
    """What the Rollout controller reads of a run, from its labels and status; ``None`` for a run
    without the labels :func:`build_analysis_run` writes (one a user made by hand)."""
    labels: Mapping[str, str] = run.metadata.labels or {}
    kind_text = labels.get(ANALYSIS_KIND_LABEL)
    pod_hash = labels.get(POD_TEMPLATE_HASH_LABEL)
    if not kind_text or not pod_hash or kind_text not in {k.value for k in AnalysisRunKind}:
        return None
    step_text = labels.get(STEP_INDEX_LABEL)
    status = run.status
    return ObservedAnalysisRun(
        name=run.metadata.name or "",
        kind=AnalysisRunKind(kind_text),
        phase=status.phase if status is not None else AnalysisPhase.PENDING,
        pod_template_hash=pod_hash,
        step_index=int(step_text) if step_text and step_text.isdigit() else None,
        message=(status.message or "") if status is not None else "",
        terminating=run.spec.terminate,
        created=run.metadata.creation_timestamp,
        expires=expires_at(run.spec, status),
    )


def build_experiment_analysis_run(
    *, experiment: Experiment, analysis: ExperimentAnalysis, name: str, templates: Sequence[Template]
) -> AnalysisRun:
    """The AnalysisRun of one of ``experiment``'s ``analyses``, named ``name``, owned by the
    experiment and labelled with the analysis's name (``EXPERIMENT_ANALYSIS_LABEL``) so the
    experiment reads it back. Its args are the analysis's (a value, or a Secret read at each
    measurement), then the templates' defaults. Raises :class:`AnalysisRunError`."""
    where = f"Experiment {experiment.metadata.name!r} analysis {analysis.name!r}"
    ref = AnalysisTemplateRef(template_name=analysis.template_name, cluster_scope=analysis.cluster_scope)
    found = _find_templates([ref], templates, where=where)
    template_args = _merge_template_args(found, where=where)
    given_args = analysis.args or []
    _check_given(template_args, [a.name for a in given_args], where=where)
    given = {
        arg.name: (arg, ArgValue(value=arg.value, origin=f"the Experiment's analysis {analysis.name!r} args"))
        for arg in given_args
    }
    spec = _run_spec(
        found,
        _resolve_args(template_args, given, rollout=None, where=where),
        dry_run=experiment.spec.dry_run,
        retention=experiment.spec.measurement_retention,
        where=where,
    )
    uid, owner = experiment.metadata.uid, experiment.metadata.name
    if not uid or not owner:
        raise AnalysisRunError(f"{where}: the Experiment has no metadata.uid; read it from the API server")
    metadata = ObjectMeta.model_validate(
        {
            "name": name,
            "namespace": experiment.metadata.namespace,
            "labels": {
                **instance_labels(experiment.metadata.labels),
                EXPERIMENT_ANALYSIS_LABEL: analysis.name,
            },
            "ownerReferences": [owner_reference("Experiment", name=owner, uid=uid)],
        }
    )
    return AnalysisRun(metadata=metadata, spec=spec)
