"""The Plan: what one decision asks the act step to do, in the order it must be done.

Action ordering is the safety contract between the engine and the act step. The act step applies
the actions one by one, in order, and stops at the first one that fails (the next pass starts
again from the cluster as it then is). The engine therefore builds every plan in four stages,
whatever order the rules happened to add actions in:

1. **scale up**: create ReplicaSets and raise replica counts, so capacity exists first;
2. **traffic**: router weights and Service selectors. The rules only ever point traffic at a
   ReplicaSet that is fully available, and moving traffic *away* (abort, new revision) lands
   here too, so it always precedes
3. **analysis**: start or stop AnalysisRuns (they read traffic that is now in place);
4. **scale down**: deadlines, scale-downs, deletions and pod restarts, last, so no pod is
   removed while traffic may still be sent to it in the cluster this plan is moving away from.

Within a stage the rules' order is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from rollouts.api.analysis import AnalysisRun
from rollouts.api.managed_routes import ManagedRoute
from rollouts.api.rollout import Rollout
from rollouts.api.status import RolloutStatus
from rollouts.api.strategy import RolloutAnalysis
from rollouts.engine.snapshot import AnalysisRunKind

__all__ = [
    "Action",
    "AnnotateScaleDownDeadline",
    "CreateAnalysisRun",
    "CreateReplicaSet",
    "DeleteAnalysisRun",
    "DeleteReplicaSet",
    "Event",
    "EventType",
    "Plan",
    "PlanBuilder",
    "RestartPod",
    "RestoreStableTraffic",
    "ScaleReplicaSet",
    "ScaleWorkload",
    "SetRoutes",
    "SetWeight",
    "Stage",
    "SwitchServiceSelector",
    "TerminateAnalysisRun",
]


class Stage(IntEnum):
    """The four stages of a plan, in the order the act step applies them."""

    SCALE_UP = 1
    TRAFFIC = 2
    ANALYSIS = 3
    SCALE_DOWN = 4


@dataclass(frozen=True, kw_only=True)
class InjectedAntiAffinity:
    """The pod anti-affinity term a new ReplicaSet gets (``antiAffinity``): away from the pods of
    revision ``stable_hash``, per node; a preference of ``weight``, or a requirement (``None``)."""

    stable_hash: str
    weight: int | None


@dataclass(frozen=True, kw_only=True)
class CreateReplicaSet:
    """Create ``<rollout>-<hash>`` from the Rollout's template with ``replicas`` pods."""

    name: str
    pod_template_hash: str
    replicas: int
    revision: int
    anti_affinity: InjectedAntiAffinity | None = None
    pod_metadata: str | None = None
    """The side's ephemeral labels and annotations (``canaryMetadata``...), as ``pod_metadata_key``."""


@dataclass(frozen=True, kw_only=True)
class SetPodMetadata:
    """Move a ReplicaSet and its live pods from the ephemeral metadata ``previous`` to ``wanted``
    (both JSON as :func:`rollouts.engine.context.pod_metadata_key` writes them, ``None`` for
    none): a canary promoted to stable trades ``canaryMetadata`` for ``stableMetadata`` in place."""

    name: str
    pod_template_hash: str
    wanted: str | None
    previous: str | None


@dataclass(frozen=True, kw_only=True)
class RemoveAntiAffinity:
    """Take the injected anti-affinity term off a ReplicaSet that became stable: its new pods
    (a scale-up) must not avoid the previous stable's, which may still run for a while."""

    name: str


@dataclass(frozen=True, kw_only=True)
class ScaleReplicaSet:
    """Set ``spec.replicas`` of an existing ReplicaSet (``previous`` is for events and ordering)."""

    name: str
    pod_template_hash: str
    replicas: int
    previous: int


@dataclass(frozen=True, kw_only=True)
class SetWeight:
    """Tell the traffic router to send ``canary_weight`` to the canary, the rest to stable: percent,
    or out of ``trafficRouting.maxTrafficWeight`` (the router reads it from the Rollout).

    Both hashes travel with the weight because subset-level routers (Istio DestinationRule
    subsets) address revisions, not Services. ``canary_service``: the weight goes to this Service
    instead of the canaryService (a weighted experiment step's traffic Service, NGINX).
    """

    canary_weight: int
    canary_hash: str
    stable_hash: str
    canary_service: str | None = None


@dataclass(frozen=True, kw_only=True)
class SetRoutes:
    """Make ``routes`` (in ``managedRoutes`` order) the header and mirror routes the router holds
    for the Rollout, removing the other managed ones; ``()`` removes them all."""

    routes: tuple[ManagedRoute, ...]


@dataclass(frozen=True, kw_only=True)
class SwitchServiceSelector:
    """Point ``service`` at revision ``pod_template_hash``: apply ``selector``, the whole new selector.

    ``selector`` is the Service's own labels (or, for a Service whose manifest leaves the selector
    to the controller, the Rollout's ``selector.matchLabels``) plus the revision's hash label; see
    :func:`rollouts.engine.revisions.revision_selector`. It is left out of equality: it follows from
    the Service and the revision, so two switches of one Service to one revision are the same step.
    """

    service: str
    pod_template_hash: str
    selector: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True)
class CreateAnalysisRun:
    """Start an AnalysisRun called ``name`` from ``analysis`` (templates and args) for a revision.

    ``run`` is the whole object to create, built by the engine from the snapshot's templates
    (``None`` only when the snapshot carried no templates: tests of step logic alone).
    """

    name: str
    kind: AnalysisRunKind
    pod_template_hash: str
    analysis: RolloutAnalysis
    step_index: int | None = None
    run: AnalysisRun | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class TerminateAnalysisRun:
    """Ask a running AnalysisRun to stop (``spec.terminate: true``)."""

    name: str


@dataclass(frozen=True, kw_only=True)
class CreateExperiment:
    """Start the Experiment of the canary's experiment step ``step_index`` for revision
    ``pod_template_hash``; the act step builds it (``rollout_experiments.build_experiment``) with
    the stable revision's pod template, which only its ReplicaSet holds in full."""

    name: str
    pod_template_hash: str
    stable_hash: str
    step_index: int


@dataclass(frozen=True, kw_only=True)
class TerminateExperiment:
    """Ask a running Experiment to stop (``spec.terminate: true``)."""

    name: str


@dataclass(frozen=True, kw_only=True)
class DeleteAnalysisRun:
    """Delete a finished AnalysisRun of an earlier revision beyond the Rollout's history limits."""

    name: str


@dataclass(frozen=True, kw_only=True)
class AnnotateScaleDownDeadline:
    """Write (or with ``deadline=None`` remove) the scale-down deadline annotation of a ReplicaSet."""

    name: str
    deadline: datetime | None


@dataclass(frozen=True, kw_only=True)
class DeleteReplicaSet:
    """Delete an old, empty ReplicaSet beyond ``revisionHistoryLimit``."""

    name: str


@dataclass(frozen=True, kw_only=True)
class RestoreStableTraffic:
    """Send all traffic to stable through a routing the Rollout no longer uses (the router's cleanup).

    ``routed`` is the Rollout as it was routed: its current spec with the old ``trafficRouting``,
    which is all a router needs to find its objects again.
    """

    routed: Rollout = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class RestartPod:
    """Evict one pod created before ``spec.restartAt``; its ReplicaSet replaces it."""

    name: str
    pod_template_hash: str


@dataclass(frozen=True, kw_only=True)
class ScaleWorkload:
    """Scale the Deployment ``spec.workloadRef`` names to ``replicas`` (``scaleDown``), recording
    ``original``, the replicas it is given back (on failure, or when the Rollout is deleted)."""

    name: str
    replicas: int
    previous: int
    original: int


Action = (
    CreateReplicaSet
    | RemoveAntiAffinity
    | SetPodMetadata
    | ScaleReplicaSet
    | SetWeight
    | SetRoutes
    | RestoreStableTraffic
    | SwitchServiceSelector
    | CreateAnalysisRun
    | TerminateAnalysisRun
    | CreateExperiment
    | TerminateExperiment
    | DeleteAnalysisRun
    | AnnotateScaleDownDeadline
    | DeleteReplicaSet
    | RestartPod
    | ScaleWorkload
)


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True, kw_only=True)
class Event:
    """A Kubernetes Event to record on the Rollout."""

    reason: str
    message: str
    type: EventType = EventType.NORMAL


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The outcome of one decision: actions in safe order, the new status, events, next wake-up.

    ``wake_at`` is the earliest moment a time-based rule (pause end, scale-down deadline, progress
    deadline, auto-promotion) needs another pass even if nothing in the cluster changes;
    ``requeue_after`` is the same moment relative to the snapshot's ``now``.
    """

    actions: tuple[Action, ...]
    status: RolloutStatus
    events: tuple[Event, ...] = ()
    wake_at: datetime | None = None
    requeue_after: timedelta | None = None


def _stage_of(action: Action) -> Stage:
    match action:
        case CreateReplicaSet():
            return Stage.SCALE_UP
        case ScaleReplicaSet(replicas=new, previous=old) | ScaleWorkload(replicas=new, previous=old):
            return Stage.SCALE_UP if new > old else Stage.SCALE_DOWN
        case SetWeight() | SetRoutes() | RestoreStableTraffic() | SwitchServiceSelector():
            return Stage.TRAFFIC
        case CreateAnalysisRun() | TerminateAnalysisRun() | CreateExperiment() | TerminateExperiment():
            return Stage.ANALYSIS
        case _:
            return Stage.SCALE_DOWN


@dataclass
class PlanBuilder:
    """Collects actions, events and wake-ups during one pass, then freezes them into a Plan."""

    now: datetime
    _actions: list[Action] = field(default_factory=list)
    _events: list[Event] = field(default_factory=list)
    _wake_at: datetime | None = None

    def add(self, action: Action) -> None:
        """Add an action unless an equal one is already planned (rules may overlap harmlessly)."""
        if action not in self._actions:
            self._actions.append(action)

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self._events.append(
            Event(reason=reason, message=message, type=EventType.WARNING if warning else EventType.NORMAL)
        )

    def wake_at(self, moment: datetime) -> None:
        """Ask for another pass at ``moment`` (the earliest request wins); past moments are ignored."""
        if moment <= self.now:
            return
        if self._wake_at is None or moment < self._wake_at:
            self._wake_at = moment

    def wake_after(self, delay: timedelta) -> None:
        self.wake_at(self.now + delay)

    def planned(self) -> tuple[Action, ...]:
        """The actions so far, in final (staged) order."""
        return _staged(self._actions)

    def build(self, status: RolloutStatus) -> Plan:
        return Plan(
            actions=_staged(self._actions),
            status=status,
            events=tuple(self._events),
            wake_at=self._wake_at,
            requeue_after=None if self._wake_at is None else self._wake_at - self.now,
        )


def _staged(actions: Iterable[Action]) -> tuple[Action, ...]:
    """Order actions by stage, keeping the rules' order within a stage (``sorted`` is stable)."""
    return tuple(sorted(actions, key=_stage_of))
