"""The work queue: which Rollouts need a pass, one pass at a time per Rollout.

Semantics follow client-go's rate-limited delaying queue, because they are what makes a
level-triggered controller correct and cheap:

* a key is queued at most once however many changes arrive (changes coalesce into one pass);
* a key being processed is never handed to a second worker; a change during its pass marks it
  dirty, and it is queued again when the pass ends (so the change is never lost);
* ``add_after`` schedules a wake-up (pause end, scale-down deadline); only the earliest pending
  wake-up per key is kept, and the schedule lives in memory only: after a restart every Rollout
  gets a pass anyway, and that pass computes its wake-ups again from the status;
* ``retry`` re-queues a failed key with per-key exponential backoff; ``forget`` resets it;
* a wake-up that comes due (``add_after``) goes to a lane of its own, served ahead of ordinary
  change notifications by ``due_lead`` seconds: a due key is taken first unless the ordinary
  lane's oldest key has waited ``due_lead`` seconds longer than it. A pause that ends is the
  moment a step may advance, and a wake-up at the back of one FIFO waited for the whole backlog.
  But the lead is bounded: a due lane served strictly first starved the changes (at 1,000
  Rollouts stepping, a canary whose pods became available waited 1-2 minutes for its first
  weight behind the pause ends of the Rollouts already stepping). With the bound, no change
  waits more than ``due_lead`` seconds longer than a wake-up does. Backoff retries stay in the
  ordinary lane, so a failing Rollout cannot starve the others.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["WorkQueue"]

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """An asyncio work queue of keys with coalescing, per-key exclusivity, delays and backoff."""

    def __init__(self, *, base_delay: float = 0.5, max_delay: float = 60.0, due_lead: float = 5.0) -> None:
        self._ordinary: deque[K] = deque()
        self._due: deque[K] = deque()
        self._ready = asyncio.Semaphore(0)
        self._queued: dict[K, float] = {}
        """Queued keys and when they were queued (monotonic), for :attr:`last_wait`."""
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._dirty_due: set[K] = set()
        self._ordinary_set: set[K] = set()
        self._timers: dict[K, tuple[float, asyncio.TimerHandle, bool]] = {}
        self._failures: dict[K, int] = {}
        self._base = base_delay
        self._max = max_delay
        self._lead = due_lead
        self._shutdown = False
        self.last_wait = 0.0
        """Seconds the key last returned by :meth:`get` spent queued (a pass's queue wait)."""

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, key: K, *, due: bool = False) -> None:
        """Queue ``key`` for a pass (a no-op when it is already queued).

        ``due``: a wake-up whose time has come; led ahead of ordinary changes (and moved ahead
        when the key already waits in the ordinary lane).
        """
        if self._shutdown:
            return
        if key in self._processing:
            self._dirty.add(key)
            if due:
                self._dirty_due.add(key)
            return
        if key in self._queued:
            if due and key in self._ordinary_set:
                self._ordinary.remove(key)
                self._ordinary_set.discard(key)
                self._due.append(key)
            return
        self._queued[key] = time.monotonic()
        if due:
            self._due.append(key)
        else:
            self._ordinary.append(key)
            self._ordinary_set.add(key)
        self._ready.release()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds, unless an earlier wake-up is already pending.

        When the time comes the key is *due*: served ahead of ordinary changes (``due_lead``).
        """
        self._schedule(key, delay, due=True)

    def _schedule(self, key: K, delay: float, *, due: bool) -> None:
        if delay <= 0:
            self.add(key, due=due)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        self._timers[key] = (when, loop.call_at(when, self._fire, key), due)

    def _fire(self, key: K) -> None:
        entry = self._timers.pop(key, None)
        self.add(key, due=entry is None or entry[2])

    def retry(self, key: K) -> float:
        """Queue ``key`` again after its backoff (doubling per consecutive failure); returns the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay: float = min(self._base * (2.0**failures), self._max)
        self._schedule(key, delay, due=False)
        return delay

    def forget(self, key: K) -> None:
        """The key's pass succeeded: its next failure starts the backoff from the beginning."""
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> K:
        """The next key to process; it stays exclusive to the caller until :meth:`done`."""
        await self._ready.acquire()
        if self._due and not (
            self._ordinary and self._queued[self._ordinary[0]] + self._lead < self._queued[self._due[0]]
        ):
            key = self._due.popleft()
        else:
            key = self._ordinary.popleft()
            self._ordinary_set.discard(key)
        self.last_wait = time.monotonic() - self._queued.pop(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """The pass of ``key`` ended; queue it again if it changed meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            due = key in self._dirty_due
            self._dirty_due.discard(key)
            self.add(key, due=due)

    def discard(self, key: K) -> None:
        """Drop pending wake-ups and backoff of a key whose object is gone."""
        pending = self._timers.pop(key, None)
        if pending is not None:
            pending[1].cancel()
        self._failures.pop(key, None)

    def shutdown(self) -> None:
        self._shutdown = True
        for _, handle, _ in self._timers.values():
            handle.cancel()
        self._timers.clear()
