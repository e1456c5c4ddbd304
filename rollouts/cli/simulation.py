"""Run the real decision engine over a synthetic cluster, to see the delivery it would make.

``kubectl rollouts plan`` must show exactly what the controller will do, so it does not describe
the steps itself: it calls :func:`rollouts.engine.decide` in a loop, as the controller does, over a
world that obeys each plan at once and perfectly:

* the Rollout starts Healthy on a previous revision (``previous``) at full size, and the file's
  pod template is the new revision being delivered;
* ReplicaSets are available as soon as they are created or scaled; the router reports back the
  weight just set; Services select what they were switched to;
* an AnalysisRun succeeds after the shortest time its metrics can take (``initialDelay +
  (count-1) * interval`` of its slowest metric, when the templates are in the file, with the
  ``{{args.NAME}}`` of those fields filled in as the engine builds the run; at once otherwise);
  a metric with an interval and no count never finishes;
* an Experiment (an experiment step's) has its templates available at once, so it runs from its
  creation; it is Successful once its ``duration`` has passed and each ``requiredForCompletion``
  analysis has had its shortest time (built as the controller builds it when its template is in
  the files); a required analysis that never ends keeps it running for ever. One with neither
  (open-ended) runs until the step's pause is promoted, which terminates it, as in the cluster;
* when nothing is left to do, time jumps to the plan's ``wake_at`` (pause end, scale-down delay,
  auto-promotion); a pause with no end is promoted the way ``kubectl rollouts promote`` does it
  (pause conditions cleared), and counted as a manual promotion.

Given the templates to build runs from (``analysis_templates``), the Snapshot carries them, so
the engine builds every AnalysisRun it starts exactly as the controller does, and an
:class:`~rollouts.engine.analysis_runs.AnalysisRunError` (unknown argument, one metric in two
templates, a ``fieldRef`` to nothing, ...) leaves :func:`simulate` as it leaves ``decide``. What
only the cluster could give the Rollout is a placeholder (its uid, and the values of ``fieldRef``
args under ``metadata`` or ``status``: :mod:`rollouts.cli.offline_runs`); the stable revision
``podTemplateHashValue: Stable`` reads is the previous one the delivery starts from.

The result is every pass (a :class:`Moment`) with the time, the plan and the world after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from rollouts.api import (
    AnalysisPhase,
    AnalysisTemplateSpec,
    ManagedRoute,
    Rollout,
    RolloutPhase,
)
from rollouts.api.status import RolloutStatus
from rollouts.cli.offline_runs import offline_rollout, offline_template
from rollouts.cli.simulated_experiments import (
    ExperimentTiming,
    SimulatedExperiments,
    TemplateKey,
    analysis_seconds,
)
from rollouts.engine import (
    Action,
    AnnotateScaleDownDeadline,
    CreateAnalysisRun,
    CreateExperiment,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    ObservedAnalysisRun,
    ObservedReplicaSet,
    ObservedService,
    Plan,
    RemoveAntiAffinity,
    ScaleReplicaSet,
    SetPodMetadata,
    SetRoutes,
    SetWeight,
    Snapshot,
    SwitchServiceSelector,
    TerminateAnalysisRun,
    TerminateExperiment,
    decide,
)
from rollouts.engine.analysis_runs import Template
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL, pod_template_hash, replica_set_name

__all__ = [
    "PREVIOUS",
    "START",
    "ExperimentTiming",
    "Moment",
    "Simulation",
    "TemplateKey",
    "analysis_seconds",
    "simulate",
]

PREVIOUS = "previous"
"""The pod-template hash of the synthetic revision the delivery starts from."""
START = datetime(2000, 1, 1, tzinfo=UTC)
"""The simulated clock's origin; only durations since it are ever shown."""
MAX_PASSES = 5000


@dataclass(frozen=True, kw_only=True)
class Moment:
    """One engine pass: when (since the start), the plan, and the world once the plan is applied."""

    at: timedelta
    plan: Plan
    replica_sets: tuple[ObservedReplicaSet, ...]
    router_weight: int | None
    promoted_by_user: bool = False

    @property
    def status(self) -> RolloutStatus:
        return self.plan.status

    def replicas_of(self, pod_template_hash: str) -> int:
        return sum(rs.replicas for rs in self.replica_sets if rs.pod_template_hash == pod_template_hash)


@dataclass(frozen=True, kw_only=True)
class Simulation:
    """The whole simulated delivery of one Rollout."""

    rollout: Rollout
    desired_hash: str
    moments: tuple[Moment, ...]
    manual_promotions: int
    blocked: str = ""
    """Why the delivery cannot finish (empty when it does)."""
    experiments: Mapping[str, ExperimentTiming] = field(default_factory=dict)
    """Each Experiment the delivery started, by name, and how long it ran."""

    @property
    def promoted_at(self) -> timedelta | None:
        """When the new revision became stable (``None``: never)."""
        return next((m.at for m in self.moments if m.status.stable_rs == self.desired_hash), None)

    @property
    def completed_at(self) -> timedelta | None:
        """When no pod of the previous revision is left (``None``: never).

        The Rollout is Healthy from its promotion on; with traffic routing or blue-green the
        previous revision keeps its pods for ``scaleDownDelaySeconds`` after that.
        """
        return next(
            (
                m.at
                for m in self.moments
                if m.status.phase is RolloutPhase.HEALTHY
                and m.status.stable_rs == self.desired_hash
                and m.replicas_of(PREVIOUS) == 0
            ),
            None,
        )


@dataclass
class _World:
    """The synthetic cluster: it does what each plan says, immediately and without failing."""

    templates: Mapping[TemplateKey, AnalysisTemplateSpec]
    replica_sets: dict[str, ObservedReplicaSet] = field(default_factory=dict)
    services: dict[str, ObservedService] = field(default_factory=dict)
    router_weight: int | None = None
    router_routes: tuple[ManagedRoute, ...] = ()
    runs: dict[str, ObservedAnalysisRun] = field(default_factory=dict)
    run_ends: dict[str, datetime | None] = field(default_factory=dict)
    experiments: SimulatedExperiments = field(default_factory=SimulatedExperiments)

    def finish_runs(self, now: datetime) -> None:
        for name, run in self.runs.items():
            end = self.run_ends.get(name)
            if run.phase is AnalysisPhase.RUNNING and end is not None and end <= now:
                self.runs[name] = replace(run, phase=AnalysisPhase.SUCCESSFUL)
        self.experiments.finish(now)

    def next_run_end(self, now: datetime) -> datetime | None:
        ends = [
            end
            for name, end in self.run_ends.items()
            if end is not None and end > now and self.runs[name].phase is AnalysisPhase.RUNNING
        ]
        ends += self.experiments.ends_after(now)
        return min(ends, default=None)

    def never_ending(self) -> str:
        """Why something the delivery waits for never ends; "" when nothing is stuck that way."""
        running = [run.name for run in self.runs.values() if run.phase is AnalysisPhase.RUNNING]
        if running:
            return f"AnalysisRun {running[0]} never finishes (a metric has an interval but no count)"
        return self.experiments.never_ending()

    def runs_revision(self, pod_template_hash: str) -> bool:
        """Whether a ReplicaSet of that revision still has pods (Healthy does not wait for them)."""
        return any(
            rs.replicas for rs in self.replica_sets.values() if rs.pod_template_hash == pod_template_hash
        )

    def apply(self, action: Action, now: datetime) -> None:
        match action:
            case CreateReplicaSet(name=name, pod_template_hash=h, replicas=n, revision=revision):
                created = _running(name, h, replicas=n, revision=revision, created=now)
                self.replica_sets[name] = replace(
                    created,
                    pod_metadata=action.pod_metadata,
                    anti_affinity_to=action.anti_affinity.stable_hash if action.anti_affinity else None,
                )
            case SetPodMetadata(name=name, wanted=wanted):
                self.replica_sets[name] = replace(self.replica_sets[name], pod_metadata=wanted)
            case RemoveAntiAffinity(name=name):
                self.replica_sets[name] = replace(self.replica_sets[name], anti_affinity_to=None)
            case ScaleReplicaSet(name=name, replicas=n):
                self.replica_sets[name] = replace(
                    self.replica_sets[name], replicas=n, ready=n, available=n, pods=n
                )
            case SetWeight(canary_weight=weight):
                self.router_weight = weight
            case SetRoutes(routes=routes):
                self.router_routes = routes
            case SwitchServiceSelector(service=service, pod_template_hash=h):
                old = self.services.get(service, ObservedService(name=service))
                self.services[service] = ObservedService(
                    name=service, selector={**old.selector, POD_TEMPLATE_HASH_LABEL: h}
                )
            case CreateAnalysisRun(
                name=name, kind=kind, pod_template_hash=h, analysis=analysis, step_index=i, run=run
            ):
                seconds = analysis_seconds(analysis, self.templates, run)
                self.run_ends[name] = None if seconds is None else now + timedelta(seconds=seconds)
                self.runs[name] = ObservedAnalysisRun(
                    name=name, kind=kind, phase=AnalysisPhase.RUNNING, pod_template_hash=h, step_index=i
                )
                self.finish_runs(now)
            case TerminateAnalysisRun(name=name):
                self.runs[name] = replace(self.runs[name], phase=AnalysisPhase.SUCCESSFUL, terminating=True)
            case CreateExperiment():
                self.experiments.start(action, now)
                self.finish_runs(now)
            case TerminateExperiment(name=name):
                self.experiments.terminate(name)
            case AnnotateScaleDownDeadline(name=name, deadline=deadline):
                value = None if deadline is None else deadline.isoformat()
                self.replica_sets[name] = replace(self.replica_sets[name], scale_down_deadline=value)
            case DeleteReplicaSet(name=name):
                self.replica_sets.pop(name, None)
            case DeleteAnalysisRun(name=name):
                self.runs.pop(name, None)
            case _:
                pass  # RestartPod, ScaleWorkload: the synthetic cluster has no pods nor Deployment


def _running(
    name: str, pod_template_hash: str, *, replicas: int, revision: int, created: datetime
) -> ObservedReplicaSet:
    """A ReplicaSet of the synthetic cluster: every pod it asks for exists and is available."""
    return ObservedReplicaSet(
        name=name,
        pod_template_hash=pod_template_hash,
        replicas=replicas,
        revision=revision,
        created=created,
        ready=replicas,
        available=replicas,
        pods=replicas,
    )


def _start(rollout: Rollout, world: _World) -> Rollout:
    """The Rollout Healthy on the previous revision, and the world that goes with it."""
    name = replica_set_name(rollout.metadata.name, PREVIOUS)
    replicas = rollout.spec.replicas
    world.replica_sets[name] = _running(
        name, PREVIOUS, replicas=replicas, revision=1, created=START - timedelta(days=1)
    )
    status: dict[str, object] = {
        "phase": RolloutPhase.HEALTHY,
        "current_pod_hash": PREVIOUS,
        "stable_rs": PREVIOUS,
        "replicas": replicas,
        "updated_replicas": replicas,
        "ready_replicas": replicas,
        "available_replicas": replicas,
    }
    strategy = rollout.with_service_roles().spec.strategy
    canary, blue_green = strategy.canary, strategy.blue_green
    selected = {POD_TEMPLATE_HASH_LABEL: PREVIOUS}
    if canary is not None:
        status["current_step_index"] = len(canary.steps) if canary.steps else None
        for service in (canary.canary_service, canary.stable_service):
            if service:
                world.services[service] = ObservedService(name=service, selector=selected)
        if canary.traffic_routing is not None:
            world.router_weight = 0
            status["canary"] = {
                "weights": {
                    "canary": {"weight": 0, "pod_template_hash": PREVIOUS},
                    "stable": {"weight": canary.weight_total(), "pod_template_hash": PREVIOUS},
                }
            }
    elif blue_green is not None:
        for service in (blue_green.active_service, blue_green.preview_service):
            if service:
                world.services[service] = ObservedService(name=service, selector=selected)
        status["blue_green"] = {"active_selector": PREVIOUS, "preview_selector": PREVIOUS}
    return rollout.model_copy(update={"status": RolloutStatus.model_validate(status)})


def _promote(rollout: Rollout) -> Rollout | None:
    """What ``kubectl rollouts promote`` does to a Rollout waiting for a human; ``None``: not waiting."""
    status = rollout.status or RolloutStatus()
    if rollout.spec.paused:
        spec = rollout.spec.model_copy(update={"paused": False})
        return rollout.model_copy(update={"spec": spec})
    if status.pause_conditions:
        return rollout.model_copy(update={"status": status.model_copy(update={"pause_conditions": None})})
    return None


def simulate(
    rollout: Rollout,
    *,
    templates: Mapping[TemplateKey, AnalysisTemplateSpec] | None = None,
    analysis_templates: Sequence[Template] | None = None,
    experiment_templates: Sequence[Template] = (),
) -> Simulation:
    """Deliver the file's pod template with the engine, from a Healthy previous revision.

    ``templates`` give analyses their durations. ``analysis_templates`` are the templates the
    engine builds each AnalysisRun from (the Snapshot's ``templates``; ``None``: runs are not
    built); ``experiment_templates`` those an Experiment's analyses are built from, when they
    are among them. Raises :class:`~rollouts.engine.analysis_runs.AnalysisRunError` when the
    controller would refuse to start a run or an experiment.
    """
    world = _World(
        templates=templates or {},
        experiments=SimulatedExperiments(
            templates=templates or {}, analysis_templates=tuple(map(offline_template, experiment_templates))
        ),
    )
    current = _start(offline_rollout(rollout), world)
    run_templates = None if analysis_templates is None else tuple(map(offline_template, analysis_templates))
    desired = pod_template_hash(rollout.spec.pod_template)
    now, moments, manual, promoted_by_user = START, [], 0, False
    for _ in range(MAX_PASSES):
        world.finish_runs(now)
        snapshot = Snapshot(
            rollout=current,
            now=now,
            replica_sets=tuple(world.replica_sets.values()),
            services=tuple(world.services.values()),
            router_canary_weight=world.router_weight,
            router_routes=world.router_routes,
            analysis_runs=tuple(world.runs.values()),
            experiments=world.experiments.observed(),
            templates=run_templates,
        )
        plan = decide(snapshot)
        world.experiments.rollout = current
        for action in plan.actions:
            world.apply(action, now)
        moments.append(
            Moment(
                at=now - START,
                plan=plan,
                replica_sets=tuple(world.replica_sets.values()),
                router_weight=world.router_weight,
                promoted_by_user=promoted_by_user,
            )
        )
        promoted_by_user = False
        canary = rollout.spec.strategy.canary
        routing = canary.traffic_routing if canary is not None else None
        by_host = routing is not None and routing.istio is not None and routing.istio.destination_rule is None
        if (
            canary is not None
            and by_host
            and world.router_weight is not None
            and _swapped(current.status, plan.status)
        ):
            # By host the router reads the canary Service's weight: after a pingPong swap that is the
            # other Service. By subset the subsets keep their names, and so their weights.
            world.router_weight = canary.weight_total() - world.router_weight
        settled = not plan.actions and plan.status == current.status
        current = current.model_copy(update={"status": plan.status})
        if not settled:
            continue
        status = plan.status
        delivered = status.phase is RolloutPhase.HEALTHY and status.stable_rs == desired
        if delivered and (plan.wake_at is None or not world.runs_revision(PREVIOUS)):
            return Simulation(
                rollout=rollout,
                desired_hash=desired,
                moments=tuple(moments),
                manual_promotions=manual,
                experiments=dict(world.experiments.timings),
            )
        if status.phase is RolloutPhase.DEGRADED:
            reason = f"the rollout went Degraded: {status.message}"
            return _blocked(rollout, desired, moments, manual, reason, world)
        wake = min((t for t in (plan.wake_at, world.next_run_end(now)) if t is not None), default=None)
        if wake is not None:
            now = wake
            continue
        promoted = _promote(current)
        if promoted is None:
            reason = world.never_ending() or (
                f"the engine waits for something the plan cannot simulate ({status.message})"
            )
            return _blocked(rollout, desired, moments, manual, reason, world)
        current, manual, promoted_by_user = promoted, manual + 1, True
    return _blocked(rollout, desired, moments, manual, f"no end after {MAX_PASSES} engine passes", world)


def _swapped(before: RolloutStatus | None, after: RolloutStatus) -> bool:
    """The pingPong Services swapped roles in this pass."""

    def role(status: RolloutStatus | None) -> object:
        canary = status.canary if status is not None else None
        return canary.stable_ping_pong if canary is not None else None

    return role(before) is not None and role(before) != role(after)


def _blocked(
    rollout: Rollout, desired: str, moments: list[Moment], manual: int, reason: str, world: _World
) -> Simulation:
    return Simulation(
        rollout=rollout,
        desired_hash=desired,
        moments=tuple(moments),
        manual_promotions=manual,
        blocked=reason,
        experiments=dict(world.experiments.timings),
    )
