"""``spec.workloadRef.scaleDown``: how many pods the referenced Deployment keeps beside the Rollout.

Migrating a running Deployment must never drop capacity, so the Deployment only gives its pods up
as the Rollout's become available, and gets them back if the migration fails:

* ``never``: the Deployment is not touched;
* ``onsuccess``: it keeps every pod until the Rollout is migrated (its stable ReplicaSet fully
  available at ``spec.replicas``), then goes to 0;
* ``progressively``: it keeps ``original - available Rollout pods`` (never below 0), so the two
  together always have at least ``original`` available pods, and 0 once migrated;
* an update aborted before the migration finished gives the Deployment back its ``original``
  pods. Once migrated the Deployment stays at 0 whatever happens: its template is the version
  being delivered, so scaling it back up on a later abort would run the version just rejected.

``original`` is the Deployment's replicas before the first scale-down, kept in the
``rollouts.dev/workload-replicas`` annotation. A GitOps agent re-applying the Deployment's
replicas from Git raises it (``max``) and is undone on the next pass; the controller gives
``original`` back when the Rollout is deleted (``controller/workloads.py``).
"""

from __future__ import annotations

from typing import Literal

from rollouts.engine.context import PassContext
from rollouts.engine.plan import ScaleWorkload

__all__ = ["WORKLOAD_REPLICAS_ANNOTATION", "scale_workload", "workload_replicas"]

WORKLOAD_REPLICAS_ANNOTATION = "rollouts.dev/workload-replicas"

ScaleDown = Literal["never", "onsuccess", "progressively"]


def workload_replicas(
    *,
    scale_down: ScaleDown,
    original: int,
    current: int,
    rollout_available: int,
    migrated: bool,
    aborted: bool,
) -> int:
    """The Deployment's replicas for this pass (``current`` when nothing is to change)."""
    if scale_down == "never":
        return current
    if migrated:
        return 0
    if aborted:
        return original
    if scale_down == "onsuccess":
        return current
    return max(0, original - rollout_available)


def scale_workload(ctx: PassContext) -> None:
    """Plan the Deployment's scale for this pass (both strategies, last stage: see the plan)."""
    ref, seen = ctx.rollout.spec.workload_ref, ctx.snap.workload
    if ref is None or seen is None or ref.scale_down == "never":
        return
    original = max(seen.replicas, seen.original or 0)
    stable = ctx.stable_rs
    migrated = (stable is not None and stable.available >= ctx.replicas and not ctx.draft.abort) or (
        seen.original is not None and seen.replicas == 0
    )
    target = workload_replicas(
        scale_down=ref.scale_down,
        original=original,
        current=seen.replicas,
        rollout_available=sum(rs.available for rs in ctx.snap.replica_sets),
        migrated=migrated,
        aborted=ctx.draft.abort,
    )
    if target == seen.replicas:
        return
    ctx.plan.add(ScaleWorkload(name=seen.name, replicas=target, previous=seen.replicas, original=original))
    if target > seen.replicas:
        why = "given back its pods: the update was aborted before the migration finished"
    else:
        why = f"scaled down as the Rollout took over (workloadRef scaleDown: {ref.scale_down})"
    ctx.plan.event("WorkloadScaled", f"Deployment {seen.name} {seen.replicas} -> {target} pods: {why}")
