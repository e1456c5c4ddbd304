"""The Experiment a canary's experiment step starts, built whole from the Rollout. Pure.

Everything that decides what the experiment runs is fixed here, at creation: each template's pods
are the stable or canary pod template (``specRef``) without the Rollout's hash label, plus the
step's ``metadata``, selected by the step's ``selector`` or the Rollout's; the analyses' arguments
are resolved against the Rollout as it is (``podTemplateHashValue``, ``fieldRef``) and against the
experiment's own template hashes (``{{templates.<name>.podTemplateHash}}``), so the experiment
keeps measuring what it was made for. It is owned by the Rollout (deleted with it) and labelled
with the revision and the step index, which is how the Rollout reads it back
(:func:`observe_experiment`). Its progress deadline is the Rollout's.

Every error is an :class:`AnalysisRunError` naming the Rollout, the step and the fix.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from rollouts.api.analysis import Argument
from rollouts.api.common import ObjectMeta
from rollouts.api.enums import AnalysisPhase, PodTemplateHashValue
from rollouts.api.experiment import (
    Experiment,
    ExperimentAnalysis,
    ExperimentSpec,
    ExperimentTemplate,
    ExperimentTrafficService,
)
from rollouts.api.experiment_step import TEMPLATE_HASH_PLACEHOLDER, RolloutExperimentStep
from rollouts.api.ownership import rollout_owner_reference
from rollouts.api.rollout import Rollout
from rollouts.api.rollout_analysis import AnalysisRunArgument
from rollouts.engine.analysis_args import ArgumentError, read_field
from rollouts.engine.analysis_errors import AnalysisRunError
from rollouts.engine.analysis_runs import ROLLOUT_LABEL, STEP_INDEX_LABEL
from rollouts.engine.experiment import template_hash
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.shards import instance_labels
from rollouts.engine.snapshot import ObservedExperiment

__all__ = ["build_experiment", "observe_experiment", "traffic_service_name"]

_SERVICE_NAME_MAX = 63


def _pods(
    source: Mapping[str, Any], extra_labels: Mapping[str, str], extra_annotations: Mapping[str, str]
) -> dict[str, Any]:
    pods = copy.deepcopy(dict(source))
    meta = pods.setdefault("metadata", {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != POD_TEMPLATE_HASH_LABEL}
    meta["labels"] = {**labels, **extra_labels}
    if extra_annotations:
        meta["annotations"] = {**(meta.get("annotations") or {}), **extra_annotations}
    return pods


def _arg_value(
    arg: AnalysisRunArgument,
    rollout: Rollout,
    *,
    hashes: Mapping[str, str],
    stable: str,
    latest: str,
    at: str,
) -> str:
    if arg.value is not None:
        return TEMPLATE_HASH_PLACEHOLDER.sub(lambda m: hashes[m.group(1)], arg.value)
    source = arg.value_from
    assert source is not None  # the model requires value or valueFrom
    if source.pod_template_hash_value is not None:
        return stable if source.pod_template_hash_value is PodTemplateHashValue.STABLE else latest
    assert source.field_ref is not None
    try:
        return read_field(
            rollout.model_dump(by_alias=True, exclude_none=True, mode="json"), source.field_ref.field_path
        )
    except ArgumentError as exc:
        raise AnalysisRunError(f"{at}.valueFrom.fieldRef: {exc} of the Rollout; fix the path") from None


def build_experiment(
    *,
    rollout: Rollout,
    name: str,
    step_index: int,
    stable_template: Mapping[str, Any] | None,
    pod_template_hash: str,
    stable_hash: str,
    traffic_ports: Sequence[Mapping[str, Any]] = (),
) -> Experiment:
    """The Experiment of the experiment step at ``step_index``, for the canary revision
    ``pod_template_hash``. ``stable_template`` is the stable revision's pod template (from its
    ReplicaSet), needed by ``specRef: stable``; ``traffic_ports`` are the canary Service's ports,
    which the traffic Service of weighted templates copies (the canary Ingress's backend port
    must mean the same on it). Raises :class:`AnalysisRunError`."""
    canary = rollout.spec.strategy.canary
    steps = (canary.steps or []) if canary is not None else []
    step = steps[step_index].experiment if step_index < len(steps) else None
    where = f"Rollout {rollout.metadata.name!r} spec.strategy.canary.steps[{step_index}].experiment"
    if step is None:
        raise AnalysisRunError(f"{where}: the step is not an experiment step")
    templates = [
        _template(rollout, step, i, stable_template, where=where) for i in range(len(step.templates))
    ]
    traffic = None
    if step.weighted():
        if not traffic_ports:
            raise AnalysisRunError(
                f"{where}: weighted templates need the canary Service's ports for their traffic "
                "Service, and it has none; add spec.ports to the canary Service"
            )
        traffic = ExperimentTrafficService(
            name=traffic_service_name(name),
            templates=[t.name for t in step.weighted()],
            ports=[dict(port) for port in traffic_ports],
        )
    selects = set(traffic.templates) if traffic is not None else set()
    hashes = {
        t.name: template_hash(name, t, traffic=traffic.name if traffic and t.name in selects else None)
        for t in templates
    }
    analyses = [
        ExperimentAnalysis(
            name=a.name,
            template_name=a.template_name,
            cluster_scope=a.cluster_scope,
            required_for_completion=a.required_for_completion,
            args=[
                Argument(
                    name=arg.name,
                    value=_arg_value(
                        arg, rollout, hashes=hashes, stable=stable_hash, latest=pod_template_hash,
                        at=f"{where}.analyses[{i}].args[{j}]",
                    ),
                )
                for j, arg in enumerate(a.args or [])
            ]
            or None,
        )
        for i, a in enumerate(step.analyses or [])
    ]  # fmt: skip
    metadata = ObjectMeta.model_validate(
        {
            "name": name,
            "namespace": rollout.metadata.namespace,
            "labels": {
                **instance_labels(rollout.metadata.labels),
                POD_TEMPLATE_HASH_LABEL: pod_template_hash,
                STEP_INDEX_LABEL: str(step_index),
                ROLLOUT_LABEL: rollout.metadata.name or "",
            },
            "ownerReferences": [_owner(rollout)],
        }
    )
    spec = ExperimentSpec(
        templates=templates,
        duration=step.duration,
        analyses=analyses or None,
        progress_deadline_seconds=rollout.spec.progress_deadline_seconds,
        traffic_service=traffic,
    )
    return Experiment(metadata=metadata, spec=spec)


def traffic_service_name(experiment: str) -> str:
    """The traffic Service of an experiment: its name, cut to a Service name's 63 characters with
    a hash of the whole name when it is longer."""
    if len(experiment) <= _SERVICE_NAME_MAX:
        return experiment
    digest = hashlib.blake2b(experiment.encode(), digest_size=4).hexdigest()
    return f"{experiment[: _SERVICE_NAME_MAX - len(digest) - 1].rstrip('-')}-{digest}"


def _template(
    rollout: Rollout, step: RolloutExperimentStep, index: int, stable: Mapping[str, Any] | None, *, where: str
) -> ExperimentTemplate:
    t = step.templates[index]
    at = f"{where}.templates[{index}]"
    if t.spec_ref == "stable":
        if stable is None:
            raise AnalysisRunError(
                f"{at}: specRef is stable but the Rollout has no stable ReplicaSet to copy; "
                "use specRef: canary, or run this step only after a first deploy"
            )
        source: Mapping[str, Any] = stable
    else:
        source = rollout.spec.pod_template
    meta = t.metadata
    pods = _pods(source, (meta.labels or {}) if meta else {}, (meta.annotations or {}) if meta else {})
    selector = t.selector or rollout.spec.selector
    try:
        return ExperimentTemplate(
            name=t.name, replicas=t.replicas, selector=selector, template=pods, service=t.service
        )
    except ValueError as exc:
        raise AnalysisRunError(
            f"{at}: {_first_error(exc)}; fix the step's template (or the Rollout's pod template it copies)"
        ) from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", exc))
    return str(exc)


def _owner(rollout: Rollout) -> dict[str, Any]:
    try:
        return rollout_owner_reference(rollout)
    except ValueError as exc:
        raise AnalysisRunError(str(exc)) from None


def observe_experiment(experiment: Experiment) -> ObservedExperiment | None:
    """What the Rollout reads of an Experiment it started; ``None`` for one without its labels."""
    labels = experiment.metadata.labels or {}
    pod_hash = labels.get(POD_TEMPLATE_HASH_LABEL)
    step = labels.get(STEP_INDEX_LABEL)
    if not pod_hash:
        return None
    status = experiment.status
    phase = status.phase if status is not None else AnalysisPhase.PENDING
    templates = (status.template_statuses or []) if status is not None else []
    traffic = experiment.spec.traffic_service
    return ObservedExperiment(
        name=experiment.metadata.name or "",
        pod_template_hash=pod_hash,
        step_index=int(step) if step and step.isdigit() else None,
        phase=phase,
        message=(status.message or "") if status is not None else "",
        terminating=experiment.spec.terminate,
        available=phase is AnalysisPhase.RUNNING
        and len(templates) == len(experiment.spec.templates)
        and all(t.status == "Running" for t in templates),
        traffic_service=traffic.name if traffic is not None else None,
    )
