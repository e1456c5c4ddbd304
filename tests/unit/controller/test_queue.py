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


async def test_a_pause_that_ends_is_served_before_a_backlog_of_changes() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for name in ("busy-1", "busy-2", "busy-3"):
        queue.add(name)
    queue.add_after("paused", 0.01)
    await asyncio.sleep(0.05)
    assert await queue.get() == "paused"
    assert [await queue.get() for _ in range(3)] == ["busy-1", "busy-2", "busy-3"]


async def test_a_change_that_waited_longer_than_the_due_lead_goes_before_wake_ups() -> None:
    queue: WorkQueue[str] = WorkQueue(due_lead=0.05)
    queue.add("starved")
    await asyncio.sleep(0.1)
    queue.add_after("paused-1", 0.001)
    await asyncio.sleep(0.02)
    queue.add("fresh")
    queue.add_after("paused-2", 0.001)
    await asyncio.sleep(0.02)
    assert [await queue.get() for _ in range(4)] == ["starved", "paused-1", "paused-2", "fresh"]


async def test_a_due_wake_up_moves_a_key_already_waiting_in_the_backlog_ahead() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for name in ("busy-1", "paused", "busy-2"):
        queue.add(name)
    queue.add_after("paused", 0.01)
    await asyncio.sleep(0.05)
    assert len(queue) == 3, "still one pass per key"
    assert [await queue.get() for _ in range(3)] == ["paused", "busy-1", "busy-2"]


async def test_a_wake_up_during_the_pass_stays_due_after_it() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("paused")
    key = await queue.get()
    queue.add_after("paused", 0.01)
    await asyncio.sleep(0.05)
    queue.add("busy")
    queue.done(key)
    assert await queue.get() == "paused"


async def test_a_failing_key_retries_behind_ordinary_changes() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.01)
    queue.add("busy")
    queue.retry("failing")
    await asyncio.sleep(0.05)
    assert [await queue.get(), await queue.get()] == ["busy", "failing"]
