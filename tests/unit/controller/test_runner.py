"""The reconcile runner: follow-up passes, backoff, crashes, wake-ups, forget; the Rollout
controller's metrics of its passes; and how the AnalysisRun controller's API errors become
Outcomes for it."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest

from rollouts.controller import Controller, ControllerOptions
from rollouts.controller.analysisruns import AnalysisRunController
from rollouts.controller.outcome import Outcome
from rollouts.controller.queue import WorkQueue
from rollouts.controller.runner import Runner
from rollouts.kube import Conflict, Key, KubeClient, Unavailable

A: Key = ("ns", "a")
B: Key = ("ns", "b")


class Script:
    """A fake reconcile: per key, a list of what its passes do (an Outcome, or an exception to
    raise); once a key's list is used up its passes return ``Outcome()``. Records every call."""

    def __init__(self, **per_key: list[Outcome | Exception]) -> None:
        self.steps = {("ns", name): list(steps) for name, steps in per_key.items()}
        self.calls: list[tuple[Key, float]] = []
        self.observe: Callable[[Key], None] = lambda key: None

    async def __call__(self, key: Key) -> Outcome:
        self.calls.append((key, time.monotonic()))
        self.observe(key)
        steps = self.steps.get(key) or []
        step = steps.pop(0) if steps else Outcome()
        if isinstance(step, Exception):
            raise step
        return step

    def keys(self) -> list[str]:
        return [key[1] for key, _ in self.calls]

    def times(self, key: Key) -> list[float]:
        return [at for k, at in self.calls if k == key]


@asynccontextmanager
async def running(runner: Runner) -> AsyncIterator[Runner]:
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def settle(script: Script, count: int, timeout: float = 2.0) -> None:
    """Wait until ``count`` passes ran, then a little longer (to see no extra pass comes)."""
    deadline = time.monotonic() + timeout
    while len(script.calls) < count:
        assert time.monotonic() < deadline, f"only {script.keys()} ran"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)


async def test_follow_up_passes_run_in_the_same_worker_and_are_bounded() -> None:
    again = Outcome(requeue_after=0)
    script = Script(a=[again] * 5)
    runner = Runner("Widget", script, workers=1, follow_up_passes=3)
    runner.queue.add(A)
    runner.queue.add(B)
    async with running(runner):
        await settle(script, 7)
    # three passes of a in a row, then a goes behind b, then a's last three (the third settles)
    assert script.keys() == ["a", "a", "a", "b", "a", "a", "a"]
    assert runner.stats.passes == 7


async def test_a_retry_outcome_backs_off_exponentially_and_success_forgets() -> None:
    failed = Outcome(error="Unavailable: the API server is restarting", retry=True)
    script = Script(a=[failed, failed, failed])
    runner = Runner("Widget", script, workers=1, queue=WorkQueue(base_delay=0.04))
    failures: list[int] = []
    script.observe = lambda key: failures.append(runner.queue.failures(key))
    runner.queue.add(A)
    async with running(runner):
        await settle(script, 4)
    assert failures == [0, 1, 2, 3], "each failed pass adds one to the key's backoff"
    assert runner.queue.failures(A) == 0, "the pass that succeeded reset it"
    at = script.times(A)
    gaps = [later - earlier for earlier, later in itertools.pairwise(at)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.08 and gaps[2] >= 0.16, gaps


async def test_an_exception_is_logged_and_retried_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = Script(a=[RuntimeError("a bug")])
    seen: list[Outcome] = []
    runner = Runner(
        "Widget",
        script,
        workers=1,
        queue=WorkQueue(base_delay=0.02),
        observer=lambda outcome, seconds: seen.append(outcome),
    )
    runner.queue.add(A)
    runner.queue.add(B)
    with caplog.at_level(logging.ERROR, logger="rollouts.controller.runner"):
        async with running(runner):
            await settle(script, 3)
    assert script.keys() == ["a", "b", "a"], "the one worker survived and a was retried"
    (record,) = caplog.records
    assert record.getMessage().startswith("Widget ns/a: pass failed unexpectedly; retrying in 0.0s")
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert seen[0] == Outcome(error="RuntimeError: a bug", retry=True)
    assert seen[1:] == [Outcome(), Outcome()]


async def test_requeue_after_schedules_a_wake_up_and_none_waits_for_a_change() -> None:
    script = Script(a=[Outcome(requeue_after=0.1), Outcome(requeue_after=None)])
    runner = Runner("Widget", script, workers=2)
    runner.queue.add(A)
    async with running(runner):
        await settle(script, 2)
        await asyncio.sleep(0.15)
        assert len(script.calls) == 2, "requeue_after=None: no wake-up of its own"
        runner.queue.add(A)
        await settle(script, 3)
    first, second, _ = script.times(A)
    assert 0.1 <= second - first < 0.5


async def test_a_pass_that_does_not_fail_forgets_the_backoff_even_with_an_error() -> None:
    conflicted = Outcome(requeue_after=0.01, error="Conflict: the object changed")
    script = Script(a=[conflicted])
    runner = Runner("Widget", script, workers=1, queue=WorkQueue(base_delay=0.01))
    runner.queue.retry(A)
    runner.queue.retry(A)
    assert runner.queue.failures(A) == 2
    async with running(runner):
        await settle(script, 2)
    assert runner.queue.failures(A) == 0
    assert script.keys() == ["a", "a"], "the conflict's quick requeue ran, nothing more"


# -- the Rollout controller's metrics -------------------------------------------------------------


async def test_the_rollout_controller_counts_each_pass_by_outcome_and_each_error_by_kind() -> None:
    controller = Controller(cast(KubeClient, object()), ControllerOptions(metrics_port=-1, health_port=-1))
    script = Script(
        ok=[Outcome()],
        conflicted=[Outcome(error="Conflict: the object has been modified", requeue_after=None)],
        unavailable=[Outcome(error="Unavailable: connection refused", retry=True)],
        bug=[KeyError("spec")],
    )
    cast(Any, controller).reconciler = type("Fake", (), {"reconcile": staticmethod(script)})()
    for name in ("ok", "conflicted", "unavailable", "bug"):
        controller.queue.add(("ns", name))
    async with running(controller.runner):
        await settle(script, 4)
    assert controller.metrics.reconciles == {"ok": 1, "requeue": 1, "error": 2}
    assert controller.metrics.errors == {
        "Conflict": 1,
        "Unavailable": 1,
        "KeyError": 1,
    }
    assert controller.runner.stats.passes == 4


# -- the AnalysisRun controller's outcomes ------------------------------------------------------


def analysis_controller(raises: Exception | None, wake_in: float | None = None) -> AnalysisRunController:
    controller = AnalysisRunController(cast(KubeClient, object()), informers=[])

    async def one_pass(key: Key) -> float | None:
        if raises is not None:
            raise raises
        return wake_in

    cast(Any, controller)._pass = one_pass
    return controller


async def test_an_analysisrun_conflict_is_a_quick_requeue_not_a_failure() -> None:
    controller = analysis_controller(Conflict("the object has been modified", status=409))
    outcome = await controller.reconcile(A)
    assert outcome.requeue_after == 0.05 and not outcome.retry
    assert controller.stats.conflicts == 1


async def test_an_analysisrun_api_error_is_retried_with_backoff() -> None:
    controller = analysis_controller(Unavailable("connection refused"))
    outcome = await controller.reconcile(A)
    assert outcome == Outcome(error="Unavailable: connection refused", retry=True)
    assert controller.stats.conflicts == 0


async def test_an_analysisrun_pass_wakes_at_its_next_deadline() -> None:
    assert await analysis_controller(None, wake_in=12.5).reconcile(A) == Outcome(requeue_after=12.5)
    assert await analysis_controller(None).reconcile(A) == Outcome()


async def test_an_analysisrun_bug_reaches_the_runner() -> None:
    with pytest.raises(ZeroDivisionError):
        await analysis_controller(ZeroDivisionError("bug")).reconcile(A)
