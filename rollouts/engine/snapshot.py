"""The observed state one decision reads: a frozen picture of the cluster at one instant.

The controller's observe step fills a :class:`Snapshot` from its watch caches; the engine never
looks anywhere else. Every view here holds only what a rule needs, already parsed (numbers as
ints, times as aware datetimes), so the decision code reads facts, not Kubernetes objects, and a
test can write a scenario in a few lines. ``now`` is part of the snapshot because the engine
never reads the clock: the same snapshot always gives the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from rollouts.api.analysis import AnalysisTemplate, ClusterAnalysisTemplate
from rollouts.api.common import parse_timestamp
from rollouts.api.enums import AnalysisPhase
from rollouts.api.managed_routes import ManagedRoute
from rollouts.api.rollout import Rollout
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.shared_fields import SharedField

__all__ = [
    "AnalysisRunKind",
    "ObservedAnalysisRun",
    "ObservedExperiment",
    "ObservedPod",
    "ObservedReplicaSet",
    "ObservedService",
    "ObservedWorkload",
    "Snapshot",
    "Template",
    "parse_deadline",
]

Template = AnalysisTemplate | ClusterAnalysisTemplate
"""A template an analysis names: namespaced, or cluster-scoped (``clusterScope: true``)."""


def parse_deadline(value: str | None) -> datetime | None:
    """Parse a ``rollouts.dev/scale-down-deadline`` annotation (RFC 3339); ``None`` if absent or bad.

    A value nobody can read is treated as "no deadline" rather than an error: the RS is then
    handled as if it had never been annotated, and the next plan writes a fresh deadline.
    """
    return parse_timestamp(value)


@dataclass(frozen=True, kw_only=True)
class ObservedReplicaSet:
    """One ReplicaSet owned by the Rollout, as the API server last reported it.

    ``replicas`` is the desired count (``spec.replicas``); ``ready``/``available`` come from its
    status. ``pods`` is the number of pods that exist (``status.replicas``), which can exceed
    ``replicas`` while pods terminate; the cleanup rule must not delete an RS with live pods.
    """

    name: str
    pod_template_hash: str
    replicas: int
    revision: int
    created: datetime
    ready: int = 0
    available: int = 0
    pods: int | None = None
    scale_down_deadline: str | None = None
    """Raw value of the ``rollouts.dev/scale-down-deadline`` annotation (RFC 3339), if any."""
    deleting: bool = False
    anti_affinity_to: str | None = None
    """The revision its pods were told to avoid (``rollouts.dev/anti-affinity-to``), if any."""
    pod_metadata: str | None = None
    """The ephemeral pod metadata last applied (``rollouts.dev/pod-metadata``, JSON), if any."""

    @property
    def actual(self) -> int:
        """Pods that exist (``status.replicas``), assumed equal to ``replicas`` when not reported."""
        return self.replicas if self.pods is None else self.pods

    @property
    def scale_down_at(self) -> datetime | None:
        return parse_deadline(self.scale_down_deadline)

    @property
    def fully_available(self) -> bool:
        """True when every desired pod is available: the only state traffic may be sent to."""
        return self.replicas > 0 and self.available >= self.replicas


@dataclass(frozen=True, kw_only=True)
class ObservedService:
    """A Service the strategy names (canary/stable or preview/active) and its current selector."""

    name: str
    selector: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "selector", MappingProxyType(dict(self.selector)))

    @property
    def pod_template_hash(self) -> str | None:
        """The revision this Service sends traffic to, or ``None`` when it selects no revision."""
        return self.selector.get(POD_TEMPLATE_HASH_LABEL)


class AnalysisRunKind(StrEnum):
    """Why a run exists; the engine reads each kind at a different point of the rollout."""

    STEP = "step"
    BACKGROUND = "background"
    PRE = "pre"
    POST = "post"


@dataclass(frozen=True, kw_only=True)
class ObservedAnalysisRun:
    """An AnalysisRun owned by the Rollout: enough to judge it, never its measurements."""

    name: str
    kind: AnalysisRunKind
    phase: AnalysisPhase
    pod_template_hash: str
    step_index: int | None = None
    message: str = ""
    terminating: bool = False
    created: datetime | None = None
    expires: datetime | None = None  # when its ttlStrategy lets it be deleted (``analysis_ttl``)


@dataclass(frozen=True, kw_only=True)
class ObservedExperiment:
    """An Experiment owned by the Rollout (started by an experiment step), by its labels and phase."""

    name: str
    pod_template_hash: str
    step_index: int | None
    phase: AnalysisPhase
    message: str = ""
    terminating: bool = False
    available: bool = False
    """Running with every template fully available: only then may traffic go to its pods."""
    traffic_service: str | None = None
    """The Service of its weighted templates, which the canary Ingress points at during the step."""


@dataclass(frozen=True, kw_only=True)
class ObservedWorkload:
    """The Deployment ``spec.workloadRef`` names: its replicas, its available pods, and the
    replicas recorded when the controller first scaled it down (``None``: never scaled)."""

    name: str
    replicas: int
    available: int = 0
    original: int | None = None


@dataclass(frozen=True, kw_only=True)
class ObservedPod:
    """A pod of one of the Rollout's ReplicaSets; read only by the ``restartAt`` rule."""

    name: str
    pod_template_hash: str
    created: datetime
    ready: bool = True
    deleting: bool = False


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """Everything one decision may look at, frozen at ``now``.

    ``router_canary_weight`` is the canary weight the traffic router reads back from the cluster
    (``None`` when unknown or the Rollout uses no router): a step that sets a weight only
    completes once that read-back equals the planned weight. ``router_routes`` is the same for
    the header and mirror routes of ``managedRoutes`` (``None``: unknown, or none are managed).
    ``router_canary_service`` is the Service the router sends the canary weight to (NGINX: the
    canary Ingress's backend; ``None``: unknown, or the router always uses the canaryService).

    ``templates`` are the (Cluster)AnalysisTemplates the Rollout names that exist, so the engine
    builds every AnalysisRun it starts whole (and reports a missing template or argument before
    anything is changed). ``None``: templates were not read (tests of step logic alone); a
    :class:`~rollouts.engine.plan.CreateAnalysisRun` then carries no ``run``.

    ``shared`` lists the fields the controller writes in the user's objects that a GitOps agent
    applies too; the engine warns when it writes one (:mod:`rollouts.engine.shared_fields`).
    """

    rollout: Rollout
    now: datetime
    replica_sets: tuple[ObservedReplicaSet, ...] = ()
    services: tuple[ObservedService, ...] = ()
    router_canary_weight: int | None = None
    router_routes: tuple[ManagedRoute, ...] | None = None
    router_canary_service: str | None = None
    analysis_runs: tuple[ObservedAnalysisRun, ...] = ()
    experiments: tuple[ObservedExperiment, ...] = ()
    pods: tuple[ObservedPod, ...] = ()
    templates: tuple[Template, ...] | None = None
    shared: tuple[SharedField, ...] = ()
    workload: ObservedWorkload | None = None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("Snapshot.now must be timezone-aware (UTC), got a naive datetime")

    def shared_field(self, kind: str, name: str) -> SharedField | None:
        """The written field of ``kind``/``name`` that someone else applies too, if any."""
        return next((f for f in self.shared if f.kind == kind and f.name == name), None)

    def service(self, name: str | None) -> ObservedService | None:
        """The observed Service called ``name``, or ``None`` when it is absent or unnamed."""
        if not name:
            return None
        return next((svc for svc in self.services if svc.name == name), None)

    def replica_set(self, pod_template_hash: str | None) -> ObservedReplicaSet | None:
        """The ReplicaSet of revision ``pod_template_hash`` (the newest one if adopted twice)."""
        if not pod_template_hash:
            return None
        matches = [rs for rs in self.replica_sets if rs.pod_template_hash == pod_template_hash]
        return max(matches, key=lambda rs: (rs.revision, rs.name)) if matches else None

    def experiment(self, name: str | None) -> ObservedExperiment | None:
        return next((e for e in self.experiments if e.name == name), None) if name else None

    def analysis_run(self, name: str | None) -> ObservedAnalysisRun | None:
        if not name:
            return None
        return next((run for run in self.analysis_runs if run.name == name), None)
