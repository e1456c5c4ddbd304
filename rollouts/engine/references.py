"""What a Rollout reads besides itself, declared once: the kinds and the named objects.

Everything the controller watches, indexes, observes and `lint` cross-checks comes from these
declarations, so adding a router (or a new kind of reference) is one declaration, not edits to
the caches, the reverse index, the observe step and the linter:

* :class:`Kind` is a kind the controller keeps a watch cache of, and how changes of its objects
  find their Rollout (by an ownerReference, by the names Rollouts give in their specs, or both);
* :class:`Reference` is one object a Rollout reads: the field that names it (for messages that
  say what to fix), whether the pass can go on without it, and whether the controller creates it
  (a router's own object, like NGINX's canary Ingress) or the user does.

This module declares the references of the strategy (its Services) and of analysis (its
templates); each router declares its own (see ``rollouts.traffic.router.TrafficRouter``).
Pure functions of the parsed Rollout, so `lint` and `plan` use them offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rollouts.api.rollout import Rollout
from rollouts.api.rollout_analysis import RolloutAnalysis
from rollouts.engine.shared_fields import WrittenField
from rollouts.engine.snapshot import AnalysisRunKind

__all__ = [
    "ANALYSIS_TEMPLATE",
    "CLUSTER_ANALYSIS_TEMPLATE",
    "DEPLOYMENT",
    "SERVICE",
    "AnalysisReference",
    "Kind",
    "Reference",
    "analysis_field",
    "analysis_references",
    "strategy_references",
    "template_references",
    "workload_references",
]


@dataclass(frozen=True, kw_only=True)
class Kind:
    """A kind the controller watches for Rollouts.

    ``optional``: its CRD may be absent (Istio on a cluster without Istio); the watch then waits
    for it instead of failing. ``cluster_scoped``: one cluster-wide watch, whatever namespaces
    the controller serves. ``owned``: a change wakes the object's controlling Rollout (objects
    the controller creates). Every watched kind also wakes the Rollouts that name the object.
    ``writes``: the field of the user's objects of this kind that the controller writes
    (:mod:`rollouts.engine.shared_fields`).
    """

    api_version: str
    kind: str
    optional: bool = False
    cluster_scoped: bool = False
    owned: bool = False
    writes: WrittenField | None = None

    @property
    def key(self) -> tuple[str, str]:
        """``(apiVersion, kind)``, how the caches and the API client name a kind."""
        return (self.api_version, self.kind)


@dataclass(frozen=True, kw_only=True)
class Reference:
    """One object a Rollout reads, in its namespace (or cluster-wide for a cluster-scoped kind).

    ``path`` is the Rollout field that names it (``spec.strategy.canary.stableService``), for
    messages that name the field to fix. ``required``: the pass stops with that message while the
    object is missing. ``created``: the controller makes it (its absence is normal until then).
    """

    kind: Kind
    name: str
    path: str
    required: bool = False
    created: bool = False


SERVICE = Kind(
    api_version="v1",
    kind="Service",
    writes=WrittenField(
        path="spec.selector",
        fix="leave spec.selector out of the Service's manifest: kube-rollouts then writes it (the "
        "Rollout's selector.matchLabels and the revision label) and is its only owner",
    ),
)
ANALYSIS_TEMPLATE = Kind(api_version="rollouts.dev/v1alpha1", kind="AnalysisTemplate", optional=True)
CLUSTER_ANALYSIS_TEMPLATE = Kind(
    api_version="rollouts.dev/v1alpha1", kind="ClusterAnalysisTemplate", optional=True, cluster_scoped=True
)


DEPLOYMENT = Kind(api_version="apps/v1", kind="Deployment")
"""A workloadRef's Deployment: its pod template is the Rollout's (it is never written but scaled)."""


def workload_references(rollout: Rollout) -> list[Reference]:
    """The Deployment ``spec.workloadRef`` names: required, since it holds the pods' template."""
    ref = rollout.spec.workload_ref
    if ref is None:
        return []
    return [Reference(kind=DEPLOYMENT, name=ref.name, path="spec.workloadRef.name", required=True)]


def strategy_references(rollout: Rollout) -> list[Reference]:
    """The Services the strategy names, each once (the first field naming it wins the message)."""
    strategy = rollout.spec.strategy
    named: list[tuple[str, str | None]] = []
    ping_pong = strategy.canary.ping_pong if strategy.canary is not None else None
    if ping_pong is not None:
        named += [
            ("spec.strategy.canary.pingPong.pingService", ping_pong.ping_service),
            ("spec.strategy.canary.pingPong.pongService", ping_pong.pong_service),
        ]
    elif strategy.canary is not None:
        named += [
            ("spec.strategy.canary.canaryService", strategy.canary.canary_service),
            ("spec.strategy.canary.stableService", strategy.canary.stable_service),
        ]
    if strategy.blue_green is not None:
        named += [
            ("spec.strategy.blueGreen.activeService", strategy.blue_green.active_service),
            ("spec.strategy.blueGreen.previewService", strategy.blue_green.preview_service),
        ]
    found: dict[str, Reference] = {}
    for path, name in named:
        if name and name not in found:
            found[name] = Reference(kind=SERVICE, name=name, path=path, required=True)
    return list(found.values())


@dataclass(frozen=True, kw_only=True)
class AnalysisReference:
    """One ``analysis`` block of the Rollout (a step's, the background one, pre/post promotion)."""

    kind: AnalysisRunKind
    step_index: int | None
    analysis: RolloutAnalysis

    @property
    def path(self) -> str:
        """The block's field path (``spec.strategy.canary.steps[2].analysis``)."""
        return analysis_field(self.kind, self.step_index)


def analysis_field(kind: AnalysisRunKind, step_index: int | None) -> str:
    """Where in the Rollout the analysis of this kind is declared (for error messages)."""
    match kind:
        case AnalysisRunKind.STEP:
            return f"spec.strategy.canary.steps[{step_index}].analysis"
        case AnalysisRunKind.BACKGROUND:
            return "spec.strategy.canary.analysis"
        case AnalysisRunKind.PRE:
            return "spec.strategy.blueGreen.prePromotionAnalysis"
        case AnalysisRunKind.POST:
            return "spec.strategy.blueGreen.postPromotionAnalysis"


def analysis_references(rollout: Rollout) -> Iterator[AnalysisReference]:
    """Every analysis block of the Rollout, in spec order, with its field path."""
    canary, blue_green = rollout.spec.strategy.canary, rollout.spec.strategy.blue_green
    blocks: list[tuple[AnalysisRunKind, int | None, RolloutAnalysis | None]] = []
    if canary is not None:
        blocks += [
            (AnalysisRunKind.STEP, index, step.analysis) for index, step in enumerate(canary.steps or [])
        ]
        blocks.append((AnalysisRunKind.BACKGROUND, None, canary.analysis))
    if blue_green is not None:
        blocks.append((AnalysisRunKind.PRE, None, blue_green.pre_promotion_analysis))
        blocks.append((AnalysisRunKind.POST, None, blue_green.post_promotion_analysis))
    for kind, step_index, analysis in blocks:
        if analysis is not None:
            yield AnalysisReference(kind=kind, step_index=step_index, analysis=analysis)


def template_references(rollout: Rollout) -> list[Reference]:
    """The (Cluster)AnalysisTemplates the Rollout's analysis blocks name, each once.

    Not ``required`` here: a missing template stops only the pass that starts a run from it, with
    the message :func:`rollouts.engine.analysis_runs.build_analysis_run` gives.
    """
    found: dict[tuple[str, str], Reference] = {}
    for block in analysis_references(rollout):
        for index, ref in enumerate(block.analysis.templates):
            kind = CLUSTER_ANALYSIS_TEMPLATE if ref.cluster_scope else ANALYSIS_TEMPLATE
            path = f"{block.path}.templates[{index}].templateName"
            found.setdefault(
                (kind.kind, ref.template_name), Reference(kind=kind, name=ref.template_name, path=path)
            )
    return list(found.values())
