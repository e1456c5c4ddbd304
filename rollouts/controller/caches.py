"""The controller's watch caches and what wakes which Rollout.

One :class:`~rollouts.kube.Informer` per watched kind and namespace feeds everything a pass
reads, so observing costs no API call. Every change is mapped to the Rollout(s) it concerns and
queues them:

* a Rollout: itself;
* a ReplicaSet, AnalysisRun or canary Ingress: its controller owner (the Rollout's uid);
* a pod: only Rollouts with ``spec.restartAt`` read pods; its ReplicaSet's owner is woken;
* a Service, Ingress, VirtualService or DestinationRule: every Rollout that names it in its spec
  (a reverse index kept up to date as Rollouts change).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.kube import Informer, Key, KubeClient, KubeObject, controller_of

__all__ = ["Caches", "Watched", "references_of"]

ROLLOUT = ("rollouts.dev/v1alpha1", "Rollout")
REPLICA_SET = ("apps/v1", "ReplicaSet")
SERVICE = ("v1", "Service")
POD = ("v1", "Pod")
ANALYSIS_RUN = ("rollouts.dev/v1alpha1", "AnalysisRun")
ANALYSIS_TEMPLATE = ("rollouts.dev/v1alpha1", "AnalysisTemplate")
CLUSTER_ANALYSIS_TEMPLATE = ("rollouts.dev/v1alpha1", "ClusterAnalysisTemplate")
INGRESS = ("networking.k8s.io/v1", "Ingress")
VIRTUAL_SERVICE = ("networking.istio.io/v1", "VirtualService")
DESTINATION_RULE = ("networking.istio.io/v1", "DestinationRule")

Watched = tuple[str, str]
"""(api_version, kind)."""


def _trim_pod(pod: KubeObject) -> KubeObject:
    """Keep what the restartAt rule reads; a pod's full spec and status are most of its bytes."""
    meta = pod.get("metadata") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            k: meta[k]
            for k in (
                "name",
                "namespace",
                "uid",
                "labels",
                "ownerReferences",
                "creationTimestamp",
                "deletionTimestamp",
                "resourceVersion",
            )
            if k in meta
        },
        "ready": ready,
    }


def _trim_replica_set(rs: KubeObject) -> KubeObject:
    """Drop the pod template's spec (the largest part); the hash label names the template."""
    spec = dict(rs.get("spec") or {})
    template = spec.get("template") or {}
    spec["template"] = {"metadata": template.get("metadata") or {}}
    meta = dict(rs.get("metadata") or {})
    meta.pop("managedFields", None)
    return {**rs, "metadata": meta, "spec": spec}


def _trim_managed_fields(obj: KubeObject) -> KubeObject:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def references_of(rollout: KubeObject) -> set[tuple[str, str]]:
    """(kind, name) of every object the Rollout's spec names: Services and router objects."""
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    refs: set[tuple[str, str]] = set()
    for key in ("canary", "blueGreen"):
        part = strategy.get(key) or {}
        for field in ("canaryService", "stableService", "activeService", "previewService"):
            if part.get(field):
                refs.add(("Service", str(part[field])))
        routing = part.get("trafficRouting") or {}
        nginx = routing.get("nginx") or {}
        for name in [nginx.get("stableIngress"), *(nginx.get("stableIngresses") or [])]:
            if name:
                refs.add(("Ingress", str(name)))
        istio = routing.get("istio") or {}
        services = [istio.get("virtualService"), *(istio.get("virtualServices") or [])]
        for vs in services:
            if isinstance(vs, dict) and vs.get("name"):
                refs.add(("VirtualService", str(vs["name"])))
        rule = istio.get("destinationRule") or {}
        if rule.get("name"):
            refs.add(("DestinationRule", str(rule["name"])))
    return refs


class Caches:
    """Informers for one set of namespaces (``None``: all) and the wake-up wiring to a queue."""

    def __init__(
        self, client: KubeClient, *, namespaces: Iterable[str] | None, wake: Callable[[Key], None]
    ) -> None:
        self._client = client
        self._wake = wake
        self._namespaces: list[str | None] = list(namespaces) if namespaces is not None else [None]
        self._uid_to_key: dict[str, Key] = {}
        self._refs_by_rollout: dict[Key, set[tuple[str, str]]] = {}
        self._rollouts_by_ref: dict[tuple[str, str, str], set[Key]] = {}
        self.informers: dict[Watched, list[Informer]] = {}
        self._add(ROLLOUT, on_change=self._rollout_changed, transform=_trim_managed_fields)
        hashed = POD_TEMPLATE_HASH_LABEL
        self._add(REPLICA_SET, on_change=self._owned_changed, transform=_trim_replica_set, selector=hashed)
        self._add(POD, on_change=self._pod_changed, transform=_trim_pod, selector=hashed)
        self._add(SERVICE, on_change=self._referenced_changed("Service"), transform=_trim_managed_fields)
        self._add(ANALYSIS_RUN, on_change=self._owned_changed, transform=_trim_managed_fields, optional=True)
        self._add(ANALYSIS_TEMPLATE, transform=_trim_managed_fields, optional=True)
        self._add(CLUSTER_ANALYSIS_TEMPLATE, transform=_trim_managed_fields, optional=True, cluster=True)
        for watched, kind in (
            (INGRESS, "Ingress"),
            (VIRTUAL_SERVICE, "VirtualService"),
            (DESTINATION_RULE, "DestinationRule"),
        ):
            self._add(
                watched,
                on_change=self._router_object_changed(kind),
                transform=_trim_managed_fields,
                optional=True,
            )

    def _add(
        self,
        watched: Watched,
        *,
        on_change: Callable[[KubeObject | None, KubeObject | None], None] | None = None,
        transform: Callable[[KubeObject], KubeObject] | None = None,
        selector: str | None = None,
        optional: bool = False,
        cluster: bool = False,
    ) -> None:
        namespaces: list[str | None] = [None] if cluster else self._namespaces
        self.informers[watched] = [
            Informer(
                self._client,
                *watched,
                namespace=ns,
                label_selector=selector,
                transform=transform,
                on_change=on_change,
                optional=optional,
            )
            for ns in namespaces
        ]

    async def run(self) -> None:
        """Run every informer until cancelled."""
        async with asyncio.TaskGroup() as group:
            for informers in self.informers.values():
                for informer in informers:
                    group.create_task(
                        informer.run(), name=f"watch {informer.kind} {informer.namespace or '*'}"
                    )

    async def wait_synced(self, timeout: float | None = None) -> None:
        waits = [inf.synced.wait() for infs in self.informers.values() for inf in infs]
        await asyncio.wait_for(asyncio.gather(*waits), timeout)

    @property
    def synced(self) -> bool:
        return all(inf.synced.is_set() for infs in self.informers.values() for inf in infs)

    # -- reads ---------------------------------------------------------------------------------

    def _for(self, watched: Watched, namespace: str | None) -> Iterable[Informer]:
        informers = self.informers.get(watched, ())
        return [inf for inf in informers if inf.namespace is None or inf.namespace == namespace]

    def get(self, watched: Watched, namespace: str, name: str) -> KubeObject | None:
        for informer in self._for(watched, namespace):
            found = informer.get(namespace, name)
            if found is not None:
                return found
        return None

    def in_namespace(self, watched: Watched, namespace: str | None) -> list[KubeObject]:
        return [obj for inf in self._for(watched, namespace) for obj in inf.list(namespace)]

    def owned_by(self, watched: Watched, namespace: str, uid: str) -> list[KubeObject]:
        return [obj for inf in self._for(watched, namespace) for obj in inf.owned_by(uid)]

    def cluster_objects(self, watched: Watched) -> list[KubeObject]:
        """Every cached object of a cluster-scoped kind."""
        return [obj for inf in self.informers[watched] for obj in inf.list()]

    def rollouts(self) -> list[KubeObject]:
        return [obj for inf in self.informers[ROLLOUT] for obj in inf.list()]

    def remember_write(self, watched: Watched, obj: KubeObject, *, notify: bool = False) -> None:
        """Put the API server's answer to our own write into the cache ahead of its watch event.

        ``notify``: run the change handlers now (the watch event will be dropped as a replay);
        needed when another user of the cache must react, e.g. the AnalysisRun controller to a
        run the Rollout controller created.
        """
        namespace = (obj.get("metadata") or {}).get("namespace")
        for informer in self._for(watched, namespace):
            informer.remember(obj, notify=notify)

    # -- wake-ups ------------------------------------------------------------------------------

    def _rollout_changed(self, old: KubeObject | None, new: KubeObject | None) -> None:
        obj = new or old
        assert obj is not None
        meta = obj.get("metadata") or {}
        key: Key = (str(meta.get("namespace")), str(meta.get("name")))
        if new is None:
            self._uid_to_key.pop(str(meta.get("uid")), None)
            self._index_refs(key, set())
        else:
            self._uid_to_key[str(meta.get("uid"))] = key
            self._index_refs(key, references_of(new))
        self._wake(key)

    def _index_refs(self, key: Key, refs: set[tuple[str, str]]) -> None:
        for kind, name in self._refs_by_rollout.pop(key, set()) - refs:
            keys = self._rollouts_by_ref.get((key[0], kind, name))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._rollouts_by_ref[(key[0], kind, name)]
        for kind, name in refs:
            self._rollouts_by_ref.setdefault((key[0], kind, name), set()).add(key)
        if refs:
            self._refs_by_rollout[key] = refs

    def rollout_key(self, uid: str) -> Key | None:
        return self._uid_to_key.get(uid)

    def _owned_changed(self, old: KubeObject | None, new: KubeObject | None) -> None:
        for obj in (new, old):
            ref = controller_of(obj) if obj is not None else None
            if ref is not None and ref.get("kind") == "Rollout":
                key = self._uid_to_key.get(str(ref.get("uid")))
                if key is not None:
                    self._wake(key)
                return

    def _pod_changed(self, old: KubeObject | None, new: KubeObject | None) -> None:
        obj = new or old
        assert obj is not None
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        namespace = str((obj.get("metadata") or {}).get("namespace"))
        rs = self.get(REPLICA_SET, namespace, str(ref.get("name")))
        owner = controller_of(rs) if rs is not None else None
        key = self._uid_to_key.get(str(owner.get("uid"))) if owner is not None else None
        if key is None:
            return
        rollout = self.get(ROLLOUT, *key)
        if rollout is not None and (rollout.get("spec") or {}).get("restartAt"):
            self._wake(key)

    def _referenced_changed(self, kind: str) -> Callable[[KubeObject | None, KubeObject | None], None]:
        def changed(old: KubeObject | None, new: KubeObject | None) -> None:
            obj = new or old
            assert obj is not None
            meta = obj.get("metadata") or {}
            for key in list(
                self._rollouts_by_ref.get((str(meta.get("namespace")), kind, str(meta.get("name"))), ())
            ):
                self._wake(key)

        return changed

    def _router_object_changed(self, kind: str) -> Callable[[KubeObject | None, KubeObject | None], None]:
        by_name = self._referenced_changed(kind)

        def changed(old: KubeObject | None, new: KubeObject | None) -> None:
            by_name(old, new)
            self._owned_changed(old, new)

        return changed
