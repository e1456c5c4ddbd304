"""Scale: N Rollouts stepping at once, repeated updates in one process, and 10,000 at rest.

Three scenarios of :mod:`bench.fleet`'s 3-step NGINX canary, each in a fresh namespace with a fresh
controller process:

* **stepping**, for each N in ``BENCH_SCALE_SIZES`` (default ``200,1000``): deploy N Rollouts,
  then roll a new image out to all at once. Per update: latency per step (p50/p99/max), API writes
  by kind, Events, controller CPU, all per step transition (three weights and the promotion), and
  the *API-server-bound floor*: N x writes per step / the write rate this API server was measured
  to take (ConfigMap PUTs from one client, 16 at a time), the time the server needs for one step of
  every Rollout if all stepped at the same moment.
* **repeated**: the first size is updated ``BENCH_SCALE_ROUNDS`` times (default 10) in the same
  process, with the controller's resident memory after each, to show whether it grows.
* **settled**, ``BENCH_SCALE_SETTLED`` Rollouts (default 10,000; 0 skips it): created and left
  to settle; then the controller's resident memory and its idle CPU over a minute, and after a
  restart, the time to ``/readyz`` (every watch cache listed) and to its first pass over every
  Rollout, with its memory once that is done.

KWOK nodes are added for the pods the scenarios need (1,000 pods each) and removed at the end.

Run: ``python -m bench scale`` (about 40 minutes on this machine), or smaller, e.g.
``BENCH_SCALE_SIZES=200 BENCH_SCALE_ROUNDS=2 BENCH_SCALE_SETTLED=0 python -m bench scale``.
``BENCH_SUBJECT=argo-rollouts`` runs the stepping scenarios against Argo Rollouts (``bench/argo.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from typing import Any

from bench.fleet import KUBE_ROLLOUTS, Fleet, Subject, write_rate
from e2e.cluster import ensure_up
from e2e.cluster.control_plane import NODE_ANNOTATION
from rollouts.kube import Conflict, KubeClient, load_config

PODS_PER_NODE = 1000
BENCH_NODE_LABEL = "rollouts.dev/bench-node"


def _subject() -> Subject:
    name = os.environ.get("BENCH_SUBJECT", KUBE_ROLLOUTS.name)
    if name == KUBE_ROLLOUTS.name:
        return KUBE_ROLLOUTS
    if name == "argo-rollouts":
        from bench.argo import ARGO_ROLLOUTS

        return ARGO_ROLLOUTS
    raise SystemExit(f"bench scale: BENCH_SUBJECT={name!r}: expected kube-rollouts or argo-rollouts")


def _node(name: str) -> dict[str, Any]:
    room = {"cpu": "64", "memory": "512Gi", "pods": str(PODS_PER_NODE)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"type": "kwok", "kubernetes.io/hostname": name, BENCH_NODE_LABEL: "true"},
        },
        "spec": {"taints": []},
        "status": {"allocatable": room, "capacity": room},
    }


async def _add_nodes(client: KubeClient, pods: int) -> list[str]:
    names = [f"kwok-bench-{i}" for i in range(-(-pods // PODS_PER_NODE))]
    for name in names:
        with contextlib.suppress(Conflict):  # left by an interrupted run: reuse it
            await client.create(_node(name))
    return names


async def _stepping(
    client: KubeClient, kubeconfig: str, subject: Subject, count: int, rounds: int, rate: float
) -> dict[str, Any]:
    namespace = f"bench-scale-{count}-{uuid.uuid4().hex[:4]}"
    async with Fleet(client, kubeconfig, subject, namespace) as fleet:
        deployed = await fleet.deploy(count, timeout=1800)
        updates = [await fleet.update(timeout=1800) for _ in range(rounds)]
    first = updates[0]
    floor = count * first["writes_per_step"] / rate
    worst_p99 = max(s["p99_s"] or 0.0 for s in first["steps"].values())
    found: dict[str, Any] = {
        "rollouts": count,
        "deploy": deployed,
        "update": first,
        "api_bound_floor_per_step_s": round(floor, 2),
        "worst_step_p99_over_floor": round(worst_p99 / floor, 2) if floor else None,
        "deploy_and_update_writes": deployed["writes"] + first["writes"],
        "deploy_and_update_events": deployed["events"] + first["events"],
        "log": str(fleet.log_path),
    }
    if rounds > 1:
        found["rss_mib_after_each_update"] = [u["controller_rss_mib"] for u in updates]
        found["cpu_seconds_each_update"] = [u["controller_cpu_seconds"] for u in updates]
        found["wall_seconds_each_update"] = [u["wall_seconds"] for u in updates]
    return found


async def _settled(client: KubeClient, kubeconfig: str, subject: Subject, count: int) -> dict[str, Any]:
    namespace = f"bench-settled-{uuid.uuid4().hex[:4]}"
    async with Fleet(client, kubeconfig, subject, namespace, poll=False) as fleet:
        deployed = await fleet.deploy(count, timeout=3600)
        await asyncio.sleep(30)
        rss_settled, _, cpu0 = fleet.usage()
        await asyncio.sleep(60)
        rss_idle, _, cpu1 = fleet.usage()
        fleet.stop_controller()
        restarted = time.monotonic()
        fleet.start_controller()
        ready = await fleet.ready()
        passed = None
        while time.monotonic() - restarted < 1800:
            if await fleet.passes() >= count:
                passed = time.monotonic() - restarted
                break
            await asyncio.sleep(0.5)
        rss_after, peak_after, cpu_after = fleet.usage()
    return {
        "rollouts": count,
        "deploy": deployed,
        "rss_settled_mib": round(rss_settled / 1024, 1),
        "rss_after_idle_minute_mib": round(rss_idle / 1024, 1),
        "idle_cpu_seconds_per_minute": round(cpu1 - cpu0, 2),
        "restart_to_ready_s": round(ready, 1),
        "restart_to_first_pass_over_all_s": round(passed, 1) if passed is not None else None,
        "restart_cpu_seconds_to_first_pass_over_all": round(cpu_after, 1),
        "rss_after_restart_passes_mib": round(rss_after / 1024, 1),
        "peak_rss_after_restart_mib": round(peak_after / 1024, 1),
        "log": str(fleet.log_path),
    }


async def _scale(kubeconfig: str, subject: Subject) -> dict[str, Any]:
    sizes = [int(n) for n in os.environ.get("BENCH_SCALE_SIZES", "200,1000").split(",") if n.strip()]
    rounds = int(os.environ.get("BENCH_SCALE_ROUNDS", "10"))
    settled = int(os.environ.get("BENCH_SCALE_SETTLED", "10000"))
    if subject is not KUBE_ROLLOUTS:
        settled = 0  # its restart and pass figures read our own endpoints
    async with KubeClient(load_config(kubeconfig=kubeconfig)) as client:
        rate = await write_rate(client, "default")
        nodes = await _add_nodes(client, max([2 * n for n in sizes] + [settled]))
        try:
            found: dict[str, Any] = {"subject": subject.name, "api_server_puts_per_second": round(rate)}
            found["stepping"] = [
                await _stepping(client, kubeconfig, subject, n, rounds if i == 0 else 1, rate)
                for i, n in enumerate(sizes)
            ]
            if settled:
                found["settled"] = await _settled(client, kubeconfig, subject, settled)
        finally:
            for name in nodes:
                await client.delete("v1", "Node", name=name)
    return found


def run() -> dict[str, Any]:
    cluster = ensure_up(log=False)
    subject = _subject()
    subject.install(cluster)
    return asyncio.run(_scale(str(cluster.kubeconfig), subject))


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
