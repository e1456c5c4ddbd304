"""The Event recorder across an API server outage: an Event is posted late, never lost or doubled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from rollouts.kube import ClusterConfig, EventRecorder, KubeClient
from rollouts.kube import events as events_module

ROLLOUT = {
    "apiVersion": "rollouts.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
}


def client(handler: Callable[[httpx.Request], httpx.Response]) -> KubeClient:
    config = ClusterConfig(server="https://api.test", ssl_context=False, token="t")
    return KubeClient(config, transport=httpx.MockTransport(handler))


async def _drain(recorder: EventRecorder, done: Callable[[], bool], *, linger: float = 0) -> None:
    """Run the recorder until ``done()`` (at most 2 s), then ``linger`` seconds more."""
    task = asyncio.create_task(recorder.run(senders=1))
    for _ in range(200):
        if done():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(linger)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_event_that_meets_a_down_api_server_is_posted_once_it_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events_module, "RETRY_FIRST", 0.01)
    created: list[dict[str, object]] = []
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        attempts.append(body["metadata"]["name"])
        if len(attempts) <= 2:
            raise httpx.ConnectError("All connection attempts failed", request=request)
        created.append(body)
        return httpx.Response(201, json=body)

    async with client(handler) as kube:
        recorder = EventRecorder(kube)
        recorder.emit(ROLLOUT, reason="RolloutStepCompleted", message="Step 1/6 completed")
        await _drain(recorder, lambda: bool(created))
    assert [e["reason"] for e in created] == ["RolloutStepCompleted"]
    assert len(set(attempts)) == 1, f"every attempt must reuse one Event name: {attempts}"


async def test_a_create_that_landed_before_its_connection_broke_is_not_doubled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events_module, "RETRY_FIRST", 0.01)
    stored: dict[str, dict[str, object]] = {}
    answers: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        name = body["metadata"]["name"]
        if name in stored:
            answers.append(409)
            status = {"kind": "Status", "status": "Failure", "reason": "AlreadyExists", "code": 409}
            return httpx.Response(409, json=status)
        stored[name] = body
        answers.append(0)
        raise httpx.ReadError("connection reset", request=request)  # stored, but no answer reached us

    async with client(handler) as kube:
        recorder = EventRecorder(kube)
        recorder.emit(ROLLOUT, reason="RolloutStepCompleted", message="Step 1/6 completed")
        await _drain(recorder, lambda: 409 in answers)
    assert len(stored) == 1 and answers == [0, 409]


async def test_an_event_the_server_rejects_is_not_retried() -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        status = {"kind": "Status", "status": "Failure", "reason": "Forbidden", "code": 403}
        return httpx.Response(403, json=status)

    async with client(handler) as kube:
        recorder = EventRecorder(kube)
        recorder.emit(ROLLOUT, reason="RolloutStepCompleted", message="Step 1/6 completed")
        await _drain(recorder, lambda: bool(attempts), linger=0.2)  # long enough for 4 retries
    assert attempts == [1]


async def test_a_queued_event_keeps_the_objects_reference_not_the_object() -> None:
    created: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        created.append(json.loads(request.content))
        return httpx.Response(201, json=created[-1])

    big = {**ROLLOUT, "spec": {"template": {"spec": {"containers": [{"name": "app"}] * 100}}}, "status": {}}
    async with client(handler) as kube:
        recorder = EventRecorder(kube)
        recorder.emit(big, reason="RolloutStepCompleted", message="Step 1/6 completed")
        ((queued, *_),) = list(recorder._backlog._queue)  # type: ignore[attr-defined]
        assert queued == ROLLOUT, "the backlog must not keep this version of the object alive"
        assert recorder.queued == 1
        await _drain(recorder, lambda: bool(created))
        assert recorder.queued == 0
    assert created[0]["involvedObject"] == {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "name": "web",
        "namespace": "shop",
        "uid": "u-1",
    }
