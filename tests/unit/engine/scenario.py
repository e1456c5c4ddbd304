"""Builders for engine scenarios: a Rollout, its observed cluster, and ``now``, in a few lines.

A scenario test writes only what differs from a quiet cluster; everything else has a default.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.api.enums import AnalysisPhase
from rollouts.api.rollout import Rollout
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL, pod_template_hash
from rollouts.engine.plan import Action, Plan
from rollouts.engine.snapshot import (
    AnalysisRunKind,
    ObservedAnalysisRun,
    ObservedExperiment,
    ObservedReplicaSet,
    ObservedService,
    Snapshot,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def template(image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }


def hash_of(image: str) -> str:
    return pod_template_hash(template(image))


V1, V2, V3 = hash_of("web:1"), hash_of("web:2"), hash_of("web:3")


def mid(index: int, **status: Any) -> dict[str, Any]:
    """Status of a canary from V1 to V2 at step ``index``."""
    return {"currentPodHash": V2, "stableRS": V1, "currentStepIndex": index, **status}


def step_run(
    name: str, phase: AnalysisPhase, kind: AnalysisRunKind = AnalysisRunKind.STEP, step: int | None = 1
) -> ObservedAnalysisRun:
    """An AnalysisRun of revision V2 as the cluster shows it (its message names a failing metric)."""
    return ObservedAnalysisRun(
        name=name, kind=kind, phase=phase, pod_template_hash=V2, step_index=step, message="err rate 9%"
    )


def canary_rollout(
    *,
    image: str = "web:2",
    replicas: int = 10,
    steps: list[dict[str, Any]] | None = None,
    routed: bool = True,
    status: dict[str, Any] | None = None,
    **canary: Any,
) -> Rollout:
    strategy: dict[str, Any] = {"canaryService": "web-canary", "stableService": "web-stable"}
    if routed:
        strategy["trafficRouting"] = {"nginx": {"stableIngress": "web"}}
    strategy["steps"] = steps if steps is not None else [{"setWeight": 20}, {"pause": {}}]
    strategy.update(canary)
    return _rollout(image=image, replicas=replicas, strategy={"canary": strategy}, status=status)


def bluegreen_rollout(
    *,
    image: str = "web:2",
    replicas: int = 3,
    status: dict[str, Any] | None = None,
    **blue_green: Any,
) -> Rollout:
    strategy = {"activeService": "web-active", "previewService": "web-preview", **blue_green}
    return _rollout(image=image, replicas=replicas, strategy={"blueGreen": strategy}, status=status)


def _rollout(
    *, image: str, replicas: int, strategy: dict[str, Any], status: dict[str, Any] | None, **spec: Any
) -> Rollout:
    body: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "default", "generation": 2},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(image),
            "strategy": strategy,
            **spec,
        },
    }
    if status is not None:
        body["status"] = status
    return Rollout.model_validate(body)


def with_spec(rollout: Rollout, **changes: Any) -> Rollout:
    """The same Rollout with some spec fields changed (snake_case names)."""
    return rollout.model_copy(update={"spec": rollout.spec.model_copy(update=changes)})


def rs(
    pod_hash: str,
    replicas: int,
    *,
    available: int | None = None,
    revision: int = 1,
    deadline: datetime | None = None,
    created: datetime | None = None,
) -> ObservedReplicaSet:
    ready = replicas if available is None else available
    return ObservedReplicaSet(
        name=f"web-{pod_hash}",
        pod_template_hash=pod_hash,
        replicas=replicas,
        revision=revision,
        created=created or T0 - timedelta(hours=100 - revision),
        ready=ready,
        available=ready,
        scale_down_deadline=None if deadline is None else deadline.isoformat(),
    )


def svc(name: str, pod_hash: str | None) -> ObservedService:
    selector = {"app": "web"}
    if pod_hash is not None:
        selector[POD_TEMPLATE_HASH_LABEL] = pod_hash
    return ObservedService(name=name, selector=selector)


SERVICES_V1 = (svc("web-stable", V1), svc("web-canary", V1))
SERVICES_V2 = (svc("web-stable", V1), svc("web-canary", V2))
CANARY_AT_20: dict[str, Any] = {
    "replica_sets": (rs(V1, 10), rs(V2, 2, revision=2)),
    "services": SERVICES_V2,
    "router_canary_weight": 20,
}
"""The cluster of a V1 -> V2 canary of 10 pods serving 20%: ``snapshot(ro, **CANARY_AT_20)``."""


def snapshot(rollout: Rollout, *, now: datetime = T0, **observed: Any) -> Snapshot:
    return Snapshot(rollout=rollout, now=now, **observed)


def kinds(plan: Plan) -> list[str]:
    return [type(action).__name__ for action in plan.actions]


def of_type(plan: Plan, kind: type[Any]) -> list[Any]:
    return [action for action in plan.actions if isinstance(action, kind)]


def first_index(plan: Plan, kind: type[Action]) -> int:
    return next(i for i, action in enumerate(plan.actions) if isinstance(action, kind))


def apply(snap: Snapshot, plan: Plan, *, after: float = 1.0, ready: bool = True) -> Snapshot:
    """The next snapshot of a simulated cluster that carried out ``plan`` (pods ready at once).

    The status written is the plan's; ``ready=False`` leaves new pods unavailable.
    """
    from dataclasses import replace

    from rollouts.engine.plan import (
        AnnotateScaleDownDeadline,
        CreateAnalysisRun,
        CreateExperiment,
        CreateReplicaSet,
        DeleteReplicaSet,
        ScaleReplicaSet,
        SetRoutes,
        SetWeight,
        SwitchServiceSelector,
        TerminateExperiment,
    )

    replica_sets = {r.name: r for r in snap.replica_sets}
    services = {s.name: s for s in snap.services}
    weight, routes = snap.router_canary_weight, snap.router_routes
    runs = list(snap.analysis_runs)
    experiments = {e.name: e for e in snap.experiments}
    for action in plan.actions:
        match action:
            case CreateReplicaSet():
                replica_sets[action.name] = ObservedReplicaSet(
                    name=action.name,
                    pod_template_hash=action.pod_template_hash,
                    replicas=action.replicas,
                    revision=action.revision,
                    created=snap.now,
                )
            case ScaleReplicaSet():
                replica_sets[action.name] = replace(replica_sets[action.name], replicas=action.replicas)
            case AnnotateScaleDownDeadline():
                value = None if action.deadline is None else action.deadline.isoformat()
                replica_sets[action.name] = replace(replica_sets[action.name], scale_down_deadline=value)
            case DeleteReplicaSet():
                replica_sets.pop(action.name)
            case SetWeight():
                weight = action.canary_weight
            case SetRoutes():
                routes = action.routes
            case SwitchServiceSelector():
                services[action.service] = svc(action.service, action.pod_template_hash)
            case CreateAnalysisRun():
                runs.append(
                    ObservedAnalysisRun(
                        name=action.name,
                        kind=action.kind,
                        phase=AnalysisPhase.RUNNING,
                        pod_template_hash=action.pod_template_hash,
                        step_index=action.step_index,
                    )
                )
            case CreateExperiment():
                experiments[action.name] = ObservedExperiment(
                    name=action.name,
                    pod_template_hash=action.pod_template_hash,
                    step_index=action.step_index,
                    phase=AnalysisPhase.RUNNING,
                )
            case TerminateExperiment():
                experiments[action.name] = replace(experiments[action.name], terminating=True)
            case _:
                pass
    settled = {}
    for name, r in replica_sets.items():
        if ready:
            r = replace(r, ready=r.replicas, available=r.replicas, pods=r.replicas)
        else:
            r = replace(r, ready=min(r.ready, r.replicas), available=min(r.available, r.replicas))
        settled[name] = r
    rollout = snap.rollout.model_copy(update={"status": plan.status})
    return Snapshot(
        rollout=rollout,
        now=snap.now + timedelta(seconds=after),
        replica_sets=tuple(settled.values()),
        services=tuple(services.values()),
        router_canary_weight=weight,
        router_routes=routes,
        analysis_runs=tuple(runs),
        experiments=tuple(experiments.values()),
        pods=snap.pods,
    )
