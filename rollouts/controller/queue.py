"""The work queue: which Rollouts need a pass, one pass at a time per Rollout.

Semantics follow client-go's rate-limited delaying queue, because they are what makes a
level-triggered controller correct and cheap:

* a key is queued at most once however many changes arrive (changes coalesce into one pass);
* a key being processed is never handed to a second worker; a change during its pass marks it
  dirty, and it is queued again when the pass ends (so the change is never lost);
* ``add_after`` schedules a wake-up (pause end, scale-down deadline); only the earliest pending
  wake-up per key is kept, and the schedule lives in memory only: after a restart every Rollout
  gets a pass anyway, and that pass computes its wake-ups again from the status;
* ``retry`` re-queues a failed key with per-key exponential backoff; ``forget`` resets it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["WorkQueue"]

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """An asyncio work queue of keys with coalescing, per-key exclusivity, delays and backoff."""

    def __init__(self, *, base_delay: float = 0.5, max_delay: float = 60.0) -> None:
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[K, int] = {}
        self._base = base_delay
        self._max = max_delay
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, key: K) -> None:
        """Queue ``key`` for a pass (a no-op when it is already queued)."""
        if self._shutdown:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds, unless an earlier wake-up is already pending."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        self._timers[key] = (when, loop.call_at(when, self._fire, key))

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def retry(self, key: K) -> float:
        """Queue ``key`` again after its backoff (doubling per consecutive failure); returns the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay: float = min(self._base * (2.0**failures), self._max)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """The key's pass succeeded: its next failure starts the backoff from the beginning."""
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> K:
        """The next key to process; it stays exclusive to the caller until :meth:`done`."""
        key = await self._queue.get()
        self._queued.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """The pass of ``key`` ended; queue it again if it changed meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def discard(self, key: K) -> None:
        """Drop pending wake-ups and backoff of a key whose object is gone."""
        pending = self._timers.pop(key, None)
        if pending is not None:
            pending[1].cancel()
        self._failures.pop(key, None)

    def shutdown(self) -> None:
        self._shutdown = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
