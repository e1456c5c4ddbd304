"""The controller process: watch caches, a runner of Rollout passes (its work queue and workers:
:mod:`~rollouts.controller.runner`), the AnalysisRun controller on the same AnalysisRun caches,
the Experiment controller reading what its experiments own from the same caches, HTTP endpoints.

Nothing is kept only in memory that the next process would need: wake-ups are re-computed from
each Rollout's status by its first pass after a start, so a restart (or a SIGKILL) loses nothing.
With leader election (:mod:`~rollouts.controller.leader`) several replicas run and one acts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rollouts.controller import caches as kinds
from rollouts.controller.analysisruns import AnalysisRunController, AnalysisRunOptions
from rollouts.controller.caches import Caches
from rollouts.controller.experiments import ExperimentController
from rollouts.controller.leader import LeaderElector, LeaseOptions
from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.outcome import Outcome
from rollouts.controller.queue import WorkQueue
from rollouts.controller.reconciler import Reconciler
from rollouts.controller.runner import Runner
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
    instance_id: str | None = None
    """Serve only the Rollouts labelled ``rollouts.dev/instance`` with this id (``None``: only the
    unlabelled ones); several controllers split a cluster this way (``engine/shards.py``)."""


class Controller:
    """Runs until cancelled. ``await Controller(client, options).run()``."""

    def __init__(self, client: KubeClient, options: ControllerOptions) -> None:
        self.options = options
        self.runner = Runner(
            "Rollout",
            self._reconcile,
            workers=options.workers,
            follow_up_passes=options.follow_up_passes,
            observer=self._observe,
        )
        self.queue: WorkQueue[Key] = self.runner.queue
        self.caches = Caches(
            client, namespaces=options.namespaces, wake=self.queue.add, instance_id=options.instance_id
        )
        # Measures AnalysisRuns off the same AnalysisRun watch caches (no second watch).
        self.analysis = AnalysisRunController(
            client,
            AnalysisRunOptions(
                namespaces=options.namespaces,
                prometheus_address=options.prometheus_address,
                instance_id=options.instance_id,
            ),
            informers=self.caches.informers[kinds.ANALYSIS_RUN],
        )
        self.metrics = ControllerMetrics(
            phases=self._phases,
            analysis_measurements=lambda: self.analysis.stats.by_phase,
            analysis_status_writes=lambda: self.analysis.stats.status_writes,
            api_requests=lambda: client.requests,
            events_queued=lambda: self.recorder.queued,
        )
        self.recorder = EventRecorder(client)
        self.experiments = ExperimentController(client, self.caches, recorder=self.recorder)
        self.reconciler = Reconciler(client=client, caches=self.caches, recorder=self.recorder)
        self._client = client
        self.elector = LeaderElector(client, options.leader_election) if options.leader_election else None

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
                group.create_task(self.runner.run(), name="rollout-workers")
                group.create_task(self._resync(), name="resync")
                group.create_task(self.analysis.run(), name="analysisruns")
                group.create_task(self.experiments.run(), name="experiments")
        finally:
            self.queue.shutdown()
            if self.elector is not None:
                await self.elector.release()
            log.info(
                "%d passes (%.1f s waiting in the queue, %.1f s running); API requests: %s",
                self.runner.stats.passes,
                self.runner.stats.waited,
                self.runner.stats.running,
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

    async def _reconcile(self, key: Key) -> Outcome:
        return await self.reconciler.reconcile(key)

    def _observe(self, outcome: Outcome, seconds: float) -> None:
        """The pass's metrics: ``ok``, ``requeue`` (it ended with an error it recovers from by
        passing again, such as a conflict) or ``error`` (retried with backoff)."""
        if outcome.error is not None:
            self.metrics.observe_error(outcome.error.split(":")[0])
        label = "error" if outcome.retry else "ok" if outcome.error is None else "requeue"
        self.metrics.observe_reconcile(seconds=seconds, outcome=label)
