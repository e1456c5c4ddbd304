"""Rules about ReplicaSets that both strategies share: Services, retiring old revisions, history,
restarts.

* A Service is pointed at a revision only once that ReplicaSet is fully available; one moved
  *back* to the stable revision after an abort goes as soon as the stable has an available pod.
* No ReplicaSet is scaled to zero while a Service of the strategy still selects it.
* An old ReplicaSet (neither the desired revision nor the stable one) is scaled to zero once
  nothing routes traffic to it. One that carries a scale-down deadline (the previous stable or
  active, kept warm for ``scaleDownDelaySeconds`` so a quick rollback is instant) waits for it.
* Beyond ``revisionHistoryLimit``, the oldest empty ReplicaSets are deleted.
* The stable ReplicaSet drops the ``antiAffinity`` term it was created with.
* A new template that is one of the ``rollbackWindow.revisions`` revisions before the stable one
  (its ReplicaSet still kept) is a rollback: it is promoted at once (``promote_within_window``).
* ``spec.restartAt`` restarts pods created before it, a few at a time, only while every
  ReplicaSet is fully available and no pod is already terminating.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

from rollouts.engine.context import PassContext, pod_metadata_key
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.plan import (
    AnnotateScaleDownDeadline,
    DeleteReplicaSet,
    RemoveAntiAffinity,
    RestartPod,
    SetPodMetadata,
    SetWeight,
    SwitchServiceSelector,
)
from rollouts.engine.shared_fields import SHARED_FIELD_REASON
from rollouts.engine.snapshot import ObservedReplicaSet

__all__ = [
    "delete_beyond_history",
    "drop_stable_anti_affinity",
    "keep_for",
    "move_off_empty",
    "point_service",
    "point_service_back",
    "promote_within_window",
    "restart_pods",
    "retire_old",
    "revision_selector",
    "selected_by_any",
    "selector_after_plan",
    "serves_traffic",
    "sync_pod_metadata",
    "weight_after_plan",
]


def selector_after_plan(ctx: PassContext, service: str | None) -> str | None:
    """The revision ``service`` selects once this plan is applied (``None``: unknown or none)."""
    if not service:
        return None
    selected: str | None = None
    observed = ctx.snap.service(service)
    if observed is not None:
        selected = observed.pod_template_hash
    for action in ctx.plan.planned():
        if isinstance(action, SwitchServiceSelector) and action.service == service:
            selected = action.pod_template_hash
    return selected


def weight_after_plan(ctx: PassContext) -> int | None:
    """The canary weight in the router once this plan is applied (``None`` when unknown)."""
    weight = ctx.snap.router_canary_weight
    for action in ctx.plan.planned():
        if isinstance(action, SetWeight):
            weight = action.canary_weight
    return weight


def point_service(
    ctx: PassContext, service: str | None, rs: ObservedReplicaSet | None, *, reached: bool = False
) -> None:
    """Switch ``service`` to ``rs``'s revision, but only once ``rs`` is fully available (or, with
    ``reached``, available as far as ``replicaProgressThreshold`` asks)."""
    if not service or rs is None or not (reached or ctx.available(rs)):
        return
    if selector_after_plan(ctx, service) == rs.pod_template_hash:
        return
    _switch(ctx, service, rs, f"Switched Service {service} to revision {rs.pod_template_hash}")


def point_service_back(ctx: PassContext, service: str | None, rs: ObservedReplicaSet | None) -> None:
    """Switch ``service`` back to ``rs`` (the stable revision) once ``rs`` has an available pod.

    For moving traffic *away* from a revision being given up (an aborted update): waiting for
    ``rs`` to be fully available would keep the Service on a revision that is losing its pods,
    while a Service only ever sends requests to ready pods of the revision it selects.
    """
    if not service or rs is None or rs.available == 0 or ctx.size(rs) == 0:
        return
    if selector_after_plan(ctx, service) == rs.pod_template_hash:
        return
    _switch(ctx, service, rs, f"Switched Service {service} back to revision {rs.pod_template_hash}")


def revision_selector(
    service_selector: Mapping[str, str], match_labels: Mapping[str, str], pod_template_hash: str
) -> dict[str, str]:
    """The whole selector that points a Service at one revision of a Rollout.

    The Service's own labels are kept when it has any (an Argo Rollouts manifest declares
    ``{app: web}``); a Service whose manifest leaves ``spec.selector`` out, so that re-applying it
    never touches the selector, gets the Rollout's ``selector.matchLabels``. The revision's hash
    label is added either way, so the Service reaches only that revision's pods.
    """
    base = {key: value for key, value in service_selector.items() if key != POD_TEMPLATE_HASH_LABEL}
    return {**(base or match_labels), POD_TEMPLATE_HASH_LABEL: pod_template_hash}


def _switch(ctx: PassContext, service: str, rs: ObservedReplicaSet, message: str) -> None:
    """Plan the switch of ``service`` to ``rs``; warn when a GitOps agent applies its selector too."""
    observed = ctx.snap.service(service)
    selector = revision_selector(
        observed.selector if observed is not None else {},
        ctx.snap.rollout.spec.selector.match_labels or {},
        rs.pod_template_hash,
    )
    switch = SwitchServiceSelector(service=service, pod_template_hash=rs.pod_template_hash, selector=selector)
    ctx.plan.add(switch)
    ctx.plan.event("SwitchService", message)
    shared = ctx.snap.shared_field("Service", service)
    if shared is not None:
        ctx.plan.event(SHARED_FIELD_REASON, shared.message, warning=True)


def move_off_empty(ctx: PassContext, service: str | None, fallback: ObservedReplicaSet | None) -> None:
    """Move ``service`` to ``fallback`` when this plan leaves its revision with no pod.

    A Service stays where it is until the revision it selects is planned at zero pods (a
    ``setWeight: 0`` step, an older canary drained by a new revision); then it goes to
    ``fallback`` (the stable revision) in the same plan, whose stages switch it before the
    scale-down. It never moves onto a fallback without an available pod.
    """
    selected = selector_after_plan(ctx, service)
    if selected is None:
        return
    rs = ctx.snap.replica_set(selected)
    if rs is not None and ctx.size(rs) > 0:
        return
    point_service_back(ctx, service, fallback)


def selected_by_any(ctx: PassContext, rs: ObservedReplicaSet, *, services: tuple[str | None, ...]) -> bool:
    """True when, after this plan, one of ``services`` selects ``rs``'s revision."""
    return any(selector_after_plan(ctx, service) == rs.pod_template_hash for service in services)


def serves_traffic(ctx: PassContext, rs: ObservedReplicaSet, *, services: tuple[str | None, ...]) -> bool:
    """True when, after this plan, a Service of the strategy still sends traffic to ``rs``.

    ``services`` lists the strategy's Services; the canary Service only counts while the router
    gives the canary a non-zero (or unknown) weight.
    """
    canary = ctx.rollout.spec.strategy.canary
    canary_service = canary.canary_service if canary is not None else None
    routed = canary is not None and canary.traffic_routing is not None
    for service in services:
        if selector_after_plan(ctx, service) != rs.pod_template_hash:
            continue
        if routed and service == canary_service and weight_after_plan(ctx) == 0:
            continue
        return True
    return False


def keep_for(ctx: PassContext, rs: ObservedReplicaSet, *, delay_seconds: int) -> None:
    """Mark ``rs`` (the revision just replaced) to be scaled down ``delay_seconds`` from now."""
    if rs.scale_down_at is None and ctx.size(rs) > 0:
        deadline = ctx.now + timedelta(seconds=delay_seconds)
        ctx.plan.add(AnnotateScaleDownDeadline(name=rs.name, deadline=deadline))
        ctx.plan.wake_at(deadline)


def retire_old(
    ctx: PassContext, *, services: tuple[str | None, ...], revision_limit: int | None = None
) -> None:
    """Scale old ReplicaSets to zero once no Service routes to them and their deadline passed.

    ``revision_limit`` (``scaleDownDelayRevisionLimit``): at most this many old revisions wait out
    their deadline at once, the newest ones; the older ones go now (a quick rollback only ever
    needs the latest few, and each kept revision holds a full set of pods).
    """
    waiting = 0
    for rs in sorted(ctx.older, key=lambda rs: (rs.revision, rs.name), reverse=True):
        if ctx.size(rs) == 0 or serves_traffic(ctx, rs, services=services):
            continue
        deadline = rs.scale_down_at
        if (
            deadline is not None
            and ctx.now < deadline
            and (revision_limit is None or waiting < revision_limit)
        ):
            waiting += 1
            ctx.plan.wake_at(deadline)
            continue
        ctx.scale(rs, 0)


def promote_within_window(ctx: PassContext) -> bool:
    """On a new template: when it is a rollback within ``spec.rollbackWindow`` (the desired
    revision's ReplicaSet is one of the ``revisions`` newest older than the stable's), mark the
    update for full promotion, which skips the steps, pauses and analysis in both strategies."""
    window = ctx.rollout.spec.rollback_window
    new_rs, stable = ctx.new_rs, ctx.snap.replica_set(ctx.draft.stable_rs)
    if window is None or window.revisions == 0 or new_rs is None or stable is None or new_rs is stable:
        return False
    older = sorted(
        (rs for rs in ctx.snap.replica_sets if rs.revision < stable.revision), key=lambda rs: -rs.revision
    )
    if new_rs not in older[: window.revisions]:
        return False
    ctx.draft.promote_full = True
    ctx.plan.event(
        "RollbackWithinWindow",
        f"Revision {ctx.desired_hash} is within spec.rollbackWindow ({window.revisions} revisions before "
        f"stable {stable.pod_template_hash}): promoting it at once, skipping steps and analysis",
    )
    return True


def drop_stable_anti_affinity(ctx: PassContext) -> None:
    """The stable revision's ReplicaSet loses the anti-affinity it was created with: as the
    stable, its new pods (a scale-up, a restart) must not avoid the previous stable's pods."""
    stable = ctx.stable_rs
    if stable is not None and stable.anti_affinity_to and stable.pod_template_hash == ctx.draft.stable_rs:
        ctx.plan.add(RemoveAntiAffinity(name=stable.name))


def sync_pod_metadata(ctx: PassContext) -> None:
    """The stable ReplicaSet carries the stable side's metadata (``stableMetadata``,
    ``activeMetadata``) and the new one, while it is not stable, the other side's; a ReplicaSet
    whose recorded metadata differs is moved over, its live pods with it."""
    stable_side, new_side = ctx.side_metadata()
    sides = [(ctx.stable_rs, stable_side)]
    if ctx.new_rs is not None and ctx.new_rs is not ctx.stable_rs:
        sides.append((ctx.new_rs, new_side))
    for rs, metadata in sides:
        wanted = pod_metadata_key(metadata)
        if rs is not None and rs.pod_metadata != wanted:
            action = SetPodMetadata(
                name=rs.name, pod_template_hash=rs.pod_template_hash, wanted=wanted, previous=rs.pod_metadata
            )
            ctx.plan.add(action)


def delete_beyond_history(ctx: PassContext) -> None:
    """Delete the oldest empty old ReplicaSets beyond ``revisionHistoryLimit``."""
    limit = ctx.rollout.spec.revision_history_limit
    old = sorted(
        (rs for rs in ctx.older if not rs.deleting),
        key=lambda rs: (rs.created, rs.revision, rs.name),
    )
    excess = len(old) - limit
    for rs in old[: max(0, excess)]:
        if rs.replicas == 0 and rs.actual == 0 and ctx.size(rs) == 0:
            ctx.plan.add(DeleteReplicaSet(name=rs.name))


def restart_pods(ctx: PassContext, *, batch: int) -> bool:
    """Restart up to ``batch`` pods created before ``spec.restartAt``; True when none is left.

    Stable pods go first, then the new revision's, then older ones, oldest pod first. Nothing is
    restarted while a ReplicaSet is short of available pods or a pod is terminating, so at most
    ``batch`` pods are ever missing because of a restart.
    """
    restart_at = ctx.rollout.spec.restart_at
    if restart_at is None or ctx.now < restart_at:
        if restart_at is not None:
            ctx.plan.wake_at(restart_at)
        return True
    due = [pod for pod in ctx.snap.pods if pod.created < restart_at and not pod.deleting]
    if not due:
        return True
    if any(pod.deleting for pod in ctx.snap.pods):
        ctx.plan.wake_after(timedelta(seconds=30))
        return False
    if any(rs.available < rs.replicas or ctx.size(rs) != rs.replicas for rs in ctx.snap.replica_sets):
        return False
    # The ReplicaSet's status lags its pods: right after a restart it can still count the deleted
    # pod as available while the replacement is not Ready yet. The pods themselves decide.
    serving = Counter(pod.pod_template_hash for pod in ctx.snap.pods if pod.ready)
    if any(serving[rs.pod_template_hash] < rs.replicas for rs in ctx.snap.replica_sets):
        return False
    order = [ctx.stable_rs, ctx.new_rs, *ctx.older]
    rank = {rs.pod_template_hash: index for index, rs in enumerate(order) if rs is not None}
    due.sort(key=lambda pod: (rank.get(pod.pod_template_hash, len(order)), pod.created, pod.name))
    for pod in due[: max(1, batch)]:
        ctx.plan.add(RestartPod(name=pod.name, pod_template_hash=pod.pod_template_hash))
    ctx.plan.event("RestartingPods", f"Restarting {min(len(due), max(1, batch))} of {len(due)} pods")
    return False
