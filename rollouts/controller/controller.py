"""The controller process: watch caches, a work queue, workers running passes, the AnalysisRun
controller on the same AnalysisRun caches, HTTP endpoints.

Nothing is kept only in memory that the next process would need: wake-ups are re-computed from
each Rollout's status by its first pass after a start, so a restart (or a SIGKILL) loses nothing.
Leader election is not implemented: run one replica.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rollouts.controller import caches as kinds
from rollouts.controller.analysisruns import AnalysisRunController, AnalysisRunOptions
from rollouts.controller.caches import Caches
from rollouts.controller.leader import LeaderElector, LeaseOptions
from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.queue import WorkQueue
from rollouts.controller.reconciler import Reconciler
from rollouts.controller.server import serve
from rollouts.kube import EventRecorder, Key, KubeClient

__all__ = ["Controller", "ControllerOptions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ControllerOptions:
    """How to run: which namespaces (``None``: all), ports (0: pick a free one, -1: off), workers."""

    namespaces: Sequence[str] | None = None
    metrics_port: int = 8080
    health_port: int = 8081
    bind: str = "0.0.0.0"
    workers: int = 8
    resync_seconds: float = 300.0
    follow_up_passes: int = 8
    """Passes in a row one worker may give a Rollout that keeps changing, before re-queueing it."""
    prometheus_address: str | None = None
    """Default Prometheus of analysis metrics that name no address (``None``: $PROMETHEUS_ADDRESS)."""
    leader_election: LeaseOptions | None = None
    """Act only while holding this Lease (``None``: always act; run one replica then)."""


class Controller:
    """Runs until cancelled. ``await Controller(client, options).run()``."""

    def __init__(self, client: KubeClient, options: ControllerOptions) -> None:
        self.options = options
        self.queue: WorkQueue[Key] = WorkQueue()
        self.caches = Caches(client, namespaces=options.namespaces, wake=self.queue.add)
        # Measures AnalysisRuns off the same AnalysisRun watch caches (no second watch).
        self.analysis = AnalysisRunController(
            client,
            AnalysisRunOptions(namespaces=options.namespaces, prometheus_address=options.prometheus_address),
            informers=self.caches.informers[kinds.ANALYSIS_RUN],
        )
        self.metrics = ControllerMetrics(
            phases=self._phases,
            analysis_measurements=lambda: self.analysis.stats.by_phase,
            analysis_status_writes=lambda: self.analysis.stats.status_writes,
        )
        self.recorder = EventRecorder(client)
        self.reconciler = Reconciler(client=client, caches=self.caches, recorder=self.recorder)
        self._client = client
        self.elector = LeaderElector(client, options.leader_election) if options.leader_election else None
        self._passes = 0
        self._waited = 0.0
        self._running = 0.0

    def _phases(self) -> Counter[str]:
        return Counter(str((r.get("status") or {}).get("phase") or "Unknown") for r in self.caches.rollouts())

    def _ready(self) -> bool:
        """Ready: a leader once its caches are synced; a standby at once (it serves, and waits to lead)."""
        return self.caches.synced or (self.elector is not None and not self.elector.leading)

    async def run(self) -> None:
        servers = await self._serve()
        try:
            if self.elector is not None:
                await self.elector.acquire()
            async with asyncio.TaskGroup() as group:
                if self.elector is not None:
                    group.create_task(self.elector.hold(), name="leader-lease")
                group.create_task(self.caches.run(), name="watches")
                group.create_task(self.recorder.run(), name="events")
                await self.caches.wait_synced()
                log.info("watch caches synced: %d Rollouts", len(self.caches.rollouts()))
                for index in range(self.options.workers):
                    group.create_task(self._work(), name=f"worker-{index}")
                group.create_task(self._resync(), name="resync")
                group.create_task(self.analysis.run(), name="analysisruns")
        finally:
            self.queue.shutdown()
            if self.elector is not None:
                await self.elector.release()
            log.info(
                "%d passes (%.1f s waiting in the queue, %.1f s running); API requests: %s",
                self._passes,
                self._waited,
                self._running,
                ", ".join(f"{k} {n}" for k, n in sorted(self._client.requests.items())),
            )
            for server in servers:
                server.close()

    async def _serve(self) -> list[asyncio.Server]:
        servers: list[asyncio.Server] = []
        opts = self.options
        if opts.metrics_port >= 0:
            servers.append(
                await serve(
                    host=opts.bind,
                    port=opts.metrics_port,
                    metrics=self.metrics.render,
                    ready=self._ready,
                )
            )
        if opts.health_port >= 0 and opts.health_port != opts.metrics_port:
            servers.append(
                await serve(
                    host=opts.bind,
                    port=opts.health_port,
                    metrics=self.metrics.render,
                    ready=self._ready,
                )
            )
        for server in servers:
            for sock in server.sockets:
                log.info("serving /metrics /healthz /readyz on %s:%d", *sock.getsockname()[:2])
        return servers

    async def _resync(self) -> None:
        """Every ``resync_seconds``, a pass for every Rollout: a safety net, never the mechanism."""
        while True:
            await asyncio.sleep(self.options.resync_seconds)
            for rollout in self.caches.rollouts():
                meta = rollout.get("metadata") or {}
                self.queue.add((str(meta.get("namespace")), str(meta.get("name"))))

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            self._waited += self.queue.last_wait
            try:
                for _ in range(self.options.follow_up_passes):
                    again = await self._pass(key)
                    if not again:
                        break
                else:
                    self.queue.add(key)
            finally:
                self.queue.done(key)

    async def _pass(self, key: Key) -> bool:
        """Run one pass; True when the Rollout wants another pass at once (it just changed something).

        The follow-up pass runs in the same worker rather than at the back of the queue: under a
        backlog of many Rollouts, a step that needs two passes (advance, then set the weight)
        would otherwise wait for every other Rollout in between.
        """
        started = time.monotonic()
        try:
            outcome = await self.reconciler.reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not stop this worker or other Rollouts
            log.exception("rollout %s/%s: pass failed unexpectedly", *key)
            self.metrics.observe_error(type(exc).__name__)
            self.metrics.observe_reconcile(seconds=time.monotonic() - started, outcome="error")
            delay = self.queue.retry(key)
            log.info("rollout %s/%s: retrying in %.1fs", *key, delay)
            return False
        elapsed = time.monotonic() - started
        self._passes += 1
        self._running += elapsed
        if outcome.error is not None:
            self.metrics.observe_error(outcome.error.split(":")[0])
            log.debug("rollout %s/%s: pass ended with %s", *key, outcome.error)
        if outcome.retry:
            self.metrics.observe_reconcile(seconds=elapsed, outcome="error")
            self.queue.retry(key)
            return False
        self.metrics.observe_reconcile(seconds=elapsed, outcome="ok" if outcome.error is None else "requeue")
        self.queue.forget(key)
        if outcome.requeue_after == 0:
            return True
        if outcome.requeue_after is not None:
            self.queue.add_after(key, outcome.requeue_after)
        return False
