"""The Deployment of ``spec.workloadRef``, on the controller's side: scaling it, and giving it its
pods back when the Rollout is deleted.

The engine decides how far the Deployment is scaled down (``engine/workload.py``); here are the
writes. Deleting a Rollout garbage-collects its ReplicaSets, so without care the app would lose
every pod the Rollout had taken over from the Deployment. A Rollout that scales its Deployment
(``scaleDown`` other than ``never``) therefore carries the ``rollouts.dev/workload`` finalizer,
added before the first scale-down. When the Rollout is deleted, the finalizer's pass scales the
Deployment back to the replicas recorded in ``rollouts.dev/workload-replicas`` and removes the
finalizer only once the Deployment has that many pods available (or after the Rollout's
``progressDeadlineSeconds``, with a Warning, so a Deployment that cannot come up does not keep
the Rollout forever). Only then are the Rollout's ReplicaSets collected.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Literal

from rollouts.api import Rollout
from rollouts.api.common import parse_timestamp
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.plan import ScaleWorkload
from rollouts.engine.references import DEPLOYMENT
from rollouts.engine.snapshot import ObservedWorkload
from rollouts.engine.workload import WORKLOAD_REPLICAS_ANNOTATION
from rollouts.kube import KubeClient, KubeObject, meta, pod_ready

__all__ = [
    "WORKLOAD_FINALIZER",
    "GiveBack",
    "add_finalizer",
    "give_back",
    "needs_finalizer",
    "observed_workload",
    "scale_workload",
]

log = logging.getLogger(__name__)

WORKLOAD_FINALIZER = "rollouts.dev/workload"


def observed_workload(deployment: KubeObject | None) -> ObservedWorkload | None:
    """The engine's view of the Deployment: replicas, available pods, the recorded original.

    Available pods count only from a status the Deployment controller wrote for the current spec
    (``observedGeneration``): right after a scale-up, an older status can still report the pods
    of a moment before, and the Rollout's pods must not go on its word."""
    if deployment is None:
        return None
    recorded = (meta(deployment).get("annotations") or {}).get(WORKLOAD_REPLICAS_ANNOTATION)
    status = deployment.get("status") or {}
    current = int(status.get("observedGeneration") or 0) >= int(meta(deployment).get("generation") or 0)
    return ObservedWorkload(
        name=str(meta(deployment).get("name")),
        replicas=int((deployment.get("spec") or {}).get("replicas", 1)),
        available=int(status.get("availableReplicas") or 0) if current else 0,
        original=int(recorded) if isinstance(recorded, str) and recorded.isdigit() else None,
    )


async def scale_workload(client: KubeClient, namespace: str, action: ScaleWorkload) -> KubeObject:
    """Set the Deployment's replicas, with the original recorded beside them in one write."""
    patch = {
        "metadata": {"annotations": {WORKLOAD_REPLICAS_ANNOTATION: str(action.original)}},
        "spec": {"replicas": action.replicas},
    }
    return await client.patch(*DEPLOYMENT.key, namespace=namespace, name=action.name, patch=patch)


def needs_finalizer(rollout: Rollout, raw: KubeObject) -> bool:
    """A Rollout that scales its Deployment and does not carry the finalizer yet."""
    ref = rollout.spec.workload_ref
    scales = ref is not None and ref.scale_down != "never"
    return scales and WORKLOAD_FINALIZER not in (meta(raw).get("finalizers") or [])


async def add_finalizer(client: KubeClient, raw: KubeObject) -> KubeObject:
    """Add the finalizer (a JSON patch guarded by the version read: other finalizers are kept)."""
    m = meta(raw)
    guard = {"op": "test", "path": "/metadata/resourceVersion", "value": m.get("resourceVersion")}
    add = (
        {"op": "add", "path": "/metadata/finalizers/-", "value": WORKLOAD_FINALIZER}
        if m.get("finalizers")
        else {"op": "add", "path": "/metadata/finalizers", "value": [WORKLOAD_FINALIZER]}
    )
    return await _patch_rollout(client, raw, [guard, add])


GiveBack = Literal["scaled", "waiting", "late", "done"]


async def give_back(
    client: KubeClient, raw: KubeObject, deployment: KubeObject | None, *, now: datetime
) -> GiveBack:
    """One step of giving the Deployment its pods back for a Rollout being deleted: ``scaled``
    (its replicas restored just now), ``waiting`` (its pods are coming up), ``late`` (the
    finalizer removed at the deadline although they are not all available) or ``done``."""
    namespace = str(meta(raw).get("namespace"))
    seen = observed_workload(deployment)
    if seen is None or seen.original is None:
        await remove_finalizer(client, raw)
        return "done"
    if seen.replicas < seen.original:
        log.info(
            "rollout %s/%s: deleted; giving Deployment %s back %d pods",
            namespace,
            meta(raw).get("name"),
            seen.name,
            seen.original,
        )
        back = ScaleWorkload(
            name=seen.name, replicas=seen.original, previous=seen.replicas, original=seen.original
        )
        await scale_workload(client, namespace, back)
        return "scaled"
    short = seen.available < seen.original
    if not short and deployment is not None:
        # Its status sums its ReplicaSets' statuses, which can lag their pods: the Rollout's pods
        # go only once the Deployment's own pods are seen Ready.
        short = await ready_pods_of(client, namespace, deployment) < seen.original
    if short and not _past_deadline(raw, now):
        return "waiting"
    forget = {"metadata": {"annotations": {WORKLOAD_REPLICAS_ANNOTATION: None}}}
    await client.patch(*DEPLOYMENT.key, namespace=namespace, name=seen.name, patch=forget)
    await remove_finalizer(client, raw)
    return "late" if short else "done"


async def ready_pods_of(client: KubeClient, namespace: str, deployment: KubeObject) -> int:
    """The Deployment's Ready pods that are not being deleted (the Rollout's, which carry the
    revision label, left out), from one list of the API server."""
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return 0
    selector = ",".join([*(f"{k}={v}" for k, v in sorted(labels.items())), f"!{POD_TEMPLATE_HASH_LABEL}"])
    listed = await client.list("v1", "Pod", namespace=namespace, label_selector=selector)
    return sum(1 for pod in listed.items if pod_ready(pod) and not meta(pod).get("deletionTimestamp"))


def _past_deadline(raw: KubeObject, now: datetime) -> bool:
    deleted = parse_timestamp(meta(raw).get("deletionTimestamp"))
    seconds = int((raw.get("spec") or {}).get("progressDeadlineSeconds") or 600)
    return deleted is not None and now >= deleted + timedelta(seconds=seconds)


async def remove_finalizer(client: KubeClient, raw: KubeObject) -> None:
    finalizers = list(meta(raw).get("finalizers") or [])
    if WORKLOAD_FINALIZER not in finalizers:
        return
    index = finalizers.index(WORKLOAD_FINALIZER)
    path = f"/metadata/finalizers/{index}"
    await _patch_rollout(
        client,
        raw,
        [{"op": "test", "path": path, "value": WORKLOAD_FINALIZER}, {"op": "remove", "path": path}],
    )


async def _patch_rollout(client: KubeClient, raw: KubeObject, ops: list[dict[str, Any]]) -> KubeObject:
    m = meta(raw)
    return await client.patch(
        str(raw["apiVersion"]),
        str(raw["kind"]),
        namespace=str(m.get("namespace")),
        name=str(m.get("name")),
        patch=ops,
        patch_type="json",
    )
