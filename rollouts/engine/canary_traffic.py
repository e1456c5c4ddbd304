"""Canary traffic: which revision each Service selects and what weight the router gives the canary.

The one safety rule: traffic only ever moves *onto* a ReplicaSet that is fully available at its
planned size (or, with ``replicaProgressThreshold``, has that much of it available: the
Service's endpoints hold only its ready pods). A Service is switched to a revision only then,
and a new canary weight is only planned then. While the canary grows for the next step, the
weight already in the router is held (its pods are still there); anything else falls back to
weight 0, all to stable. Moving traffic *away* (abort, new revision, promotion) needs no wait,
and the plan's stages put it before every scale-down; with ``dynamicStableScale`` it waits for
the stable's pods instead, while the canary still has its own. After an abort without a router
the canary Service, a plain Service clients call, goes back to the stable revision too, and so
does a canary Service whose revision this plan scales to zero pods (a ``setWeight: 0`` step, an
old canary replaced by a newer one). During a weighted experiment step the router's weight goes
to the experiment's traffic Service instead (``canary_experiment.experiment_traffic``), and back
to the canary Service once the step is over; the Services' selectors are not touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rollouts.api.traffic_routing import RolloutTrafficRouting
from rollouts.engine.canary_experiment import experiment_traffic
from rollouts.engine.plan import RestoreStableTraffic, SetWeight
from rollouts.engine.replicas import lowest_weight_stable_covers, weight_to_replicas
from rollouts.engine.revisions import (
    move_off_empty,
    point_service,
    point_service_back,
    selector_after_plan,
)
from rollouts.engine.shared_fields import SHARED_FIELD_REASON

if TYPE_CHECKING:
    from rollouts.engine.canary import Canary

__all__ = [
    "canary_reached",
    "canary_selected",
    "canary_serves",
    "describe_split",
    "enough_available",
    "point_service",
    "restore_old_routing",
    "route_traffic",
]  # point_service lives in revisions.py (both strategies)


def restore_old_routing(c: Canary) -> None:
    """When ``trafficRouting`` was removed or changed, send all traffic back to stable through the
    routing the status remembers, then remember the spec's (a removed router would otherwise keep
    its last weight: traffic to a canary that is about to be scaled away)."""
    ctx, old, new = c.ctx, c.ctx.draft.traffic_routing, c.spec.traffic_routing
    if old is not None and old != new:
        canary = c.spec.model_copy(update={"traffic_routing": old})
        strategy = ctx.rollout.spec.strategy.model_copy(update={"canary": canary})
        routed = ctx.rollout.model_copy(
            update={"spec": ctx.rollout.spec.model_copy(update={"strategy": strategy})}
        )
        ctx.plan.add(RestoreStableTraffic(routed=routed))
        what = "removed" if new is None else "changed"
        ctx.plan.event(
            "TrafficRoutingRestored",
            f"spec.strategy.canary.trafficRouting was {what}: all traffic sent back to stable through "
            f"the previous {_router_name(old)} routing",
        )
    ctx.draft.traffic_routing = new


def _router_name(routing: RolloutTrafficRouting) -> str:
    return ", ".join(routing.routers()) or "traffic"


def route_traffic(c: Canary) -> None:
    """Point the stable and canary Services, then set the router weight (when there is a router)."""
    ctx, spec, draft = c.ctx, c.spec, c.ctx.draft
    point_service(ctx, spec.stable_service, ctx.stable_rs)
    if not draft.abort:
        point_service(ctx, spec.canary_service, ctx.new_rs, reached=_reached_by_threshold(c))
    elif not c.routed:
        # Without a router the canary Service is a plain Service that clients call: after an
        # abort it follows the stable revision (as in Argo Rollouts) before the canary shrinks.
        point_service_back(ctx, spec.canary_service, ctx.stable_rs)
    move_off_empty(ctx, spec.canary_service, ctx.stable_rs)
    if not c.routed:
        draft.canary_weight = None
        return
    experiment = experiment_traffic(c)
    target = _target_weight(c) if experiment is None else experiment[1]
    service = None if experiment is None else experiment[0]
    held = ctx.snap.router_canary_service
    backend_right = held == service if service is not None else held in (None, spec.canary_service)
    if target != ctx.snap.router_canary_weight or not backend_right:
        weight = SetWeight(
            canary_weight=target,
            canary_hash=ctx.desired_hash,
            stable_hash=draft.stable_rs,
            canary_service=service,
        )
        ctx.plan.add(weight)
        split = describe_split(target, c.total)
        ctx.plan.event(
            "TrafficWeightUpdated",
            f"Canary weight set to {split}"
            if service is None
            else f"Experiment Service {service} gets {split}",
        )
        for shared in ctx.snap.shared:
            if shared.kind != "Service":  # the router's objects; a Service warns when it switches
                ctx.plan.event(SHARED_FIELD_REASON, shared.message, warning=True)
    draft.canary_weight = target


def describe_split(weight: int, total: int) -> str:
    """``20% (stable 80%)``; out of a ``maxTrafficWeight`` other than 100,
    ``5/1000 = 0.5% (stable 995/1000)``."""
    if total == 100:
        return f"{weight}% (stable {100 - weight}%)"
    return f"{weight}/{total} = {weight * 100 / total:g}% (stable {total - weight}/{total})"


def canary_selected(c: Canary) -> bool:
    """The canary Service (if any) selects the desired revision, as planned so far this pass."""
    name = c.spec.canary_service
    return not name or selector_after_plan(c.ctx, name) == c.ctx.desired_hash


def canary_serves(c: Canary, weight: int) -> bool:
    """The desired revision is routed and has the available pods for ``weight``."""
    new_rs = c.ctx.new_rs
    needed = weight_to_replicas(replicas=c.ctx.replicas, weight=weight, total=c.total)
    return new_rs is not None and canary_selected(c) and new_rs.available >= needed


def enough_available(c: Canary, size: int) -> int:
    """Available canary pods that count as reaching ``size``: all of them, or what
    ``replicaProgressThreshold`` asks (a percent rounded up, or a pod count), never more than
    ``size`` and at least one pod of a canary that has any."""
    threshold = c.spec.replica_progress_threshold
    if threshold is None or size == 0:
        return size
    if threshold.type == "Pod":
        return min(size, threshold.value)
    return max(1, -(-size * threshold.value // 100))


def canary_reached(c: Canary) -> bool:
    """The canary has its planned size and enough of it is available to take the step's weight."""
    new_rs, size = c.ctx.new_rs, c.ctx.size(c.ctx.new_rs)
    if new_rs is None or size == 0 or new_rs.replicas < size:
        return False
    return c.ctx.available(new_rs) or new_rs.available >= enough_available(c, size)


def _reached_by_threshold(c: Canary) -> bool:
    return c.spec.replica_progress_threshold is not None and canary_reached(c)


def _target_weight(c: Canary) -> int:
    return _within_stable_capacity(c, _wanted_weight(c))


def _wanted_weight(c: Canary) -> int:
    ctx = c.ctx
    if c.promoted or ctx.draft.abort:
        return 0
    new_rs = ctx.new_rs
    if new_rs is None or not canary_selected(c):
        return 0
    weight = c.weight_in_force()
    if ctx.available(new_rs) or _reached_by_threshold(c):
        return weight
    held = ctx.snap.router_canary_weight
    if held is not None and 0 < held <= weight and new_rs.available > 0:
        return held  # the canary is growing for the next step; keep what its pods already serve
    return 0


def _within_stable_capacity(c: Canary, target: int) -> int:
    """With ``dynamicStableScale`` the stable may be smaller than all traffic needs: traffic moves
    back to it only as fast as its pods become available, while the canary still has the pods
    for the rest. A canary that cannot serve its share (replaced by a newer revision, pods lost)
    gives it up at once: no traffic to pods that are not there."""
    ctx = c.ctx
    routed = ctx.snap.router_canary_weight or 0
    if not c.spec.dynamic_stable_scale or c.promoted or target >= routed:
        return target
    stable = ctx.stable_rs
    floor = lowest_weight_stable_covers(
        replicas=ctx.replicas, stable_available=0 if stable is None else stable.available, total=c.total
    )
    held = min(routed, max(target, floor))
    return held if canary_serves(c, held) else target
