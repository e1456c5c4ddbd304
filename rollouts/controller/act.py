"""Act: apply a plan's actions to the cluster, in order, stopping at the first failure.

Act only executes: every decision (including the whole body of each AnalysisRun) was made by
the engine, and every object it writes from was read by the observe step (the Service whose
selector it switches, the router's objects). It reads no cache and calls no engine code; what it
writes it hands back to the caches (``remember``) so the next pass sees it before the watch does.

The order is the engine's safety contract (see :mod:`rollouts.engine.plan`): capacity first,
then traffic, then analysis, then scale-down. Every action is idempotent, so a pass that crashed
half-way is finished by the next one: creating what already exists (as this revision) is success,
scaling to the current size is a no-op on the server, a selector already pointing at a revision
is applied unchanged.

Objects GitOps tools also write are changed with field manager ``kube-rollouts``: a Service's
selector by server-side apply (an atomic map, so the whole selector the engine planned is applied,
with force; a manifest that leaves the selector out keeps it ours alone: docs/design.md, "Fields
written in the user's objects") and the router's weights (the router does that).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rollouts.api import Rollout
from rollouts.controller import caches as kinds
from rollouts.controller.errors import HashCollision, UserError
from rollouts.controller.observe import (
    POD_METADATA_ANNOTATION,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    ObservedObjects,
)
from rollouts.controller.replica_sets import (
    adoption_patch,
    anti_affinity_removal,
    desired_replica_set,
    metadata_delta,
    same_revision,
)
from rollouts.controller.shards import claim
from rollouts.controller.workloads import scale_workload
from rollouts.engine import (
    Action,
    AnnotateScaleDownDeadline,
    CreateAnalysisRun,
    CreateExperiment,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    RemoveAntiAffinity,
    RestartPod,
    RestoreStableTraffic,
    ScaleReplicaSet,
    ScaleWorkload,
    SetPodMetadata,
    SetRoutes,
    SetWeight,
    SwitchServiceSelector,
    TerminateAnalysisRun,
    TerminateExperiment,
)
from rollouts.engine.analysis_errors import AnalysisRunError
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.rollout_experiments import build_experiment
from rollouts.kube import AlreadyExists, Invalid, KubeClient, KubeObject, NotFound, meta
from rollouts.traffic import RouterContext, RouterError, TrafficRouter, restore_stable

__all__ = ["ActContext", "apply_actions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ActContext:
    """What the act step of one pass works with."""

    client: KubeClient
    raw: KubeObject
    """The Rollout as the API server holds it (templates are copied from here, verbatim)."""
    rollout: Rollout
    router: TrafficRouter | None
    objects: ObservedObjects
    """The declared objects as the observe step read them (Services, router objects)."""
    remember: Callable[[KubeObject, bool], None]
    """Hand the API server's answer to a write to the caches (``True``: notify their listeners)."""
    warn: Callable[[str, str], None]
    """Record a Warning Event (reason, message) for a problem that must not stop the pass."""

    @property
    def namespace(self) -> str:
        return str(meta(self.raw)["namespace"])

    @property
    def name(self) -> str:
        return str(meta(self.raw)["name"])


async def apply_actions(ctx: ActContext, actions: Sequence[Action]) -> int:
    """Apply ``actions`` in order; returns how many were applied. The first failure propagates."""
    for action in actions:
        log.debug("rollout %s/%s: applying %s", ctx.namespace, ctx.name, action)
        await _apply(ctx, action)
    return len(actions)


async def _apply(ctx: ActContext, action: Action) -> None:
    match action:
        case CreateReplicaSet():
            await _create_replica_set(ctx, action)
        case ScaleReplicaSet():
            await _patch_replica_set(ctx, action.name, {"spec": {"replicas": action.replicas}})
        case SetWeight():
            await _set_weight(ctx, action)
        case SetRoutes():
            await _router(ctx).set_routes(_router_context(ctx), action.routes)
        case RestoreStableTraffic():
            await _restore_stable_traffic(ctx, action)
        case SwitchServiceSelector():
            await _switch_selector(ctx, action)
        case CreateAnalysisRun():
            await _create_analysis_run(ctx, action)
        case TerminateAnalysisRun():
            await _patch(ctx, kinds.ANALYSIS_RUN, action.name, {"spec": {"terminate": True}})
        case CreateExperiment():
            await _create_experiment(ctx, action)
        case TerminateExperiment():
            ctx.remember(
                await _patch(ctx, kinds.EXPERIMENT, action.name, {"spec": {"terminate": True}}), True
            )
        case AnnotateScaleDownDeadline():
            value = None if action.deadline is None else _rfc3339(action.deadline)
            await _patch_replica_set(
                ctx, action.name, {"metadata": {"annotations": {SCALE_DOWN_DEADLINE_ANNOTATION: value}}}
            )
        case RemoveAntiAffinity():
            await _remove_anti_affinity(ctx, action.name)
        case SetPodMetadata():
            await _set_pod_metadata(ctx, action)
        case DeleteReplicaSet():
            await ctx.client.delete(*kinds.REPLICA_SET, namespace=ctx.namespace, name=action.name)
        case DeleteAnalysisRun():
            await ctx.client.delete(*kinds.ANALYSIS_RUN, namespace=ctx.namespace, name=action.name)
        case RestartPod():
            await ctx.client.delete(*kinds.POD, namespace=ctx.namespace, name=action.name)
        case ScaleWorkload():
            ctx.remember(await scale_workload(ctx.client, ctx.namespace, action), False)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _patch(ctx: ActContext, watched: kinds.Watched, name: str, patch: dict[str, object]) -> KubeObject:
    return await ctx.client.patch(*watched, namespace=ctx.namespace, name=name, patch=patch)


async def _patch_replica_set(ctx: ActContext, name: str, patch: dict[str, object]) -> None:
    ctx.remember(await _patch(ctx, kinds.REPLICA_SET, name, patch), False)


async def _remove_anti_affinity(ctx: ActContext, name: str) -> None:
    """Read the ReplicaSet whole (the cache keeps no pod template) and patch the term away; a
    concurrent change makes the patch a 409 and the next pass tries again."""
    rs = await ctx.client.get(*kinds.REPLICA_SET, namespace=ctx.namespace, name=name)
    patch = anti_affinity_removal(rs)
    if patch is not None:
        await _patch_replica_set(ctx, name, patch)
        log.info(
            "rollout %s/%s: ReplicaSet %s is stable, its antiAffinity term removed",
            ctx.namespace,
            ctx.name,
            name,
        )


async def _set_pod_metadata(ctx: ActContext, action: SetPodMetadata) -> None:
    """The pods first, then the ReplicaSet's template and record: a pass cut off in between
    finds the record unchanged and patches again (the patches are idempotent). The template is
    what future pods get; the pods are relabelled in place, never restarted."""
    delta = metadata_delta(action.wanted, action.previous)
    selector = f"{POD_TEMPLATE_HASH_LABEL}={action.pod_template_hash}"
    pods = await ctx.client.list(*kinds.POD, namespace=ctx.namespace, label_selector=selector)
    for pod in pods.items:
        if not meta(pod).get("deletionTimestamp"):
            await _patch(ctx, kinds.POD, str(meta(pod).get("name")), {"metadata": delta})
    patch: dict[str, object] = {
        "metadata": {"annotations": {POD_METADATA_ANNOTATION: action.wanted}},
        "spec": {"template": {"metadata": delta}},
    }
    await _patch_replica_set(ctx, action.name, patch)
    log.info(
        "rollout %s/%s: ReplicaSet %s and %d pods now carry pod metadata %s",
        ctx.namespace, ctx.name, action.name, len(pods.items), action.wanted or "{}",
    )  # fmt: skip


async def _create_replica_set(ctx: ActContext, action: CreateReplicaSet) -> None:
    body = desired_replica_set(ctx.raw, action)
    try:
        answer = await ctx.client.create(body)
    except Invalid as exc:
        # The pod template got past the CRD (it is not schema-checked there) but not the API
        # server's ReplicaSet validation: the user's to fix, shown in the status, not retried blind.
        raise UserError(
            f"Rollout {ctx.namespace}/{ctx.name}: the API server refused ReplicaSet {action.name} made "
            f"from spec.template: {exc.message}; fix spec.template",
            reason="InvalidSpec",
        ) from exc
    except AlreadyExists:
        existing = await ctx.client.get(*kinds.REPLICA_SET, namespace=ctx.namespace, name=action.name)
        if not same_revision(existing, ctx.raw, action.pod_template_hash):
            raise HashCollision(action.name) from None
        patch = adoption_patch(existing, ctx.raw)
        answer = existing
        if patch is not None:
            answer = await _patch(ctx, kinds.REPLICA_SET, action.name, patch)
            log.info("rollout %s/%s: adopted orphan ReplicaSet %s", ctx.namespace, ctx.name, action.name)
        if int((answer.get("spec") or {}).get("replicas") or 0) < action.replicas:
            answer = await _patch(
                ctx, kinds.REPLICA_SET, action.name, {"spec": {"replicas": action.replicas}}
            )
    ctx.remember(answer, False)


def _router(ctx: ActContext) -> TrafficRouter:
    if ctx.router is None:
        raise UserError(
            f"Rollout {ctx.namespace}/{ctx.name}: traffic routing was planned but "
            "spec.strategy.canary.trafficRouting names no router; set trafficRouting.nginx or .istio",
            reason="InvalidTrafficRouting",
        )
    return ctx.router


def _router_context(ctx: ActContext) -> RouterContext:
    """The router writes from the copies observe read, guarded by resourceVersion."""
    return RouterContext(
        rollout=ctx.rollout,
        client=ctx.client,
        cache=ctx.objects,
        remember=lambda answer: ctx.remember(answer, False),
    )


async def _set_weight(ctx: ActContext, action: SetWeight) -> None:
    # set_weight creates or repairs the router's objects itself (and checks the user's).
    await _router(ctx).set_weight(
        _router_context(ctx),
        canary_weight=action.canary_weight,
        canary_hash=action.canary_hash,
        stable_hash=action.stable_hash,
        canary_service=action.canary_service,
    )


async def _restore_stable_traffic(ctx: ActContext, action: RestoreStableTraffic) -> None:
    """The old router's cleanup. A problem only the old routing had (its VirtualService deleted
    with it, say) is a Warning, not a stop: the Rollout no longer routes through it, so failing
    every pass on it would block the delivery over objects it has let go of."""
    try:
        await restore_stable(action.routed, ctx.client, remember=lambda answer: ctx.remember(answer, False))
    except RouterError as exc:
        ctx.warn(
            "TrafficRoutingNotRestored",
            f"Rollout {ctx.namespace}/{ctx.name}: the previous trafficRouting could not be sent back to "
            f"stable ({exc}); check its objects by hand",
        )


async def _switch_selector(ctx: ActContext, action: SwitchServiceSelector) -> None:
    service = ctx.objects.get(kinds.SERVICE, ctx.namespace, action.service)
    if service is None:  # observe checked every Service the strategy names; the plan names no other
        raise UserError(
            f"Rollout {ctx.namespace}/{ctx.name}: Service {action.service!r} was not observed; "
            "name it in spec.strategy",
            reason="ServiceNotFound",
        )
    if not action.selector:
        raise ValueError(f"SwitchServiceSelector {action.service} carries no selector: plan it with decide()")
    if (service.get("spec") or {}).get("selector") == dict(action.selector):
        return
    # Apply only the selector. The API server treats it as one atomic field, so the whole map is
    # ours after this write; force, because its previous owner may be the Service's manifest.
    answer = await ctx.client.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": action.service, "namespace": ctx.namespace},
            "spec": {"selector": dict(action.selector)},
        },
        force=True,
    )
    ctx.remember(answer, False)


async def _create_analysis_run(ctx: ActContext, action: CreateAnalysisRun) -> None:
    if action.run is None:
        raise ValueError(
            f"CreateAnalysisRun {action.name} carries no run: decide from a snapshot with templates"
        )
    # The AnalysisRun controller shares the cache and starts measuring the run it is told of.
    await _create_ours(ctx, action.run.model_dump(by_alias=True, exclude_none=True, mode="json"))


async def _create_ours(ctx: ActContext, body: KubeObject) -> None:
    """Create one of our kinds (AnalysisRun, Experiment) and tell the cache's listeners; one that
    exists already is ours from a pass whose status write was lost (its name is deterministic),
    or was made before the Rollout moved into this shard: then it is moved with it (``claim``)."""
    kind, name = body["kind"], body["metadata"]["name"]
    try:
        answer = await ctx.client.create(body)
    except AlreadyExists:
        existing = await ctx.client.get_or_none(body["apiVersion"], kind, namespace=ctx.namespace, name=name)
        if existing is not None:
            claimed = await claim(ctx.client, existing, owner=ctx.raw)
            if claimed is not existing:
                ctx.remember(claimed, True)
        return
    except NotFound as exc:
        raise UserError(
            f"Rollout {ctx.namespace}/{ctx.name}: cannot create {kind} {name}: {exc.message}; "
            "install the rollouts.dev CRDs (helm upgrade, or kubectl apply --server-side -f crds/)",
            reason=f"{kind}Error",
        ) from exc
    ctx.remember(answer, True)


_PORT_FIELDS = ("name", "port", "targetPort", "protocol", "appProtocol")


def _canary_service_ports(ctx: ActContext) -> list[dict[str, object]]:
    """The canary Service's ports (not its node ports), for a weighted experiment's Service: the
    canary Ingress's backend port must mean the same on it."""
    canary = ctx.rollout.spec.strategy.canary
    name = canary.canary_service if canary is not None else None
    service = ctx.objects.get(kinds.SERVICE, ctx.namespace, name) if name else None
    ports = ((service or {}).get("spec") or {}).get("ports") or []
    return [{k: port[k] for k in _PORT_FIELDS if k in port} for port in ports if isinstance(port, dict)]


async def _create_experiment(ctx: ActContext, action: CreateExperiment) -> None:
    """Build the experiment with the stable revision's pod template, read whole from its
    ReplicaSet (the cache keeps no template), and create it."""
    stable_template = None
    if action.stable_hash:
        found = await ctx.client.list(
            *kinds.REPLICA_SET,
            namespace=ctx.namespace,
            label_selector=f"{POD_TEMPLATE_HASH_LABEL}={action.stable_hash}",
        )
        uid = meta(ctx.raw).get("uid")
        for rs in found.items:
            if any(ref.get("uid") == uid for ref in meta(rs).get("ownerReferences") or []):
                stable_template = (rs.get("spec") or {}).get("template")
                break
    try:
        experiment = build_experiment(
            rollout=ctx.rollout,
            name=action.name,
            step_index=action.step_index,
            stable_template=stable_template,
            pod_template_hash=action.pod_template_hash,
            stable_hash=action.stable_hash,
            traffic_ports=_canary_service_ports(ctx),
        )
    except AnalysisRunError as exc:
        raise UserError(str(exc), reason="InvalidSpec") from exc
    # The Experiment controller shares the cache and starts running the experiment it is told of.
    await _create_ours(ctx, experiment.model_dump(by_alias=True, exclude_none=True, mode="json"))
