"""Kubernetes Events on an object (``kubectl describe`` and ``kubectl get events`` show them).

A repeat of the same (object, type, reason, message) within the recorder's memory bumps the
existing Event's ``count`` instead of creating another, as kubelet and client-go do, so a pass that
fails the same way every few seconds does not flood the namespace.

An Event that meets an unavailable API server (restarting, overloaded) is posted again with
backoff under the same name, not dropped: an Event marks a transition that happens once (a step
completed), so losing it to a short outage would lose it for good; a create that did land before
the connection broke answers AlreadyExists on the retry and is not duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Literal

from rollouts.kube.client import KubeClient, KubeObject
from rollouts.kube.errors import AlreadyExists, KubeError, Unavailable

__all__ = ["EventRecorder", "EventType"]

EventType = Literal["Normal", "Warning"]
log = logging.getLogger(__name__)
RETRY_FIRST, RETRY_MAX = 0.5, 10.0
"""Seconds between attempts to post an Event while the API server is unavailable."""
BACKLOG = 50_000
"""Events queued before new ones are dropped. A mass update of 1,000 Rollouts emits about 16,000
Events in two minutes, faster than a loaded API server takes them (10,000 overflowed); each entry
holds the object's reference only, so a full backlog is a few tens of MiB."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventRecorder:
    """Posts core/v1 Events about objects; never raises (an Event is not worth failing a pass)."""

    def __init__(self, client: KubeClient, *, component: str = "kube-rollouts", memory: int = 2048) -> None:
        self._client = client
        self._component = component
        self._instance = f"{socket.gethostname()}-{os.getpid()}"
        self._recent: OrderedDict[tuple[str, str, str, str], tuple[str, int]] = OrderedDict()
        self._memory = memory
        self._sending = 0
        self._backlog: asyncio.Queue[tuple[KubeObject, str, str, EventType, str]] = asyncio.Queue(
            maxsize=BACKLOG
        )

    def emit(self, obj: KubeObject, *, reason: str, message: str, type: EventType = "Normal") -> None:
        """Queue an Event for :meth:`run` to post, without waiting: a pass never waits on Events.

        The time is taken now, so Events keep the order they were emitted in. Only the object's
        reference is kept: the whole object would keep every emitting version of it alive until
        the Event is posted. When the backlog is full (the API server is down), the Event is
        logged and dropped.
        """
        if self._backlog.full():
            log.warning("Event backlog full; dropping %s: %s", reason, message)
            return
        meta = obj.get("metadata") or {}
        ref = {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid") if k in meta},
        }
        self._backlog.put_nowait((ref, reason, message, type, _now()))

    @property
    def queued(self) -> int:
        """Events emitted and not yet posted (queued or being sent)."""
        return self._backlog.qsize() + self._sending

    async def run(self, *, senders: int = 4) -> None:
        """Post queued Events until cancelled (``senders`` at a time)."""

        async def send() -> None:
            while True:
                obj, reason, message, type, now = await self._backlog.get()
                self._sending += 1
                name = f"{(obj.get('metadata') or {}).get('name')}.{secrets.token_hex(8)}"
                delay = RETRY_FIRST
                try:
                    while not await self.record(
                        obj, reason=reason, message=message, type=type, now=now, name=name
                    ):
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, RETRY_MAX)
                finally:
                    self._sending -= 1

        await asyncio.gather(*(send() for _ in range(senders)))

    async def record(
        self,
        obj: KubeObject,
        *,
        reason: str,
        message: str,
        type: EventType = "Normal",
        now: str | None = None,
        name: str | None = None,
    ) -> bool:
        """Post one Event now (or bump the count of the same one recorded before).

        False when the API server was unavailable and the caller should try again later (with the
        same ``name``); True when it is done, posted or given up on (an error retrying cannot fix).
        """
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        key = (str(meta.get("uid")), type, reason, message)
        now = now or _now()
        seen = self._recent.get(key)
        try:
            if seen is not None:
                name, count = seen
                await self._client.patch(
                    "v1",
                    "Event",
                    name=name,
                    namespace=namespace,
                    patch={"count": count + 1, "lastTimestamp": now},
                )
                self._remember(key, (name, count + 1))
                return True
            name = name or f"{meta.get('name')}.{secrets.token_hex(8)}"
            # AlreadyExists: our earlier attempt landed before its connection broke.
            with contextlib.suppress(AlreadyExists):
                await self._client.create(
                    self._event(obj, name=name, reason=reason, message=message, type=type, now=now)
                )
            self._remember(key, (name, 1))
        except Unavailable as exc:
            log.warning(
                "could not record Event %s on %s/%s yet: %s", reason, namespace, meta.get("name"), exc
            )
            return False
        except KubeError as exc:
            self._recent.pop(key, None)
            log.warning("could not record Event %s on %s/%s: %s", reason, namespace, meta.get("name"), exc)
        return True

    def _remember(self, key: tuple[str, str, str, str], value: tuple[str, int]) -> None:
        self._recent[key] = value
        self._recent.move_to_end(key)
        while len(self._recent) > self._memory:
            self._recent.popitem(last=False)

    def _event(
        self, obj: KubeObject, *, name: str, reason: str, message: str, type: str, now: str
    ) -> KubeObject:
        meta = obj.get("metadata") or {}
        involved: dict[str, Any] = {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        }
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": meta.get("namespace") or "default"},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "reason": reason,
            "message": message[:1024],
            "type": type,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "eventTime": now,  # microseconds: orders Events that happen within one second
            "action": "Reconcile",
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "reportingInstance": self._instance,
        }
