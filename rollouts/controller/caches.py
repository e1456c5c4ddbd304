"""The controller's watch caches and what wakes which Rollout.

One :class:`~rollouts.kube.Informer` per watched kind and namespace feeds everything a pass
reads, so observing costs no API call. The kinds are the controller's own (Rollouts and what
they own: ReplicaSets, pods, AnalysisRuns) plus every kind a Rollout can name, as declared by
:mod:`rollouts.controller.reads` (Services, templates, each router's kinds). Every change is
mapped to the Rollout(s) it concerns and queues them:

* a Rollout: itself;
* an object of an ``owned`` kind (ReplicaSet, AnalysisRun, canary Ingress): its controller
  owner (the Rollout's uid);
* a pod: only Rollouts with ``spec.restartAt`` read pods; its ReplicaSet's owner is woken;
* any object of a declared kind: every Rollout whose references name it (a reverse index kept
  up to date as Rollouts change, built from the same declarations the observe step reads).

The caches also keep one parsed model per uid and version (:class:`ParsedByVersion`): of each
Rollout (the reverse index needs the parsed spec, and the pass then reuses it instead of parsing
again) and of each template a pass reads.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from rollouts.api import AnalysisTemplate, ClusterAnalysisTemplate, InvalidObjectError, Rollout, parse_rollout
from rollouts.api.validation import parse_as
from rollouts.controller import reads
from rollouts.engine import references as declared
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.references import Kind
from rollouts.engine.shards import instance_selector
from rollouts.engine.snapshot import Template
from rollouts.kube import Informer, Key, KubeClient, KubeObject, appliers_of, controller_of, pod_ready
from rollouts.traffic import declared_kinds, references_of

__all__ = ["Caches", "ParsedByVersion", "Watched"]

Watched = tuple[str, str]
"""(api_version, kind)."""

M = TypeVar("M")

ROLLOUT: Watched = reads.ROLLOUT.key
REPLICA_SET: Watched = reads.REPLICA_SET.key
POD: Watched = reads.POD.key
ANALYSIS_RUN: Watched = reads.ANALYSIS_RUN.key
EXPERIMENT: Watched = reads.EXPERIMENT.key
SERVICE: Watched = declared.SERVICE.key
ANALYSIS_TEMPLATE: Watched = declared.ANALYSIS_TEMPLATE.key
CLUSTER_ANALYSIS_TEMPLATE: Watched = declared.CLUSTER_ANALYSIS_TEMPLATE.key

_IndexKey = tuple[str, Watched, str]
"""(namespace, kind, name) of an object Rollouts name; namespace "" for a cluster-scoped kind."""


def _trim_pod(pod: KubeObject) -> KubeObject:
    """Keep what the restartAt rule reads; a pod's full spec and status are most of its bytes."""
    meta = pod.get("metadata") or {}
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
        "ready": pod_ready(pod),
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


def _trim_keeping_appliers(kind: Kind) -> Callable[[KubeObject], KubeObject]:
    """The trim for a kind the controller writes a field of (``Kind.writes``): of managedFields keep
    only who server-side applies that field, one small entry each, for ``observe.shared_field``."""
    written = kind.writes
    if written is None:
        return _trim_managed_fields
    keys = written.keys

    def trim(obj: KubeObject) -> KubeObject:
        appliers = appliers_of(obj, *keys)
        trimmed = _trim_managed_fields(obj)
        if not appliers:
            return trimmed
        fields: dict[str, object] = {}
        for key in reversed(keys):
            fields = {f"f:{key}": fields}
        entries = [{"manager": m, "operation": "Apply", "fieldsV1": fields} for m in appliers]
        return {**trimmed, "metadata": {**trimmed["metadata"], "managedFields": entries}}

    return trim


class ParsedByVersion(Generic[M]):
    """One parsed model per uid, reused while the object's resourceVersion is unchanged.

    Passes read the same objects again and again (a Rollout on every pass, its templates on every
    pass of a Rollout with analysis); parsing is most of their cost, so each version is parsed
    once. One entry per uid: a parsed Rollout is tens of kilobytes, and every status write makes
    a new version, so keeping old versions would grow with every pass.
    """

    def __init__(self, parse: Callable[[KubeObject], M], *, limit: int = 10000) -> None:
        self._parse = parse
        self._parsed: OrderedDict[str, tuple[str, M]] = OrderedDict()
        self._limit = limit

    def parse(self, raw: KubeObject) -> M:
        """The parsed model; raises what the parser raises (nothing is cached then)."""
        meta = raw.get("metadata") or {}
        uid, version = str(meta.get("uid")), str(meta.get("resourceVersion"))
        found = self._parsed.get(uid)
        if found is not None and found[0] == version:
            self._parsed.move_to_end(uid)
            return found[1]
        model = self._parse(raw)
        self._parsed[uid] = (version, model)
        self._parsed.move_to_end(uid)
        while len(self._parsed) > self._limit:
            self._parsed.popitem(last=False)
        return model

    def forget(self, uid: str) -> None:
        self._parsed.pop(uid, None)


def _parse_template(raw: KubeObject) -> Template:
    """Parsed with the API's own checks (``parse_as``), which refuse what the model alone would
    crash on (junk nested too deeply); an invalid template raises InvalidObjectError."""
    return parse_as(
        ClusterAnalysisTemplate if raw.get("kind") == "ClusterAnalysisTemplate" else AnalysisTemplate, raw
    )


class Caches:
    """Informers for one set of namespaces (``None``: all) and the wake-up wiring to a queue."""

    def __init__(
        self,
        client: KubeClient,
        *,
        namespaces: Iterable[str] | None,
        wake: Callable[[Key], None],
        instance_id: str | None = None,
    ) -> None:
        self._client = client
        self.instance_id = instance_id
        # This shard's Rollouts, AnalysisRuns and Experiments (engine/shards.py); what they own is
        # watched whole, and only wakes the Rollouts (and Experiments) these caches know.
        shard = instance_selector(instance_id)
        self._wake = wake
        self._namespaces: list[str | None] = list(namespaces) if namespaces is not None else [None]
        self._uid_to_key: dict[str, Key] = {}
        self._refs_by_rollout: dict[Key, set[_IndexKey]] = {}
        self._rollouts_by_ref: dict[_IndexKey, set[Key]] = {}
        self.parsed: ParsedByVersion[Rollout] = ParsedByVersion(parse_rollout)
        self.parsed_templates: ParsedByVersion[Template] = ParsedByVersion(_parse_template)
        self._deleted: dict[Key, KubeObject] = {}
        self._arrived: set[str] = set()
        self.informers: dict[Watched, list[Informer]] = {}
        self._add(reads.ROLLOUT, on_change=self._rollout_changed, selector=shard)
        hashed = POD_TEMPLATE_HASH_LABEL
        self._add(
            reads.REPLICA_SET, on_change=self._owned_changed, transform=_trim_replica_set, selector=hashed
        )
        self._add(reads.POD, on_change=self._pod_changed, transform=_trim_pod, selector=hashed)
        self._add(reads.ANALYSIS_RUN, on_change=self._owned_changed, selector=shard)
        self._add(reads.EXPERIMENT, on_change=self._owned_changed, selector=shard)
        for kind in declared_kinds():
            self._add(kind, on_change=self._declared_changed(kind), transform=_trim_keeping_appliers(kind))

    def _add(
        self,
        kind: Kind,
        *,
        on_change: Callable[[KubeObject | None, KubeObject | None], None],
        transform: Callable[[KubeObject], KubeObject] = _trim_managed_fields,
        selector: str | None = None,
    ) -> None:
        namespaces: list[str | None] = [None] if kind.cluster_scoped else self._namespaces
        self.informers[kind.key] = [
            Informer(
                self._client,
                *kind.key,
                namespace=ns,
                label_selector=selector,
                transform=transform,
                on_change=on_change,
                optional=kind.optional,
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

    def remember(self, obj: KubeObject, notify: bool = False) -> None:
        """:meth:`remember_write` for an answer that names its own kind (every API answer does)."""
        self.remember_write((str(obj.get("apiVersion")), str(obj.get("kind"))), obj, notify=notify)

    # -- wake-ups ------------------------------------------------------------------------------

    def _rollout_changed(self, old: KubeObject | None, new: KubeObject | None) -> None:
        obj = new or old
        assert obj is not None
        meta = obj.get("metadata") or {}
        key: Key = (str(meta.get("namespace")), str(meta.get("name")))
        uid = str(meta.get("uid"))
        if new is None:
            self._uid_to_key.pop(uid, None)
            self._arrived.discard(uid)
            self.parsed.forget(uid)
            self._index_refs(key, set())
            self._deleted[key] = obj
        else:
            if old is None:
                self._arrived.add(uid)
            self._deleted.pop(key, None)
            self._uid_to_key[uid] = key
            self._index_refs(key, self._index_keys(key[0], new))
        self._wake(key)

    def _index_keys(self, namespace: str, raw: KubeObject) -> set[_IndexKey]:
        """What the Rollout names, as reverse-index keys; nothing while it does not parse."""
        try:
            rollout = self.parsed.parse(raw)
        except InvalidObjectError:
            return set()
        return {
            ("" if ref.kind.cluster_scoped else namespace, ref.kind.key, ref.name)
            for ref in references_of(rollout)
        }

    def _index_refs(self, key: Key, refs: set[_IndexKey]) -> None:
        for ref in self._refs_by_rollout.pop(key, set()) - refs:
            keys = self._rollouts_by_ref.get(ref)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._rollouts_by_ref[ref]
        for ref in refs:
            self._rollouts_by_ref.setdefault(ref, set()).add(key)
        if refs:
            self._refs_by_rollout[key] = refs

    def take_deleted(self, key: Key) -> KubeObject | None:
        """The last copy of a Rollout whose deletion was watched, once (for the router's cleanup).

        In memory only: a deletion while no controller runs is not cleaned up (docs/design.md).
        Not proof of a deletion: a Rollout relabelled into another shard leaves this shard's
        watch with the same DELETED event (the reconciler asks the API server before cleaning up).
        """
        return self._deleted.pop(key, None)

    def keep_deleted(self, key: Key, last: KubeObject) -> None:
        """Put back what :meth:`take_deleted` gave, for a pass that could not finish with it."""
        self._deleted.setdefault(key, last)

    def take_arrived(self, uid: str) -> bool:
        """Whether the Rollout came into these caches (first listed, or moved into this shard)
        since the last call; its first pass claims its children (``controller/shards.py``)."""
        if uid in self._arrived:
            self._arrived.discard(uid)
            return True
        return False

    def mark_arrived(self, uid: str) -> None:
        self._arrived.add(uid)

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

    def _declared_changed(self, kind: Kind) -> Callable[[KubeObject | None, KubeObject | None], None]:
        """Wake every Rollout that names the object (and, for an owned kind, its owner)."""

        def changed(old: KubeObject | None, new: KubeObject | None) -> None:
            obj = new or old
            assert obj is not None
            meta = obj.get("metadata") or {}
            namespace = "" if kind.cluster_scoped else str(meta.get("namespace"))
            for key in list(self._rollouts_by_ref.get((namespace, kind.key, str(meta.get("name"))), ())):
                self._wake(key)
            if new is None:
                self.parsed_templates.forget(str(meta.get("uid")))
            if kind.owned:
                self._owned_changed(old, new)

        return changed
