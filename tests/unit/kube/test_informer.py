"""The watch cache: list, then follow the watch; index by owner; our own writes ahead of the watch."""

from __future__ import annotations

import asyncio
import json

import httpx

from rollouts.kube import ClusterConfig, Informer, KubeClient, KubeObject


def rs(name: str, version: str, owner: str | None = None, replicas: int = 1) -> KubeObject:
    meta: dict[str, object] = {"name": name, "namespace": "n", "resourceVersion": version}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "Rollout", "name": "r"}]
    return {"metadata": meta, "spec": {"replicas": replicas}}


def serve(listing: list[KubeObject], events: list[dict[str, object]]) -> KubeClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("watch"):
            if request.url.params["resourceVersion"] != "10":
                return httpx.Response(200, content=b"")  # later watches: nothing new
            return httpx.Response(200, content="".join(json.dumps(e) + "\n" for e in events).encode())
        return httpx.Response(200, json={"metadata": {"resourceVersion": "10"}, "items": listing})

    return KubeClient(
        ClusterConfig(server="https://api.test", ssl_context=False), transport=httpx.MockTransport(handler)
    )


async def test_list_then_watch_keeps_the_latest_copy_and_reports_each_change() -> None:
    changes: list[tuple[str | None, str | None]] = []

    def changed(old: KubeObject | None, new: KubeObject | None) -> None:
        name = lambda o: None if o is None else o["metadata"]["resourceVersion"]  # noqa: E731
        changes.append((name(old), name(new)))

    events = [
        {"type": "MODIFIED", "object": rs("a", "11", owner="u1", replicas=3)},
        {"type": "ADDED", "object": rs("b", "12", owner="u1")},
        {"type": "DELETED", "object": rs("a", "13", owner="u1")},
    ]
    client = serve([rs("a", "5", owner="u1")], events)
    informer = Informer(client, "apps/v1", "ReplicaSet", namespace="n", on_change=changed)
    task = asyncio.create_task(informer.run())
    await informer.synced.wait()
    for _ in range(50):
        if len(changes) == 4:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await client.close()
    assert changes == [(None, "5"), ("5", "11"), (None, "12"), ("11", None)]
    assert informer.get("n", "a") is None and informer.get("n", "b") is not None
    assert [o["metadata"]["name"] for o in informer.owned_by("u1")] == ["b"]


async def test_remember_puts_our_write_ahead_of_the_watch_and_older_events_do_not_undo_it() -> None:
    client = serve([rs("a", "5")], [{"type": "MODIFIED", "object": rs("a", "6", replicas=2)}])
    informer = Informer(client, "apps/v1", "ReplicaSet", namespace="n")
    informer.remember(rs("a", "7", replicas=4))  # the answer to our PATCH
    task = asyncio.create_task(informer.run())
    await informer.synced.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    await client.close()
    cached = informer.get("n", "a")
    assert cached is not None and cached["spec"]["replicas"] == 4


def labelled(version: str, labels: dict[str, str]) -> KubeObject:
    obj = rs("a", version)
    obj["metadata"]["labels"] = labels
    return obj


async def test_remember_keeps_no_answer_its_label_selector_would_not_watch() -> None:
    client = serve([], [])
    informer = Informer(
        client, "apps/v1", "ReplicaSet", namespace="n", label_selector="!rollouts.dev/instance"
    )
    informer.remember(labelled("5", {"app": "web"}))
    assert informer.get("n", "a") is not None
    informer.remember(labelled("6", {"rollouts.dev/instance": "b"}))  # moved to another shard meanwhile
    assert informer.get("n", "a") is None
    informer.remember(labelled("7", {"rollouts.dev/instance": "b"}))
    assert informer.get("n", "a") is None
    await client.close()
