"""The work queue: coalescing, one pass at a time per key, timed wake-ups, backoff."""

from __future__ import annotations

import asyncio

from rollouts.controller.queue import WorkQueue


async def test_changes_coalesce_into_one_pass() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_a_change_during_a_pass_queues_the_key_again_only_after_it() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")  # changed while being processed
    assert len(queue) == 0, "never handed to a second worker while in a pass"
    queue.done(key)
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_the_earliest_wake_up_wins() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 5)
    queue.add_after("a", 0.05)
    queue.add_after("a", 3)
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_retry_backs_off_exponentially_and_forget_resets() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.5, max_delay=3)
    assert [queue.retry("a") for _ in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    queue.forget("a")
    assert queue.retry("a") == 0.5
    queue.shutdown()
