"""Observe: read everything one Rollout's pass needs into the engine's :class:`Snapshot`.

:func:`observe` reads from the watch caches what the Rollout owns (ReplicaSets, AnalysisRuns,
pods) and every object its declarations name (:func:`rollouts.controller.reads.references_of`:
Services, router objects, templates), asks the router for the weight really in the cluster, and
returns the snapshot with the objects as read, so the act step works from the same copies and
never reads a cache itself. A declared object the cache lacks is confirmed with one GET (the
cache may lag behind a create, or the kind's CRD may have been installed after the watch gave
up), so only a missing object costs an API call per pass.

Each ``observed_*`` function maps one Kubernetes object to the engine's view of it, so each can
be unit-tested on a recorded object.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rollouts.api import AnalysisRun, Experiment, ManagedRoute, Rollout
from rollouts.controller import caches as kinds
from rollouts.controller.caches import Caches
from rollouts.controller.errors import UserError
from rollouts.controller.workloads import observed_workload
from rollouts.engine import ObservedAnalysisRun, ObservedPod, ObservedReplicaSet, ObservedService, Snapshot
from rollouts.engine.analysis_runs import observe_analysis_run
from rollouts.engine.canary_routes import manages_routes
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.references import (
    ANALYSIS_TEMPLATE,
    CLUSTER_ANALYSIS_TEMPLATE,
    DEPLOYMENT,
    SERVICE,
    Kind,
    Reference,
)
from rollouts.engine.rollout_experiments import observe_experiment
from rollouts.engine.shared_fields import SharedField
from rollouts.engine.snapshot import ObservedExperiment, ObservedWorkload, Template
from rollouts.kube import KubeClient, KubeObject, appliers_of, meta
from rollouts.kube.client import FIELD_MANAGER
from rollouts.traffic import RouterContext, TrafficRouter, references_of, router_for

__all__ = [
    "REVISION_ANNOTATION",
    "SCALE_DOWN_DEADLINE_ANNOTATION",
    "Observation",
    "ObservedObjects",
    "observe",
    "observed_analysis_run",
    "observed_pod",
    "observed_replica_set",
    "observed_service",
    "parse_time",
]

REVISION_ANNOTATION = "rollouts.dev/revision"
SCALE_DOWN_DEADLINE_ANNOTATION = "rollouts.dev/scale-down-deadline"
ANTI_AFFINITY_ANNOTATION = "rollouts.dev/anti-affinity-to"
"""On a ReplicaSet created with ``antiAffinity``: the stable revision its pods avoid."""
POD_METADATA_ANNOTATION = "rollouts.dev/pod-metadata"
"""On a ReplicaSet: the ephemeral pod metadata last applied to it and its pods (JSON)."""
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
    replicas = _int(spec.get("replicas", 1))
    return ObservedReplicaSet(
        name=str(m.get("name")),
        pod_template_hash=str(pod_hash),
        replicas=replicas,
        revision=_int(annotations.get(REVISION_ANNOTATION)),
        created=parse_time(m.get("creationTimestamp")),
        ready=_still_counted(m, spec, status, "readyReplicas"),
        available=_still_counted(m, spec, status, "availableReplicas"),
        pods=_int(status.get("replicas")),
        scale_down_deadline=annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION),
        deleting=bool(m.get("deletionTimestamp")),
        anti_affinity_to=annotations.get(ANTI_AFFINITY_ANNOTATION) or None,
        pod_metadata=annotations.get(POD_METADATA_ANNOTATION) or None,
    )


def _still_counted(m: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any], key: str) -> int:
    """A ReplicaSet's ready or available pods, as far as its status can still tell.

    A status the ReplicaSet controller has caught up with (``observedGeneration``) is read as is.
    One it has not says nothing about the new spec, with one exception: after a scale-up, the pods
    it counted are still there and still serving, so a canary growing for its next step keeps the
    weight its pods already carry instead of dropping to 0 for a moment. Those pods are fewer than
    the new size, so a stale status never makes a ReplicaSet fully available.
    """
    counted = _int(status.get(key))
    if _int(status.get("observedGeneration")) >= _int(m.get("generation")):
        return counted
    if _int(spec.get("replicas", 1)) > _int(status.get("replicas")):
        return counted
    return 0


def observed_service(service: KubeObject) -> ObservedService:
    return ObservedService(
        name=str(meta(service).get("name")), selector=(service.get("spec") or {}).get("selector") or {}
    )


def shared_field(kind: Kind, obj: KubeObject) -> SharedField | None:
    """The field the controller writes in ``obj`` when server-side appliers other than us own it.

    A client-side ``kubectl apply`` patches a Service's selector key by key and leaves the
    revision label alone, so only server-side appliers count (see ``appliers_of``).
    """
    if kind.writes is None:
        return None
    appliers = tuple(m for m in appliers_of(obj, *kind.writes.keys) if m != FIELD_MANAGER)
    if not appliers:
        return None
    return SharedField(kind=kind.kind, name=str(meta(obj).get("name")), field=kind.writes, appliers=appliers)


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


def observed_experiment(obj: KubeObject) -> ObservedExperiment | None:
    """The engine's view of an Experiment; ``None`` for one that does not parse or is not ours."""
    try:
        parsed = Experiment.model_validate(obj)
    except ValueError:
        return None
    return observe_experiment(parsed)


def observed_analysis_run(run: KubeObject) -> ObservedAnalysisRun | None:
    """The engine's view of an AnalysisRun; ``None`` for one that does not parse or is not ours."""
    try:
        parsed = AnalysisRun.model_validate(run)
    except ValueError:
        return None
    return observe_analysis_run(parsed)


class ObservedObjects:
    """The declared objects of one pass, as read: the router and the act step read these copies.

    Shaped like a cache (``get((apiVersion, kind), namespace, name)``), so a router takes it
    where it would take the controller's caches.
    """

    def __init__(self, found: Mapping[tuple[tuple[str, str], str], KubeObject]) -> None:
        self._found = dict(found)

    def get(self, watched: tuple[str, str], namespace: str, name: str) -> KubeObject | None:
        del namespace  # one Rollout's pass: everything is in its namespace (or cluster-scoped)
        return self._found.get((watched, name))


@dataclass(frozen=True, kw_only=True)
class Observation:
    """What observe read for one pass: the engine's snapshot, the Rollout's router, the objects.

    ``rollout`` and ``raw`` are the Rollout the pass works on: with ``spec.workloadRef``, the
    Deployment's pod template in ``spec.template`` (the ReplicaSets are made from ``raw``)."""

    snapshot: Snapshot
    router: TrafficRouter | None
    objects: ObservedObjects
    rollout: Rollout
    raw: KubeObject


def with_workload_template(
    rollout: Rollout, raw: KubeObject, found: Mapping[tuple[tuple[str, str], str], KubeObject]
) -> tuple[Rollout, KubeObject]:
    """The Rollout running the pod template of the Deployment ``spec.workloadRef`` names (as read
    this pass); unchanged without one. Raises :class:`UserError` naming the Deployment when its
    template cannot be the Rollout's pods."""
    ref = rollout.spec.workload_ref
    if ref is None:
        return rollout, raw
    deployment = found[(DEPLOYMENT.key, ref.name)]
    template = copy.deepcopy(((deployment.get("spec") or {}).get("template")) or {})
    try:
        spec = rollout.spec.with_template(template)
    except ValueError as exc:
        namespace = rollout.metadata.namespace
        raise UserError(
            f"Rollout {namespace}/{rollout.metadata.name}: the pod template of Deployment {ref.name!r} "
            f"(spec.workloadRef) cannot be the Rollout's: {exc}; fix the Deployment's template or the "
            "Rollout's spec.selector",
            reason="InvalidWorkload",
        ) from None
    resolved = {**raw, "spec": {**raw["spec"], "template": template}}
    return rollout.model_copy(update={"spec": spec}), resolved


def missing_object(rollout: Rollout, ref: Reference) -> UserError:
    """The error for a required object (a Service the strategy names) that does not exist."""
    namespace = rollout.metadata.namespace
    return UserError(
        f"Rollout {namespace}/{rollout.metadata.name}: {ref.kind.kind} {ref.name!r} named in {ref.path} "
        f"does not exist in namespace {namespace}; create it or fix {ref.path}",
        reason=f"{ref.kind.kind}NotFound",
    )


async def observe(
    *, raw: KubeObject, rollout: Rollout, caches: Caches, client: KubeClient, now: datetime
) -> Observation:
    """Everything one pass of ``rollout`` decides from. Raises :class:`UserError` for a missing
    required object and :class:`~rollouts.traffic.RouterError` for a routing the user must fix."""
    namespace, uid = str(meta(raw)["namespace"]), str(meta(raw)["uid"])
    rollout = rollout.with_service_roles()  # pingPong: which Service is stable, from the status
    router = router_for(rollout)
    found: dict[tuple[tuple[str, str], str], KubeObject] = {}
    shared: list[SharedField] = []
    for ref in references_of(rollout, router):
        where = None if ref.kind.cluster_scoped else namespace
        obj = caches.get(ref.kind.key, where or "", ref.name)
        if obj is None:
            obj = await client.get_or_none(*ref.kind.key, namespace=where, name=ref.name)
        if obj is None and ref.required:
            raise missing_object(rollout, ref)
        if obj is not None:
            found[(ref.kind.key, ref.name)] = obj
            written = shared_field(ref.kind, obj)
            if written is not None:
                shared.append(written)
    objects = ObservedObjects(found)
    rollout, raw = with_workload_template(rollout, raw, found)
    weight, routes, backend = None, None, None
    if router is not None:
        router_ctx = RouterContext(rollout=rollout, client=client, cache=objects)
        weight = await router.read_weight(router_ctx)
        backend = await router.read_canary_service(router_ctx)
        if manages_routes(rollout.spec.strategy.canary):
            routes = await router.read_routes(router_ctx)
    replica_sets = caches.owned_by(kinds.REPLICA_SET, namespace, uid)
    return Observation(
        snapshot=snapshot(
            rollout=rollout,
            now=now,
            replica_sets=replica_sets,
            services=[obj for (kind, _), obj in found.items() if kind == SERVICE.key],
            analysis_runs=caches.owned_by(kinds.ANALYSIS_RUN, namespace, uid),
            experiments=caches.owned_by(kinds.EXPERIMENT, namespace, uid),
            pods=_pods(rollout, caches, namespace, replica_sets),
            router_canary_weight=weight,
            router_routes=routes,
            router_canary_service=backend,
            templates=_templates(caches, found),
            shared=tuple(shared),
            workload=_workload(rollout, found),
        ),
        router=router,
        objects=objects,
        rollout=rollout,
        raw=raw,
    )


def _workload(
    rollout: Rollout, found: Mapping[tuple[tuple[str, str], str], KubeObject]
) -> ObservedWorkload | None:
    ref = rollout.spec.workload_ref
    return None if ref is None else observed_workload(found.get((DEPLOYMENT.key, ref.name)))


def _pods(
    rollout: Rollout, caches: Caches, namespace: str, replica_sets: list[KubeObject]
) -> list[KubeObject]:
    """The pods of the Rollout's ReplicaSets; only the ``restartAt`` rule reads them."""
    if rollout.spec.restart_at is None:
        return []
    names = {meta(rs).get("name") for rs in replica_sets}
    return [
        pod
        for pod in caches.in_namespace(kinds.POD, namespace)
        if any(ref.get("name") in names for ref in meta(pod).get("ownerReferences") or [])
    ]


def _templates(
    caches: Caches, found: Mapping[tuple[tuple[str, str], str], KubeObject]
) -> tuple[Template, ...]:
    """The named templates that exist and parse (each version parsed once, by the caches). One that
    does not parse is as good as missing: the engine's message then says it does not exist, and
    the template's own errors are ``lint``'s to report."""
    parsed: list[Template] = []
    for (kind, _), obj in found.items():
        if kind not in (ANALYSIS_TEMPLATE.key, CLUSTER_ANALYSIS_TEMPLATE.key):
            continue
        try:
            parsed.append(caches.parsed_templates.parse(obj))
        except ValueError:
            continue
    return tuple(parsed)


def snapshot(
    *,
    rollout: Rollout,
    now: datetime,
    replica_sets: list[KubeObject],
    services: list[KubeObject],
    analysis_runs: list[KubeObject],
    pods: list[KubeObject],
    experiments: list[KubeObject] | None = None,
    router_canary_weight: int | None,
    router_routes: tuple[ManagedRoute, ...] | None = None,
    router_canary_service: str | None = None,
    templates: tuple[Template, ...] | None = None,
    shared: tuple[SharedField, ...] = (),
    workload: ObservedWorkload | None = None,
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
        router_routes=router_routes,
        router_canary_service=router_canary_service,
        analysis_runs=tuple(v for v in (observed_analysis_run(r) for r in analysis_runs) if v is not None),
        experiments=tuple(v for v in (observed_experiment(e) for e in experiments or []) if v is not None),
        pods=tuple(
            v for v in (observed_pod(p) for p in pods) if v is not None and v.pod_template_hash in hashes
        ),
        templates=templates,
        shared=shared,
        workload=workload,
    )
