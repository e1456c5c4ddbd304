"""A tiny in-memory API server for driving the real reconciler over generated Rollouts, no cluster.

It stores objects by (apiVersion, kind, namespace, name), gives every write a new resourceVersion
(so the watch caches take it as newer), and applies merge patches, JSON patches and server-side
applies the simple way. It runs no other controller: :meth:`settle` plays the ReplicaSet
controller, making every ReplicaSet's pods available, so a delivery can move between passes.
It is no model of the API server's validation: what the generated objects test is the
controller's own handling of them.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from rollouts.kube import AlreadyExists, NotFound
from tests.unit.traffic.jsonpatch import apply_patch

ObjectKey = tuple[str, str, str, str]

CLUSTER_SCOPED = frozenset({"ClusterAnalysisTemplate"})


def _merge(base: Any, patch: Any) -> Any:
    """RFC 7386: maps merge key by key (null deletes), anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(base) if isinstance(base, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


class FakeApi:
    """The subset of :class:`~rollouts.kube.KubeClient` a pass uses, over a dict of objects."""

    def __init__(self) -> None:
        self.objects: dict[ObjectKey, dict[str, Any]] = {}
        self._versions = itertools.count(100)
        self.writes = 0
        self.deleted: list[dict[str, Any]] = []
        """Objects deleted since the watch last delivered them (:meth:`take_deleted`)."""

    def _key(self, api_version: str, kind: str, namespace: str | None, name: str | None) -> ObjectKey:
        return (api_version, kind, "" if kind in CLUSTER_SCOPED else str(namespace or ""), str(name))

    def _key_of(self, obj: Mapping[str, Any], namespace: str | None = None) -> ObjectKey:
        meta = obj.get("metadata") or {}
        return self._key(
            str(obj.get("apiVersion")),
            str(obj.get("kind")),
            namespace or meta.get("namespace"),
            meta.get("name"),
        )

    def store(self, obj: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Keep ``obj`` as the server would: a new resourceVersion, a uid; the stored copy."""
        stored = copy.deepcopy(dict(obj))
        meta = stored.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._versions))
        meta.setdefault("uid", f"uid-{meta.get('name')}-{stored.get('kind')}")
        meta.setdefault("creationTimestamp", "2024-05-01T11:00:00Z")
        meta.setdefault("generation", 1)
        if namespace and stored.get("kind") not in CLUSTER_SCOPED:
            meta.setdefault("namespace", namespace)
        self.objects[self._key_of(stored)] = stored
        self.writes += 1
        return copy.deepcopy(stored)

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, api_version: str, kind: str, *, name: str, namespace: str | None = None) -> Any:
        found = self.objects.get(self._key(api_version, kind, namespace, name))
        if found is None:
            raise NotFound(f"{kind} {namespace}/{name} not found", status=404)
        return copy.deepcopy(found)

    async def get_or_none(
        self, api_version: str, kind: str, *, name: str, namespace: str | None = None
    ) -> Any:
        found = self.objects.get(self._key(api_version, kind, namespace, name))
        return None if found is None else copy.deepcopy(found)

    # -- writes --------------------------------------------------------------------------------

    async def create(
        self, obj: dict[str, Any], *, namespace: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        if self._key_of(obj, namespace) in self.objects:
            raise AlreadyExists(f"{obj.get('kind')} exists", status=409)
        return obj if dry_run else self.store(obj, namespace)

    async def replace(
        self, obj: dict[str, Any], *, namespace: str | None = None, subresource: str | None = None
    ) -> dict[str, Any]:
        key = self._key_of(obj, namespace)
        if key not in self.objects:
            raise NotFound(f"{obj.get('kind')} not found", status=404)
        if subresource == "status":
            obj = {**self.objects[key], "status": obj.get("status")}
        return self.store(obj, namespace)

    async def patch(
        self,
        api_version: str,
        kind: str,
        *,
        name: str,
        patch: Mapping[str, Any] | Sequence[Any],
        namespace: str | None = None,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        key = self._key(api_version, kind, namespace, name)
        if key not in self.objects:
            raise NotFound(f"{kind} {namespace}/{name} not found", status=404)
        current = self.objects[key]
        if patch_type == "json":
            ops = [op for op in patch if isinstance(op, dict) and op.get("op") != "test"]
            patched = apply_patch(current, ops)
        else:
            patched = _merge(current, patch)
        return self.store(patched, namespace)

    async def apply(self, obj: dict[str, Any], *, namespace: str | None = None, **_: Any) -> dict[str, Any]:
        key = self._key_of(obj, namespace)
        current = self.objects.get(key, {})
        return self.store(_merge(current, obj), namespace)

    async def delete(
        self, api_version: str, kind: str, *, name: str, namespace: str | None = None, **_: Any
    ) -> None:
        gone = self.objects.pop(self._key(api_version, kind, namespace, name), None)
        if gone is not None:
            self.deleted.append(gone)

    def take_deleted(self) -> list[dict[str, Any]]:
        gone, self.deleted = self.deleted, []
        return gone

    # -- the other controllers -----------------------------------------------------------------

    def settle(self) -> list[dict[str, Any]]:
        """Every ReplicaSet's pods up and available; the ReplicaSets whose status changed."""
        changed = []
        for key, obj in list(self.objects.items()):
            if obj.get("kind") != "ReplicaSet":
                continue
            replicas = int((obj.get("spec") or {}).get("replicas", 1))
            status = {
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "observedGeneration": (obj.get("metadata") or {}).get("generation", 1),
            }
            if obj.get("status") != status:
                changed.append(self.store({**self.objects[key], "status": status}))
        return changed


class Recorder:
    """Collects Events instead of posting them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def emit(self, obj: Any, *, reason: str, message: str, type: str = "Normal") -> None:
        self.events.append((type, reason, message))
