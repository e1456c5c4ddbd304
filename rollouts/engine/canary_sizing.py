"""Canary sizing: how many pods the canary and stable ReplicaSets get at the current step.

The step machine says *which* weight is in force (``Canary.weight_in_force``); this module turns
it into replica counts through the arithmetic of ``replicas.py``, and says when the counts are
reached (a ``setWeight`` or ``setCanaryScale`` step completes only then).

* With traffic routing the canary is sized from the weight (or the ``setCanaryScale`` in force)
  and the stable stays at full size, ready to take all traffic back at once; with
  ``dynamicStableScale`` the stable instead keeps the pods for its share (:func:`stable_size`).
* Without traffic routing the pod ratio is the traffic split, moved within ``maxSurge`` and
  ``maxUnavailable``, older ReplicaSets drained first. Until promotion the stable keeps at least
  one pod (weight 100 included): the stable Service selects it, so it must never select a
  revision scaled to zero. Promotion happens once the canary runs fully available at
  :func:`promotion_size` beside that pod; only then does the old stable go to zero.
* Once the desired revision is stable it runs at full size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rollouts.engine.canary_traffic import canary_serves, enough_available
from rollouts.engine.replicas import (
    CanarySplit,
    ReplicaSetCounts,
    basic_canary_counts,
    dynamic_stable_replicas,
    old_replicaset_targets,
    resolve_surge_and_unavailable,
    split_keeping_a_stable_pod,
    traffic_routed_canary_counts,
)
from rollouts.engine.snapshot import ObservedReplicaSet

if TYPE_CHECKING:
    from rollouts.engine.canary import Canary

__all__ = [
    "at_desired_counts",
    "basic_split",
    "desired_canary_size",
    "promotion_size",
    "size_basic",
    "size_replica_sets",
    "stable_size",
    "surge_and_unavailable",
]


def surge_and_unavailable(c: Canary) -> tuple[int, int]:
    """``maxSurge`` and ``maxUnavailable`` as pod counts for this Rollout's size."""
    return resolve_surge_and_unavailable(
        replicas=c.ctx.replicas, max_surge=c.spec.max_surge, max_unavailable=c.spec.max_unavailable
    )


def desired_canary_size(c: Canary) -> int:
    """Pods the canary should have at the current step once the move is finished."""
    replicas = c.ctx.replicas
    if c.promoted:
        return replicas
    if c.routed:
        scale_replicas, scale_weight = _canary_scale_in_force(c)
        split = traffic_routed_canary_counts(
            replicas=replicas,
            weight=c.weight_in_force(),
            canary_scale_replicas=scale_replicas,
            canary_scale_weight=scale_weight,
            min_pods=c.spec.min_pods_per_replica_set,
            total=c.total,
        )
        if scale_replicas is not None:
            return split.canary
        return min(split.canary, max(replicas, c.spec.min_pods_per_replica_set or 0))
    return basic_split(c).canary


def basic_split(c: Canary) -> CanarySplit:
    """Without traffic routing: the canary/stable pod counts the current step aims at.

    Argo Rollouts' closest split for the weight in force, except that a stable which still has
    pods keeps one until promotion (:func:`split_keeping_a_stable_pod`).
    """
    ctx = c.ctx
    surge, _ = surge_and_unavailable(c)
    stable = ctx.stable_rs if ctx.stable_rs is not ctx.new_rs else None
    return split_keeping_a_stable_pod(
        replicas=ctx.replicas,
        weight=c.weight_in_force(),
        max_surge=surge,
        stable_replicas=0 if stable is None else stable.replicas,
    )


def promotion_size(c: Canary) -> int:
    """Pods the canary must run, all available, before it is promoted once every step is done.

    With traffic routing: every replica (the router then moves all traffic at once). Without:
    the most that fit beside the stable's last pod (:func:`basic_split` at weight 100), so the
    stable Service is switched to the canary while the old stable still has a pod, and the old
    stable goes to zero only after the switch.
    """
    if c.routed:
        return c.ctx.replicas
    return basic_split(c).canary


def size_replica_sets(c: Canary) -> None:
    """Plan the canary and stable sizes for the weight in force (creating the canary if needed)."""
    ctx = c.ctx
    if c.routed or (c.promoted and ctx.stable_rs is ctx.new_rs and not ctx.older):
        size = desired_canary_size(c)
        new_rs = ctx.ensure_new_rs(replicas=size)
        ctx.scale(new_rs, size)
        if not c.promoted:
            ctx.scale(ctx.stable_rs, stable_size(c))
        return
    size_basic(c, weight=100 if c.promoted else c.weight_in_force())


def size_basic(c: Canary, *, weight: int) -> None:
    """Without a router the pod ratio is the traffic split: move it within maxSurge/maxUnavailable."""
    ctx = c.ctx
    separate_stable = ctx.stable_rs if ctx.stable_rs is not ctx.new_rs else None
    split = basic_canary_counts(
        replicas=ctx.replicas,
        weight=weight,
        max_surge=c.spec.max_surge,
        max_unavailable=c.spec.max_unavailable,
        canary=_counts(ctx.new_rs),
        stable=None if separate_stable is None else _counts(separate_stable),
        older=[_counts(rs) for rs in ctx.older],
        keep_stable_pod=True,
    )
    new_rs = ctx.ensure_new_rs(replicas=split.canary)
    ctx.scale(new_rs, split.canary)
    ctx.scale(separate_stable, split.stable)
    total_available = sum(rs.available for rs in ctx.snap.replica_sets)
    targets = old_replicaset_targets(
        replicas=ctx.replicas,
        max_surge=c.spec.max_surge,
        max_unavailable=c.spec.max_unavailable,
        total_available=total_available,
        older=[_counts(rs) for rs in ctx.older],
    )
    for rs, target in zip(ctx.older, targets, strict=True):
        ctx.scale(rs, min(target, ctx.size(rs)))


def stable_size(c: Canary) -> int:
    """Pods the stable runs with traffic routing until promotion: all of them, so traffic can go
    back at once; with ``dynamicStableScale``, enough for the share of traffic it keeps.

    That share is reckoned from the canary weight the router *shows* (the lower of it and the
    weight in force), so the stable shrinks only after the router moved the traffic, and grows
    before a lower weight is set. A canary that cannot serve the weight it holds (its pods lost, or
    a newer revision replacing it) is about to give its traffic back: the stable grows to full.
    """
    replicas = c.ctx.replicas
    if not c.spec.dynamic_stable_scale or c.ctx.draft.abort:
        return replicas
    share = min(c.ctx.snap.router_canary_weight or 0, c.weight_in_force())
    if not canary_serves(c, share):
        share = 0
    return dynamic_stable_replicas(
        replicas=replicas, canary_weight=share, min_pods=c.spec.min_pods_per_replica_set, total=c.total
    )


def at_desired_counts(c: Canary) -> bool:
    """Every ReplicaSet at its target size for this step, with all of those pods available."""
    ctx, size = c.ctx, desired_canary_size(c)
    new_rs = ctx.new_rs
    if new_rs is None or new_rs.replicas != size or new_rs.available < enough_available(c, size):
        return False
    stable = ctx.stable_rs if ctx.stable_rs is not new_rs else None
    if c.routed:
        if stable is None:
            return True
        want = ctx.size(stable)  # a dynamically scaled stable must also have shrunk to it
        return stable.available >= want and (stable.replicas == want or not c.spec.dynamic_stable_scale)
    want_stable = basic_split(c).stable
    if stable is not None and (stable.replicas != want_stable or stable.available < want_stable):
        return False
    return all(rs.replicas == 0 for rs in ctx.older)


def _canary_scale_in_force(c: Canary) -> tuple[int | None, int | None]:
    """``setCanaryScale`` replicas/weight in force at the current step (none after matchTrafficWeight)."""
    if c.index >= len(c.steps) or c.ctx.draft.promote_full:
        return None, None
    for step in reversed(c.steps[: c.index + 1]):
        scale = step.set_canary_scale
        if scale is not None:
            if scale.match_traffic_weight:
                return None, None
            return scale.replicas, scale.weight
    return None, None


def _counts(rs: ObservedReplicaSet | None) -> ReplicaSetCounts:
    if rs is None:
        return ReplicaSetCounts(spec_replicas=0, available_replicas=0)
    return ReplicaSetCounts(spec_replicas=rs.replicas, available_replicas=rs.available)
