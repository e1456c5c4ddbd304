"""One reconcile runner: a work queue, workers, follow-up passes, backoff, for every kind.

The Rollout and AnalysisRun controllers each had their own copy of this plumbing, with different
error styles; a third kind (Experiments) would have made a third. The runner owns what is the
same for all of them, so each kind only writes its ``reconcile(key) -> Outcome``:

* a :class:`~rollouts.controller.queue.WorkQueue` (coalescing, one pass at a time per key, timed
  wake-ups, backoff) and ``workers`` tasks taking keys from it;
* follow-up passes: a pass whose outcome asks for another pass at once (``requeue_after == 0``:
  it just changed something and the engine moves one rule at a time) runs again in the same
  worker, up to ``follow_up_passes`` passes in a row, then the key goes back to the queue. Under
  a backlog, a step that needs two passes would otherwise wait for every other key in between;
  the bound keeps a key that never settles from holding a worker;
* ``forget`` on a pass that did not fail, ``retry`` (per-key exponential backoff) on one that
  did, ``add_after`` on ``requeue_after``;
* an unexpected exception is a bug: it is logged with its traceback, naming the kind and key,
  and retried with backoff like a failed pass; it never ends the worker, so one broken object
  cannot stop the others;
* counts (passes, seconds waiting in the queue, seconds running) and an optional observer of
  every pass (the Rollout controller's Prometheus metrics).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rollouts.controller.outcome import Outcome
from rollouts.controller.queue import WorkQueue
from rollouts.kube import Key

__all__ = ["Observer", "Outcome", "Reconcile", "Runner", "RunnerStats"]

log = logging.getLogger(__name__)

Reconcile = Callable[[Key], Awaitable[Outcome]]
"""One pass over the object ``(namespace, name)``."""

Observer = Callable[[Outcome, float], None]
"""Told of every pass: its outcome (an unexpected exception as a retry Outcome) and its seconds."""


@dataclass
class RunnerStats:
    """Totals since start, for the shutdown log line and benchmarks."""

    passes: int = 0
    waited: float = 0.0
    """Seconds keys spent queued before a worker took them."""
    running: float = 0.0
    """Seconds spent in passes."""


class Runner:
    """Runs ``reconcile`` for queued keys until cancelled: ``await Runner("Rollout", fn).run()``.

    ``kind`` names the objects in logs. ``retry_log_level``: the level of the line logged when a
    pass returns a retry Outcome (a reconciler that already logged the failure keeps it at DEBUG).
    """

    def __init__(
        self,
        kind: str,
        reconcile: Reconcile,
        *,
        workers: int = 8,
        follow_up_passes: int = 8,
        observer: Observer | None = None,
        retry_log_level: int = logging.DEBUG,
        queue: WorkQueue[Key] | None = None,
    ) -> None:
        self.kind = kind
        self.queue: WorkQueue[Key] = queue if queue is not None else WorkQueue()
        self.stats = RunnerStats()
        self._reconcile = reconcile
        self._workers = max(1, workers)
        self._follow_up_passes = max(1, follow_up_passes)
        self._observer = observer
        self._retry_log_level = retry_log_level

    async def run(self) -> None:
        """Work until cancelled; the queue is shut down when it ends."""
        try:
            async with asyncio.TaskGroup() as group:
                for index in range(self._workers):
                    group.create_task(self._work(), name=f"{self.kind.lower()}-worker-{index}")
        finally:
            self.queue.shutdown()

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            self.stats.waited += self.queue.last_wait
            try:
                for _ in range(self._follow_up_passes):
                    if not await self._pass(key):
                        break
                else:
                    self.queue.add(key)  # still changing: back of the queue, let the others run
            finally:
                self.queue.done(key)

    async def _pass(self, key: Key) -> bool:
        """One pass over ``key`` and what it schedules; True when it wants another pass at once."""
        started = time.monotonic()
        crash: Exception | None = None
        try:
            outcome = await self._reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not stop this worker or the other keys
            crash = exc
            outcome = Outcome(error=f"{type(exc).__name__}: {exc}", retry=True)
        elapsed = time.monotonic() - started
        self.stats.passes += 1
        self.stats.running += elapsed
        if self._observer is not None:
            self._observer(outcome, elapsed)
        if outcome.retry:
            delay = self.queue.retry(key)
            if crash is not None:
                log.error(
                    "%s %s/%s: pass failed unexpectedly; retrying in %.1fs",
                    self.kind,
                    *key,
                    delay,
                    exc_info=crash,
                )
            else:
                log.log(
                    self._retry_log_level,
                    "%s %s/%s: %s; retrying in %.1fs",
                    self.kind,
                    *key,
                    outcome.error,
                    delay,
                )
            return False
        if outcome.error is not None:
            log.debug("%s %s/%s: pass ended with %s", self.kind, *key, outcome.error)
        self.queue.forget(key)
        if outcome.requeue_after == 0:
            return True
        if outcome.requeue_after is not None:
            self.queue.add_after(key, outcome.requeue_after)
        return False
