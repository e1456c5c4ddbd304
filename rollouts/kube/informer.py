"""Watch caches: list once, then follow a watch, keeping every object of a kind in memory.

An :class:`Informer` is what lets a reconcile read ReplicaSets, Services, router objects and
AnalysisRuns without a LIST per pass. It keeps the latest copy of each object (optionally
trimmed by ``transform`` to save memory), an index by controller owner uid, and calls
``on_change(old, new)`` after every change so the controller can wake the owning Rollout.
When the watch breaks it resumes from the last resourceVersion; when that is too old (410 Gone)
it lists again and reports the difference, so no change is ever silently missed.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Callable

from rollouts.kube.client import KubeClient, KubeObject
from rollouts.kube.errors import Gone, KubeError
from rollouts.kube.selectors import selector_matches

__all__ = ["ChangeHandler", "Informer", "Key"]

Key = tuple[str, str]
"""(namespace, name)."""
ChangeHandler = Callable[[KubeObject | None, KubeObject | None], None]
"""Called with (old, new): ``old`` is None on add, ``new`` is None on delete. Must not block."""

log = logging.getLogger(__name__)


def _key(obj: KubeObject) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _owner_uid(obj: KubeObject) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


class Informer:
    """An in-memory, watch-fed copy of one kind in one namespace (or all: ``namespace=None``)."""

    def __init__(
        self,
        client: KubeClient,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        transform: Callable[[KubeObject], KubeObject] | None = None,
        on_change: ChangeHandler | None = None,
        optional: bool = False,
    ) -> None:
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self._client = client
        self._selector = label_selector
        self._transform = transform
        self._handlers: list[ChangeHandler] = [on_change] if on_change else []
        self._optional = optional
        self._store: dict[Key, KubeObject] = {}
        self._by_owner: dict[str, set[Key]] = {}
        self._version = ""
        self.synced = asyncio.Event()
        self.last_error: str | None = None

    def add_handler(self, handler: ChangeHandler) -> None:
        self._handlers.append(handler)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> KubeObject | None:
        return self._store.get((namespace, name))

    def list(self, namespace: str | None = None) -> list[KubeObject]:
        if namespace is None:
            return list(self._store.values())
        return [obj for (ns, _), obj in self._store.items() if ns == namespace]

    def owned_by(self, uid: str) -> builtins.list[KubeObject]:
        """Objects whose controller ownerReference points at ``uid``."""
        return [self._store[key] for key in self._by_owner.get(uid, ()) if key in self._store]

    def __len__(self) -> int:
        return len(self._store)

    def remember(self, obj: KubeObject, *, notify: bool = False) -> None:
        """Store the server's answer to our own write now, ahead of its watch event.

        Without this, a pass that starts before the watch delivers our write would decide from
        the older copy (and, say, create the ReplicaSet it has just created). Kept only when
        newer than the cached copy. The watch event of the same version is then a replay and
        runs no change handler, so by default nobody hears of the write: right for a writer that
        re-queues itself, wrong when another user of this cache must react to it (the Rollout
        owning an AnalysisRun whose status the AnalysisRun controller wrote). ``notify=True``
        runs the change handlers now, once.

        An answer the informer's label selector does not match (its labels changed meanwhile,
        say a Rollout moved to another controller's shard) is not kept: its watch would never
        remove it. A newer such answer removes the cached copy, as the watch's DELETED will.
        """
        key = _key(obj)
        old = self._store.get(key)
        if old is not None and not _newer(obj, old):
            return
        if not selector_matches(self._selector, (obj.get("metadata") or {}).get("labels")):
            if old is not None:
                self._remove(key)
            return
        obj = self._trim(obj)
        self._store[key] = obj
        self._index(key, old, obj)
        if notify:
            self._notify(old, obj)

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """List and watch forever, with capped exponential backoff on errors. Cancel to stop."""
        delay = 0.5
        loop = asyncio.get_running_loop()
        while True:
            try:
                if not self._version:
                    await self._relist()
                started, seen = loop.time(), 0
                async for event in self._client.watch(
                    self.api_version,
                    self.kind,
                    namespace=self.namespace,
                    resource_version=self._version,
                    label_selector=self._selector,
                ):
                    self._apply(event.type, event.object)
                    delay, seen = 0.5, seen + 1
                if not seen and loop.time() - started < 1.0:
                    await asyncio.sleep(delay)  # a server that ends watches at once: do not spin
            except Gone:
                self._version = ""
            except asyncio.CancelledError:
                raise
            except KubeError as exc:
                self.last_error = str(exc)
                if not (self._optional and exc.status == 404):
                    log.warning("watch of %s failed, retrying in %.1fs: %s", self.kind, delay, exc)
                self._version = self._version if exc.retryable else ""
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 30.0)
            except Exception:  # a bug in a handler must not end the watch
                log.exception("watch of %s broke; listing again", self.kind)
                self._version = ""
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _relist(self) -> None:
        try:
            listing = await self._client.list(
                self.api_version, self.kind, namespace=self.namespace, label_selector=self._selector
            )
        except KubeError as exc:
            if self._optional and exc.status == 404:
                self.synced.set()  # the kind is not installed: an empty cache is the truth
            raise
        fresh = {_key(obj): self._trim(obj) for obj in listing.items}
        for key in [k for k in self._store if k not in fresh]:
            self._remove(key)
        for key, obj in fresh.items():
            self._put(key, obj)
        self._version = listing.resource_version
        self.last_error = None
        self.synced.set()

    def _apply(self, kind: str, obj: KubeObject) -> None:
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self._version = str(version)
        if kind == "BOOKMARK":
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("watch %s %s %s/%s rv=%s", self.kind, kind, *_key(obj), version)
        key = _key(obj)
        if kind == "DELETED":
            self._remove(key)
        else:
            obj.setdefault("apiVersion", self.api_version)
            obj.setdefault("kind", self.kind)
            self._put(key, self._trim(obj))

    def _trim(self, obj: KubeObject) -> KubeObject:
        return self._transform(obj) if self._transform else obj

    def _put(self, key: Key, obj: KubeObject) -> None:
        old = self._store.get(key)
        if old is not None and (_same_version(old, obj) or _newer(old, obj)):
            return  # a replay, or older than what remember() already stored
        self._store[key] = obj
        self._index(key, old, obj)
        self._notify(old, obj)

    def _remove(self, key: Key) -> None:
        old = self._store.pop(key, None)
        if old is None:
            return
        self._index(key, old, None)
        self._notify(old, None)

    def _index(self, key: Key, old: KubeObject | None, new: KubeObject | None) -> None:
        old_uid = _owner_uid(old) if old else None
        new_uid = _owner_uid(new) if new else None
        if old_uid and old_uid != new_uid:
            keys = self._by_owner.get(old_uid)
            if keys:
                keys.discard(key)
                if not keys:
                    del self._by_owner[old_uid]
        if new_uid:
            self._by_owner.setdefault(new_uid, set()).add(key)

    def _notify(self, old: KubeObject | None, new: KubeObject | None) -> None:
        for handler in self._handlers:
            try:
                handler(old, new)
            except Exception:
                log.exception("change handler for %s failed", self.kind)


def _newer(a: KubeObject, b: KubeObject) -> bool:
    """Whether ``a`` is a later version than ``b`` (resourceVersions are etcd revisions in practice)."""
    try:
        return int(str((a.get("metadata") or {}).get("resourceVersion"))) > int(
            str((b.get("metadata") or {}).get("resourceVersion"))
        )
    except (TypeError, ValueError):
        return False


def _same_version(a: KubeObject, b: KubeObject) -> bool:
    va = (a.get("metadata") or {}).get("resourceVersion")
    return bool(va) and va == (b.get("metadata") or {}).get("resourceVersion")
