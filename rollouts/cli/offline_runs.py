"""The AnalysisRuns ``plan`` and ``lint`` build offline, with placeholders for what only the cluster knows.

The engine's :func:`~rollouts.engine.analysis_runs.build_analysis_run` is what refuses a run the
controller cannot start (a missing template, an unknown or missing argument, conflicting
defaults, one metric name in two templates, a ``fieldRef`` to nothing, ...). Offline, the Rollout
is the manifest rather than the object the API server returns, so a few things it reads do not
exist yet. They get placeholders, so that only a problem the controller would also meet in the
cluster is reported:

* ``metadata.uid`` (the run's ownerReference to the Rollout): :data:`PLACEHOLDER_UID`;
* ``status.stableRS`` (``valueFrom.podTemplateHashValue: Stable``): :data:`PLACEHOLDER_STABLE_HASH`,
  when the Rollout has none. The controller never analyses a first deploy (it becomes stable at
  once), so in the cluster a run always has a stable revision to read;
* a ``valueFrom.fieldRef`` whose path starts with ``metadata`` or ``status`` (of the Rollout's
  args, an experiment step's analysis args, or of a template's): the namespace is often set only
  at apply time (``kubectl apply -n``, Argo CD's destination), tools add labels and annotations,
  the server and the controller write the rest. Such an argument gets the value
  ``<fieldRef PATH>`` instead. Any other path (``spec...``) reads the manifest as the cluster
  will hold it (the API defaults are the models'), so a path that leads nowhere there is reported.

A placeholder value is no number and no duration: a metric's ``count``, limit or duration filled
from one (``count: "{{args.n}}"`` with ``n`` from ``metadata.labels[...]``, or from an argument
``lint`` already reported missing) is not a problem here; the cluster's value is checked when the
controller builds the run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from rollouts.api import CanaryStep, Rollout
from rollouts.api.analysis import Argument, ValueFrom
from rollouts.api.rollout_analysis import AnalysisRunArgument, ArgumentValueFrom, RolloutAnalysis
from rollouts.api.status import RolloutStatus
from rollouts.engine.analysis_runs import (
    AnalysisRunError,
    MetricFieldError,
    Template,
    build_analysis_run,
)
from rollouts.engine.hashing import pod_template_hash
from rollouts.engine.plan import CreateAnalysisRun
from rollouts.engine.snapshot import AnalysisRunKind

__all__ = [
    "PLACEHOLDER_STABLE_HASH",
    "PLACEHOLDER_UID",
    "is_placeholder",
    "offline_analysis",
    "offline_rollout",
    "offline_template",
    "run_error",
]

PLACEHOLDER_UID: Final = "offline-placeholder-uid"
"""``metadata.uid`` of a Rollout read from a file (only the API server assigns real ones)."""
PLACEHOLDER_STABLE_HASH: Final = "offline-placeholder-stable-hash"
"""``status.stableRS`` of a Rollout read from a file, for ``podTemplateHashValue: Stable``."""

_FIRST_SEGMENT: Final = re.compile(r"\s*([A-Za-z0-9_-]+)")
_CLUSTER_ONLY: Final = frozenset({"metadata", "status"})
_PLACEHOLDER: Final = re.compile(r"<[^<>]+>")


def _known_offline(path: str) -> bool:
    """Whether a ``fieldRef`` path reads a part of the Rollout that its manifest holds whole."""
    first = _FIRST_SEGMENT.match(path)
    return first is None or first.group(1) not in _CLUSTER_ONLY


def _placeholder(path: str) -> str:
    return f"<fieldRef {path.strip()}>"


def is_placeholder(value: str) -> bool:
    """Whether ``value`` stands for one only the cluster knows (``<fieldRef PATH>``, ``<NAME>``)."""
    return _PLACEHOLDER.fullmatch(value) is not None


def _cluster_only(value_from: ValueFrom | ArgumentValueFrom | None) -> str | None:
    """The placeholder for a ``fieldRef`` only the cluster can read; ``None`` for any other arg."""
    ref = value_from.field_ref if value_from is not None else None
    if ref is None or _known_offline(ref.field_path):
        return None
    return _placeholder(ref.field_path)


def offline_template(template: Template) -> Template:
    """``template`` with its ``fieldRef`` defaults on cluster-only paths replaced by placeholders."""
    args = template.spec.args or []
    offline = [
        Argument(name=arg.name, value=value) if (value := _cluster_only(arg.value_from)) else arg
        for arg in args
    ]
    if offline == args:
        return template
    return template.model_copy(update={"spec": template.spec.model_copy(update={"args": offline})})


def offline_analysis(analysis: RolloutAnalysis) -> RolloutAnalysis:
    """``analysis`` with its ``fieldRef`` args on cluster-only paths replaced by placeholders (in
    place, so every other arg keeps its index in messages)."""
    args = analysis.args or []
    offline = _offline_args(args)
    return analysis if offline == args else analysis.model_copy(update={"args": offline})


def _offline_args(args: list[AnalysisRunArgument]) -> list[AnalysisRunArgument]:
    return [
        AnalysisRunArgument(name=arg.name, value=value) if (value := _cluster_only(arg.value_from)) else arg
        for arg in args
    ]


def _offline_experiment_step(step: CanaryStep) -> CanaryStep:
    """An experiment step with the ``fieldRef`` args of its analyses made offline, like a block's."""
    experiment = step.experiment
    if experiment is None or not experiment.analyses:
        return step
    analyses = [
        a.model_copy(update={"args": _offline_args(a.args)}) if a.args else a for a in experiment.analyses
    ]
    return step.model_copy(update={"experiment": experiment.model_copy(update={"analyses": analyses})})


def offline_rollout(rollout: Rollout) -> Rollout:
    """``rollout`` with a placeholder uid (if it has none) and every analysis block made offline."""
    strategy = rollout.spec.strategy
    canary, blue_green = strategy.canary, strategy.blue_green
    if canary is not None:
        steps = canary.steps
        if steps is not None:
            steps = [
                step.model_copy(update={"analysis": offline_analysis(step.analysis)})
                if step.analysis is not None
                else _offline_experiment_step(step)
                for step in steps
            ]
        background = canary.analysis
        canary = canary.model_copy(
            update={
                "steps": steps,
                "analysis": offline_analysis(background) if background is not None else None,
            }
        )
    if blue_green is not None:
        pre, post = blue_green.pre_promotion_analysis, blue_green.post_promotion_analysis
        blue_green = blue_green.model_copy(
            update={
                "pre_promotion_analysis": offline_analysis(pre) if pre is not None else None,
                "post_promotion_analysis": offline_analysis(post) if post is not None else None,
            }
        )
    strategy = strategy.model_copy(update={"canary": canary, "blue_green": blue_green})
    metadata = rollout.metadata.model_copy(update={"uid": rollout.metadata.uid or PLACEHOLDER_UID})
    return rollout.model_copy(
        update={"metadata": metadata, "spec": rollout.spec.model_copy(update={"strategy": strategy})}
    )


def run_error(
    *,
    rollout: Rollout,
    kind: AnalysisRunKind,
    step_index: int | None,
    analysis: RolloutAnalysis,
    templates: Sequence[Template],
) -> AnalysisRunError | None:
    """Why the controller would refuse to start the run of this analysis block (its ``kind`` and
    step) from ``templates`` (``None``: it would start it), with the placeholders of this module."""
    status = rollout.status or RolloutStatus()
    if not status.stable_rs:
        status = status.model_copy(update={"stable_rs": PLACEHOLDER_STABLE_HASH})
    offline = offline_rollout(rollout).model_copy(update={"status": status})
    action = CreateAnalysisRun(
        name=f"{rollout.metadata.name}-offline",
        kind=kind,
        pod_template_hash=pod_template_hash(rollout.spec.pod_template),
        analysis=offline_analysis(analysis),
        step_index=step_index,
    )
    try:
        build_analysis_run(rollout=offline, action=action, templates=[offline_template(t) for t in templates])
    except MetricFieldError as exc:
        return None if any(map(is_placeholder, exc.values)) else exc
    except AnalysisRunError as exc:
        return exc
    return None
