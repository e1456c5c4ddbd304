"""Observe: turn the cached objects of one Rollout into the engine's :class:`Snapshot`.

Pure reading of dicts the caches hold; no API call. Each ``observed_*`` function maps one
Kubernetes object to the engine's view of it, so each can be unit-tested on a recorded object.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rollouts.api import AnalysisRun, Rollout
from rollouts.engine import ObservedAnalysisRun, ObservedPod, ObservedReplicaSet, ObservedService, Snapshot
from rollouts.engine.analysis_runs import observe_analysis_run
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.kube import KubeObject, meta

__all__ = [
    "REVISION_ANNOTATION",
    "SCALE_DOWN_DEADLINE_ANNOTATION",
    "observed_analysis_run",
    "observed_pod",
    "observed_replica_set",
    "observed_service",
    "parse_time",
    "strategy_services",
]

REVISION_ANNOTATION = "rollouts.dev/revision"
SCALE_DOWN_DEADLINE_ANNOTATION = "rollouts.dev/scale-down-deadline"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: Any) -> datetime:
    """An RFC 3339 timestamp from the API server as an aware datetime (the epoch when absent)."""
    if not isinstance(value, str) or not value:
        return _EPOCH
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return _EPOCH
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def observed_replica_set(rs: KubeObject) -> ObservedReplicaSet | None:
    """The engine's view of a ReplicaSet; ``None`` when it carries no revision hash label."""
    m = meta(rs)
    labels = m.get("labels") or {}
    pod_hash = labels.get(POD_TEMPLATE_HASH_LABEL)
    if not pod_hash:
        return None
    annotations = m.get("annotations") or {}
    spec = rs.get("spec") or {}
    status = rs.get("status") or {}
    # A status the ReplicaSet controller has not caught up with says nothing about the new spec.
    current = _int(status.get("observedGeneration")) >= _int(m.get("generation"))
    return ObservedReplicaSet(
        name=str(m.get("name")),
        pod_template_hash=str(pod_hash),
        replicas=_int(spec.get("replicas", 1)),
        revision=_int(annotations.get(REVISION_ANNOTATION)),
        created=parse_time(m.get("creationTimestamp")),
        ready=_int(status.get("readyReplicas")) if current else 0,
        available=_int(status.get("availableReplicas")) if current else 0,
        pods=_int(status.get("replicas")),
        scale_down_deadline=annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION),
        deleting=bool(m.get("deletionTimestamp")),
    )


def observed_service(service: KubeObject) -> ObservedService:
    return ObservedService(
        name=str(meta(service).get("name")), selector=(service.get("spec") or {}).get("selector") or {}
    )


def observed_pod(pod: KubeObject) -> ObservedPod | None:
    m = meta(pod)
    pod_hash = (m.get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL)
    if not pod_hash:
        return None
    return ObservedPod(
        name=str(m.get("name")),
        pod_template_hash=str(pod_hash),
        created=parse_time(m.get("creationTimestamp")),
        ready=bool(pod.get("ready")),
        deleting=bool(m.get("deletionTimestamp")),
    )


def observed_analysis_run(run: KubeObject) -> ObservedAnalysisRun | None:
    """The engine's view of an AnalysisRun; ``None`` for one that does not parse or is not ours."""
    try:
        parsed = AnalysisRun.model_validate(run)
    except ValueError:
        return None
    return observe_analysis_run(parsed)


def strategy_services(rollout: Rollout) -> dict[str, str]:
    """Field path -> Service name for every Service the strategy names."""
    strategy = rollout.spec.strategy
    found: dict[str, str] = {}
    if strategy.canary is not None:
        for field, name in (
            ("canaryService", strategy.canary.canary_service),
            ("stableService", strategy.canary.stable_service),
        ):
            if name:
                found[f"spec.strategy.canary.{field}"] = name
    if strategy.blue_green is not None:
        for field, name in (
            ("activeService", strategy.blue_green.active_service),
            ("previewService", strategy.blue_green.preview_service),
        ):
            if name:
                found[f"spec.strategy.blueGreen.{field}"] = name
    return found


def snapshot(
    *,
    rollout: Rollout,
    now: datetime,
    replica_sets: list[KubeObject],
    services: list[KubeObject],
    analysis_runs: list[KubeObject],
    pods: list[KubeObject],
    router_canary_weight: int | None,
) -> Snapshot:
    """The Snapshot of one Rollout from its cached objects."""
    rs_views = tuple(v for v in (observed_replica_set(rs) for rs in replica_sets) if v is not None)
    hashes = {rs.pod_template_hash for rs in rs_views}
    return Snapshot(
        rollout=rollout,
        now=now,
        replica_sets=rs_views,
        services=tuple(observed_service(s) for s in services),
        router_canary_weight=router_canary_weight,
        analysis_runs=tuple(v for v in (observed_analysis_run(r) for r in analysis_runs) if v is not None),
        pods=tuple(
            v for v in (observed_pod(p) for p in pods) if v is not None and v.pod_template_hash in hashes
        ),
    )
