"""The only layer that talks to the Kubernetes API: an async client, watch caches and Events.

Everything is ``async`` (the controller runs one asyncio loop). Objects are plain dicts as the API
server sends them (``KubeObject``); kinds are addressed by ``(api_version, kind)``, e.g.
``("networking.k8s.io/v1", "Ingress")`` or ``("networking.istio.io/v1", "VirtualService")``; custom
kinds not in :data:`rollouts.kube.resources.KNOWN` are found through API discovery.

Public API::

    client = KubeClient.from_config()                    # $KUBECONFIG / ~/.kube/config / in-cluster
    obj  = await client.get("networking.k8s.io/v1", "Ingress", namespace="ns", name="web")
    obj  = await client.get_or_none(...)                 # None instead of NotFound
    lst  = await client.list("apps/v1", "ReplicaSet", namespace="ns", label_selector="a=b")
    obj  = await client.create(obj)                      # namespace from obj.metadata
    obj  = await client.replace(obj, subresource=None)   # PUT; resourceVersion set => Conflict if stale
    obj  = await client.patch(api_version, kind, namespace=, name=, patch={...},
                              patch_type="merge" | "json" | "strategic", subresource=None)
    obj  = await client.apply(obj, force=False)          # server-side apply, fieldManager "kube-rollouts"
    await client.delete(api_version, kind, namespace=, name=, missing_ok=True, uid=None)
    async for ev in client.watch(api_version, kind, resource_version=..., namespace=...): ...
    await client.close()

    await EventRecorder(client).record(obj, reason="WeightSet", message="...", type="Normal")

    informer = Informer(client, "apps/v1", "ReplicaSet", namespace="ns", on_change=cb)
    task = asyncio.create_task(informer.run()); await informer.synced.wait()
    informer.get(ns, name); informer.list(ns); informer.owned_by(owner_uid)

Errors (:mod:`rollouts.kube.errors`): every failed request raises a :class:`KubeError` subclass
whose message names the request (verb, kind, namespace/name) and the server's reason:
:class:`NotFound` (404, also "CRD not installed"), :class:`Conflict` (409 stale resourceVersion or
server-side-apply conflict with another field manager), :class:`AlreadyExists` (409 on create),
:class:`Forbidden` (403), :class:`Invalid` (400/422), :class:`Gone` (410, watch too old),
:class:`Unavailable` (unreachable, timeout, 429, 5xx; ``retryable``).

Server-side apply: send only the fields kube-rollouts owns (e.g. a Service's
``spec.selector[rollouts-pod-template-hash]``, an Ingress's canary-weight annotation) with
apiVersion, kind, metadata.name/namespace; the API server records them under the field manager
``kube-rollouts`` so a GitOps diff tells them apart from the user's. A Service's
``spec.selector`` is an *atomic* map for server-side apply: whoever applies it owns all of it, so
apply the whole selector (the user's keys plus the hash) with ``force=True``; a field another
manager owns with another value otherwise raises :class:`Conflict`.
"""

from __future__ import annotations

from rollouts.kube.client import FIELD_MANAGER, KubeClient, KubeObject, ObjectList, PatchType, WatchEvent
from rollouts.kube.config import ClusterConfig, ConfigError, load_config
from rollouts.kube.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    Unavailable,
)
from rollouts.kube.events import EventRecorder, EventType
from rollouts.kube.informer import ChangeHandler, Informer, Key
from rollouts.kube.objects import appliers_of, controller_of, is_owned_by, meta, owner_reference, pod_ready
from rollouts.kube.resources import Resource

__all__ = [
    "FIELD_MANAGER",
    "AlreadyExists",
    "ChangeHandler",
    "ClusterConfig",
    "ConfigError",
    "Conflict",
    "EventRecorder",
    "EventType",
    "Forbidden",
    "Gone",
    "Informer",
    "Invalid",
    "Key",
    "KubeClient",
    "KubeError",
    "KubeObject",
    "NotFound",
    "ObjectList",
    "PatchType",
    "Resource",
    "Unavailable",
    "WatchEvent",
    "appliers_of",
    "controller_of",
    "is_owned_by",
    "load_config",
    "meta",
    "owner_reference",
    "pod_ready",
]
