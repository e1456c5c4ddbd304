"""Benchmark of the controller: N Rollouts doing a 3-step NGINX canary at once on KWOK.

The scenario and its figures are :mod:`bench.fleet`'s: N Rollouts (1 replica each) deployed, then
one new image for all at once. Reported for the update: latency per step (first step: canary
ReplicaSet available -> weight 20; after each pause: its end -> the next weight; promotion), the
controller's peak RSS and CPU seconds, the wall time, and its API writes by verb and kind, in
total and per step transition. ``python -m bench scale`` runs the larger scenarios.

Run: ``python -m bench controller`` (N=200), or ``BENCH_ROLLOUTS=50 python -m bench controller``;
``BENCH_WORKERS`` sets the controller's ``--workers`` (default 8), ``BENCH_LOG_LEVEL`` its log level.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from bench.fleet import KUBE_ROLLOUTS, Fleet, quantiles
from e2e.cluster import ensure_up
from rollouts.kube import KubeClient, load_config


async def _bench(count: int, namespace: str, kubeconfig: str) -> dict[str, Any]:
    client = KubeClient(load_config(kubeconfig=kubeconfig))
    async with client, Fleet(client, kubeconfig, KUBE_ROLLOUTS, namespace) as fleet:
        deployed = await fleet.deploy(count)
        update = await fleet.update()
        pauses = fleet.recorder.after_pause(1) + fleet.recorder.after_pause(3)
    lat = quantiles(pauses)
    first = update["steps"]["first_step"]
    return {
        "rollouts": count,
        "deployed_healthy": deployed["healthy"],
        "finished_canary": update["finished_canary"],
        "step_latency_samples": lat["samples"],
        "step_latency_p50_s": lat["p50_s"],
        "step_latency_p99_s": lat["p99_s"],
        "step_latency_max_s": lat["max_s"],
        "first_step_samples": first["samples"],
        "first_step_p50_s": first["p50_s"],
        "first_step_max_s": first["max_s"],
        "update_wall_seconds": update["wall_seconds"],
        "controller_peak_rss_mib": update["controller_peak_rss_mib"],
        "controller_cpu_seconds": round(sum(f["controller_cpu_seconds"] for f in (deployed, update)), 1),
        "update_controller_cpu_seconds": update["controller_cpu_seconds"],
        "update_writes": update["writes"],
        "update_writes_per_rollout": round(update["writes"] / count, 1),
        "update_writes_by_kind": update["writes_by_kind"],
        "steps": update["steps"],
        "controller_log": str(fleet.log_path),
    }


def run(rollouts: int | None = None) -> dict[str, Any]:
    count = rollouts or int(os.environ.get("BENCH_ROLLOUTS", "200"))
    cluster = ensure_up(log=False)
    KUBE_ROLLOUTS.install(cluster)
    namespace = f"bench-ctl-{uuid.uuid4().hex[:6]}"
    return asyncio.run(_bench(count, namespace, str(cluster.kubeconfig)))


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
