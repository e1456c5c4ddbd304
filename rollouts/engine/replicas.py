"""Replica arithmetic: how many pods each ReplicaSet should have right now.

Pure functions over plain integers, so every rule is checked by table tests in milliseconds and the
step machines (``canary.py``, ``bluegreen.py``) only decide *which* weight applies, never *how* it
becomes pod counts.

Three regimes:

* **Canary with traffic routing**: the router, not the pod ratio, splits traffic, so the stable
  ReplicaSet stays at full size (it must be able to take 100% back at any moment) and the canary
  is sized from the weight, rounded up, or from ``setCanaryScale``.
* **Canary without traffic routing** ("basic canary"): the Service spreads requests over all pods,
  so the pod ratio *is* the traffic split. The counts follow Argo Rollouts' rules exactly, so a
  migrated Rollout shows the same pod counts at every step: the split closest to the weight among
  totals of ``replicas`` and (when surge is allowed) ``replicas + 1``; a weight of 1..99 never
  leaves either side at zero pods when there is room for both; and every move stays within
  ``maxSurge`` (pods above ``replicas``) and ``maxUnavailable`` (available pods below
  ``replicas``), with older ReplicaSets drained before the canary or stable shrink. One
  deliberate difference at weight 100 before promotion: the stable keeps its last pod
  (:func:`split_keeping_a_stable_pod`), because the stable Service still selects it.
* **Blue-green**: the new ReplicaSet runs ``previewReplicaCount`` pods until promotion, then full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from rollouts.api.common import scaled_value

__all__ = [
    "DEFAULT_MAX_SURGE",
    "DEFAULT_MAX_UNAVAILABLE",
    "CanarySplit",
    "ReplicaSetCounts",
    "basic_canary_counts",
    "bluegreen_new_replicas",
    "closest_canary_split",
    "dynamic_stable_replicas",
    "lowest_weight_stable_covers",
    "old_replicaset_targets",
    "resolve_int_or_percent",
    "resolve_surge_and_unavailable",
    "split_keeping_a_stable_pod",
    "traffic_routed_canary_counts",
    "weight_to_replicas",
]

IntOrPercent = int | str

DEFAULT_MAX_SURGE: Final = "25%"
"""Argo Rollouts' (and Deployments') default for ``maxSurge``."""
DEFAULT_MAX_UNAVAILABLE: Final = "25%"
"""Argo Rollouts' (and Deployments') default for ``maxUnavailable``."""


@dataclass(frozen=True, slots=True)
class ReplicaSetCounts:
    """What the cluster says about one ReplicaSet: its desired size and its available pods."""

    spec_replicas: int
    available_replicas: int


@dataclass(frozen=True, slots=True)
class CanarySplit:
    """Target pod counts for the canary (new) and stable ReplicaSets."""

    canary: int
    stable: int


resolve_int_or_percent = scaled_value
"""``3`` or ``"25%"`` as a pod count against ``total``: the API's :func:`scaled_value`, one rule."""


def resolve_surge_and_unavailable(
    *, replicas: int, max_surge: IntOrPercent | None, max_unavailable: IntOrPercent | None
) -> tuple[int, int]:
    """Resolve ``maxSurge``/``maxUnavailable`` to pod counts for a canary of ``replicas`` pods.

    ``None`` means the 25%/25% default. When both resolve to zero (possible after rounding
    ``maxUnavailable`` down, e.g. ``"10%"`` of 5), unavailability becomes 1 so the rollout can
    still move, as Deployments do. Unavailability never exceeds ``replicas`` and is 0 for a
    Rollout scaled to zero.
    """
    surge = scaled_value(DEFAULT_MAX_SURGE if max_surge is None else max_surge, total=replicas, round_up=True)
    unavailable = scaled_value(
        DEFAULT_MAX_UNAVAILABLE if max_unavailable is None else max_unavailable,
        total=replicas,
        round_up=False,
    )
    if surge == 0 and unavailable == 0:
        unavailable = 1
    if replicas == 0:
        unavailable = 0
    return surge, min(unavailable, replicas)


def weight_to_replicas(*, replicas: int, weight: int, total: int = 100) -> int:
    """Pods needed to serve ``weight`` (out of ``total``, the router's total weight; percent by
    default) of traffic, rounded up (a 1% canary gets a pod)."""
    return -(-replicas * weight // total)


def traffic_routed_canary_counts(
    *,
    replicas: int,
    weight: int,
    canary_scale_replicas: int | None = None,
    canary_scale_weight: int | None = None,
    min_pods: int | None = None,
    total: int = 100,
) -> CanarySplit:
    """Canary and stable sizes when a traffic router splits the requests.

    ``weight`` is the current ``setWeight``. ``canary_scale_replicas``/``canary_scale_weight``
    come from the ``setCanaryScale`` step in force (the step machine decides which one is, and
    passes neither for ``matchTrafficWeight``, after an abort, or on full promotion); an explicit
    replica count wins over a weight. The stable keeps every pod: traffic can return to it at once.
    ``min_pods`` (``minPodsPerReplicaSet``) raises a canary sized from a weight above zero to at
    least that many pods, so a canary taking traffic survives losing one; an explicit
    ``setCanaryScale.replicas`` is taken as written. Weights count out of ``total``
    (``maxTrafficWeight``).
    """
    if canary_scale_replicas is not None:
        return CanarySplit(canary=canary_scale_replicas, stable=replicas)
    by_weight = weight if canary_scale_weight is None else canary_scale_weight
    canary = weight_to_replicas(replicas=replicas, weight=by_weight, total=total)
    if min_pods is not None and by_weight > 0:
        canary = max(canary, min_pods)
    return CanarySplit(canary=canary, stable=replicas)


def dynamic_stable_replicas(
    *, replicas: int, canary_weight: int, min_pods: int | None = None, total: int = 100
) -> int:
    """Stable pods for ``dynamicStableScale``: enough for the traffic left to it (``total -
    canary_weight``, rounded up), never fewer than ``min_pods`` (``minPodsPerReplicaSet``)
    nor than one: the stable Service selects the stable revision until promotion, and a Service must
    never select a revision without pods."""
    needed = weight_to_replicas(replicas=replicas, weight=total - canary_weight, total=total)
    return min(replicas, max(needed, min_pods or 1))


def lowest_weight_stable_covers(*, replicas: int, stable_available: int, total: int = 100) -> int:
    """The lowest canary weight whose stable share ``stable_available`` pods can serve: traffic
    moves back to a dynamically scaled stable only as fast as its pods become available."""
    if replicas <= 0:
        return 0
    return max(0, total - stable_available * total // replicas)


def _floor_and_ceiling_tie(*, weight: int, total: int) -> bool:
    """True when ``total * weight%`` lies exactly half-way between two pod counts."""
    return (total * weight) % 100 == 50


def closest_canary_split(*, replicas: int, weight: int, max_surge: int) -> CanarySplit:
    """The canary/stable pod counts whose ratio best approximates ``weight`` percent.

    Candidates are the canary count rounded down and up, over a total of ``replicas`` and, when
    ``max_surge > 0``, ``replicas + 1``. The first candidate with the smallest distance from the
    weight wins; when rounding down and up are equally close, only the larger canary is offered.
    For weights 1..99 a zero canary is not offered (nor a zero stable, through the rounding-up
    candidate), unless the rollout has a single pod and no surge room, where no split exists.
    """
    if replicas == 0:
        return CanarySplit(canary=0, stable=0)
    ceiling = -(-replicas * weight // 100)
    floor = replicas * weight // 100
    zero_allowed = weight in (0, 100) or (replicas == 1 and max_surge == 0)

    candidates: list[tuple[int, int]] = []
    if ceiling < replicas or zero_allowed:
        candidates.append((ceiling, replicas))
    # On a tie only the larger canary is offered, unless it is not (it would leave no stable pod:
    # 2 pods at 75% without surge). Argo Rollouts then falls back to no canary at all, a 75%
    # step with 0% of the pods; the floor (1 of 2) is the closest split with both sides.
    tied = _floor_and_ceiling_tie(weight=weight, total=replicas) and bool(candidates)
    if not tied and (floor != 0 or zero_allowed):
        candidates.append((floor, replicas))
    if max_surge > 0:
        candidates.append((ceiling, replicas + 1))
        tied = _floor_and_ceiling_tie(weight=weight, total=replicas + 1)
        if not tied and (floor != 0 or zero_allowed):
            candidates.append((floor, replicas + 1))
    if not candidates:  # unreachable for 0 <= weight <= 100; kept as a safe answer
        return CanarySplit(canary=0, stable=replicas)

    def distance(candidate: tuple[int, int]) -> float:
        canary, total = candidate
        return abs(canary * 100 / total - weight)

    best = candidates[0]
    for candidate in candidates[1:]:
        if distance(candidate) < distance(best):
            best = candidate
    return CanarySplit(canary=best[0], stable=best[1] - best[0])


def split_keeping_a_stable_pod(
    *, replicas: int, weight: int, max_surge: int, stable_replicas: int
) -> CanarySplit:
    """:func:`closest_canary_split`, except that a stable which still has a pod keeps one.

    Until promotion switches the stable Service to the new revision, that Service selects the
    stable revision; scaling it to zero pods first would leave it selecting nothing (traffic to
    pods that do not exist) for as long as the canary takes to become fully available. So where
    the closest split leaves no stable pod (weight 100), the stable keeps one and the canary gets
    the most pods that fit beside it within ``max_surge``: ``replicas`` when surge is allowed,
    ``replicas - 1`` without. Weights 1..99 are untouched (their closest split already keeps a
    stable pod whenever one can be kept). A stable already at zero is not grown back. A single
    pod without surge room has no split with both sides: there the closest split stands, and the
    only pod must go before its replacement can come up (``maxUnavailable`` is then 100%).
    """
    split = closest_canary_split(replicas=replicas, weight=weight, max_surge=max_surge)
    beside_one_stable = replicas + max_surge - 1
    if split.stable > 0 or stable_replicas == 0 or beside_one_stable < 1:
        return split
    return CanarySplit(canary=min(split.canary, beside_one_stable), stable=1)


def _scale_down_basis(rs: ReplicaSetCounts | None, *, ignore_availability: bool) -> int:
    """Pods of ``rs`` to count as available when working out how far others may shrink.

    A ReplicaSet already shrinking (spec below available) counts only its spec: the surplus pods
    are about to go. The side that is growing counts its spec even if its pods are not ready yet
    (a crash-looping side must not block shrinking the other one forever).
    """
    if rs is None:
        return 0
    if rs.spec_replicas < rs.available_replicas or ignore_availability:
        return rs.spec_replicas
    return rs.available_replicas


def _fit_within_limits(
    *,
    drain: ReplicaSetCounts | None,
    drain_target: int,
    adjust: ReplicaSetCounts | None,
    adjust_target: int,
    max_total: int,
    min_available: int,
) -> tuple[int, int]:
    """Trim the side being shrunk (``adjust``) and the side being drained so the pod total fits
    under ``max_total`` without the available pods falling below ``min_available``.
    """
    if adjust is None:
        return drain_target, adjust_target
    over = max(0, adjust_target + drain_target - max_total)
    available = 0 if drain is None else min(drain.available_replicas, drain_target)
    adjust_target -= over
    available += min(adjust.available_replicas, adjust_target)
    lost = max(0, adjust.available_replicas - adjust_target)
    missing = max(0, min_available - available)
    adjust_target += min(lost, missing)
    drain_target -= max(0, adjust_target + drain_target - max_total)
    return drain_target, adjust_target


def basic_canary_counts(
    *,
    replicas: int,
    weight: int,
    max_surge: IntOrPercent | None,
    max_unavailable: IntOrPercent | None,
    canary: ReplicaSetCounts | None,
    stable: ReplicaSetCounts | None,
    older: Sequence[ReplicaSetCounts] = (),
    keep_stable_pod: bool = False,
) -> CanarySplit:
    """Next canary and stable sizes for a canary without traffic routing.

    Moves from the observed sizes toward :func:`closest_canary_split` as far as the limits allow:
    growth uses the surge room (stable first, so capacity returns before the canary takes more);
    shrinking uses the availability room and waits while ``older`` ReplicaSets still hold pods
    (those go first, via :func:`old_replicaset_targets`). Pass ``stable=None`` when there is no
    stable ReplicaSet or it is the canary itself: then the canary is simply driven to full size.
    ``weight`` is the weight in force (100 on full promotion, 0 after an abort).
    ``keep_stable_pod`` aims at :func:`split_keeping_a_stable_pod` instead of the closest split:
    the step machine asks for it until promotion, so the stable Service never selects a revision
    scaled to zero (without it, the counts are exactly Argo Rollouts').
    """
    surge, unavailable = resolve_surge_and_unavailable(
        replicas=replicas, max_surge=max_surge, max_unavailable=max_unavailable
    )
    if keep_stable_pod and stable is not None:
        desired = split_keeping_a_stable_pod(
            replicas=replicas, weight=weight, max_surge=surge, stable_replicas=stable.spec_replicas
        )
    else:
        desired = closest_canary_split(replicas=replicas, weight=weight, max_surge=surge)
    want_canary, want_stable = desired.canary, desired.stable
    if stable is None:
        want_canary, want_stable = replicas, 0
    canary_target = 0 if canary is None else canary.spec_replicas
    stable_target = 0 if stable is None else stable.spec_replicas

    max_total = replicas + surge
    current_total = sum(rs.spec_replicas for rs in older) + canary_target + stable_target
    room = max_total - current_total
    if stable is not None and stable.spec_replicas < want_stable and room > 0:
        grow = min(room, want_stable - stable.spec_replicas)
        stable_target = stable.spec_replicas + grow
        room -= grow
    if canary is not None and canary.spec_replicas < want_canary and room > 0:
        canary_target = canary.spec_replicas + min(room, want_canary - canary.spec_replicas)

    if sum(rs.spec_replicas for rs in older) > 0:
        return CanarySplit(canary=canary_target, stable=stable_target)

    min_available = replicas - unavailable
    increasing = canary is None or want_canary >= canary.spec_replicas
    counted = _scale_down_basis(canary, ignore_availability=not increasing) + _scale_down_basis(
        stable, ignore_availability=increasing
    )
    if counted <= min_available:
        return CanarySplit(canary=canary_target, stable=stable_target)
    shrink = counted - min_available
    if not increasing:
        if canary is not None and canary.spec_replicas > want_canary:
            canary_target = max(want_canary, canary.spec_replicas - shrink)
        canary_target, stable_target = _fit_within_limits(
            drain=canary,
            drain_target=canary_target,
            adjust=stable,
            adjust_target=stable_target,
            max_total=max_total,
            min_available=min_available,
        )
    elif stable is not None:
        if stable.spec_replicas > want_stable:
            stable_target = max(want_stable, stable.spec_replicas - shrink)
        stable_target, canary_target = _fit_within_limits(
            drain=stable,
            drain_target=stable_target,
            adjust=canary,
            adjust_target=canary_target,
            max_total=max_total,
            min_available=min_available,
        )
    return CanarySplit(canary=canary_target, stable=stable_target)


def old_replicaset_targets(
    *,
    replicas: int,
    max_surge: IntOrPercent | None,
    max_unavailable: IntOrPercent | None,
    total_available: int,
    older: Sequence[ReplicaSetCounts],
) -> tuple[int, ...]:
    """Target sizes for ReplicaSets that are neither canary nor stable, in the order given.

    Unavailable pods of an old ReplicaSet go first and freely (removing them costs no
    availability, and they would otherwise block the rollout). Then available pods go while
    ``total_available`` (over *all* the Rollout's ReplicaSets) stays at or above
    ``replicas - maxUnavailable``. The caller orders ``older`` (e.g. newest revision first).
    """
    _, unavailable = resolve_surge_and_unavailable(
        replicas=replicas, max_surge=max_surge, max_unavailable=max_unavailable
    )
    budget = max(0, total_available - (replicas - unavailable))
    targets = []
    for rs in older:
        target = min(rs.spec_replicas, rs.available_replicas)
        step = min(budget, target)
        budget -= step
        targets.append(target - step)
    return tuple(targets)


def bluegreen_new_replicas(*, replicas: int, preview_replica_count: int | None, promoted: bool) -> int:
    """Size of the new (preview) ReplicaSet in a blue-green rollout.

    Before promotion it runs ``previewReplicaCount`` pods when set (a cheap preview of a big
    service), never more than ``replicas``; once promoted, or when no preview count is set, it
    runs at full size so the switch of the active Service never lands on a smaller fleet.
    """
    if promoted or preview_replica_count is None:
        return replicas
    return min(preview_replica_count, replicas)
