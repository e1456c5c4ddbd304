"""The real Rollout controller's pass over the in-memory API server (:class:`FakeApi`), no cluster.

The real :class:`~rollouts.controller.reconciler.Reconciler`, watch caches, engine and act step;
the clock moves 10 s a pass, and the ReplicaSet controller is played between passes.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.controller.caches import Caches
from rollouts.controller.outcome import Outcome
from rollouts.controller.reconciler import Reconciler
from tests.unit.volume.bounds import bounded
from tests.unit.volume.cluster import FakeApi, Recorder
from tests.unit.volume.valid import NAME, NAMESPACE

__all__ = ["KEY", "ROLLOUT_KEY", "T0", "Controller"]

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
KEY = (NAMESPACE, NAME)
ROLLOUT_KEY = ("rollouts.dev/v1alpha1", "Rollout", NAMESPACE, NAME)


class Controller:
    """One Rollout controller over a :class:`FakeApi` holding ``objects``."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.api = FakeApi()
        self.recorder = Recorder()
        self.caches = Caches(self.api, namespaces=[NAMESPACE], wake=lambda key: None)  # type: ignore[arg-type]
        self._passes = 0
        self.outcomes: list[Outcome] = []
        self.reconciler = Reconciler(
            client=self.api,  # type: ignore[arg-type]
            caches=self.caches,
            recorder=self.recorder,  # type: ignore[arg-type]
            clock=lambda: T0 + timedelta(seconds=10 * self._passes),
        )
        for obj in objects:
            self.caches.remember(self.api.store(obj, NAMESPACE), notify=True)

    def reconcile(self, passes: int = 1) -> list[Outcome]:
        outcomes = []
        for _ in range(passes):
            self._passes += 1
            with bounded():
                outcomes.append(asyncio.run(self.reconciler.reconcile(KEY)))
            for rs in self.api.settle():
                self.caches.remember(rs, notify=True)
            for gone in self.api.take_deleted():  # the watch's DELETED events
                for informer in self.caches.informers.get((gone["apiVersion"], gone["kind"]), []):
                    informer._apply("DELETED", gone)
        return outcomes

    def edit(self, key: tuple[str, str, str, str], body: dict[str, Any]) -> None:
        """A user's ``kubectl apply`` of ``body`` over the stored object (its status kept)."""
        stored = self.api.objects[key]
        meta = {**stored["metadata"], "generation": stored["metadata"].get("generation", 1) + 1}
        new = {**body, "metadata": meta}
        if "status" in stored:
            new["status"] = stored["status"]
        self.caches.remember(self.api.store(new), notify=True)

    def deliver(self, rollout: dict[str, Any], passes: int) -> dict[str, Any]:
        """Deploy ``rollout`` (the first revision goes straight to stable), then apply a second
        revision of it and run ``passes`` passes of its delivery; that revision's manifest."""
        self.reconcile(2)
        update = copy.deepcopy(rollout)
        container = update["spec"]["template"]["spec"]["containers"][0]
        container["image"] = container["image"] + "-next"
        self.edit(ROLLOUT_KEY, update)
        self.outcomes = self.reconcile(passes)
        return update

    @property
    def status(self) -> dict[str, Any]:
        return copy.deepcopy(self.api.objects[ROLLOUT_KEY].get("status") or {})
