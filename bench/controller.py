"""Benchmark of the controller: N Rollouts doing a 3-step NGINX canary at once on KWOK.

Each Rollout (1 replica) runs ``setWeight 20, pause 2s, setWeight 50, pause 2s, setWeight 80,
pause 2s``. A step *may advance* the moment its pause ends (``pauseConditions[].startTime`` + 2 s,
as the controller recorded it); its latency is the time until the next canary-weight annotation
(50 after the first pause, 80 after the second) is seen on the canary Ingress through a watch:
two samples per Rollout. The first step is measured apart (``first_step_*``): from the moment a
watch sees the canary ReplicaSet available to the first canary weight (20) on the Ingress, one
sample per Rollout. Also reported: the controller's peak RSS (VmHWM) and CPU seconds (user +
system) from start to the end of the update, the wall time of the whole update, and the
controller's writes to the API server during the update by verb and kind (from its
``kube_rollouts_api_requests_total``), in total and per Rollout.

Run: ``python -m bench controller`` (N=200), or ``BENCH_ROLLOUTS=50 python -m bench controller``;
``BENCH_WORKERS`` sets the controller's ``--workers`` (default 8), ``BENCH_LOG_LEVEL`` its log level.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.kube import apply_crds, follow
from e2e.cluster import ensure_up
from rollouts.kube import KubeClient, KubeError, load_config

PAUSE = 2.0
STEPS = [
    {"setWeight": 20},
    {"pause": {"duration": "2s"}},
    {"setWeight": 50},
    {"pause": {"duration": "2s"}},
    {"setWeight": 80},
    {"pause": {"duration": "2s"}},
]
WEIGHT_AFTER_PAUSE = {1: "50", 3: "80"}
ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"


def _objects(namespace: str, index: int) -> list[dict[str, Any]]:
    name = f"r{index}"

    def svc(service: str) -> dict[str, Any]:
        meta = {"name": service, "namespace": namespace}
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
        }

    backend = {"service": {"name": f"{name}-stable", "port": {"number": 80}}}
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": f"{name}.example.com",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }
    rollout = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "v1"}]},
            },
            "strategy": {
                "canary": {
                    "canaryService": f"{name}-canary",
                    "stableService": f"{name}-stable",
                    "trafficRouting": {"nginx": {"stableIngress": name}},
                    "steps": STEPS,
                }
            },
        },
    }
    return [svc(f"{name}-stable"), svc(f"{name}-canary"), ingress, rollout]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class Recorder:
    """Follows Rollouts and Ingresses by watch and turns what it sees into step latencies."""

    def __init__(self, client: KubeClient, namespace: str, count: int) -> None:
        self.client, self.namespace, self.count = client, namespace, count
        self.pause_start: dict[tuple[str, int], float] = {}
        self.weight_seen: dict[tuple[str, str], float] = {}
        self.available: dict[tuple[str, str], float] = {}
        """(Rollout, pod template hash) to when its ReplicaSet was first seen available."""
        self.healthy: dict[str, str] = {}

    async def follow(self, api_version: str, kind: str) -> None:
        await follow(
            self.client, api_version, kind, self.namespace, lambda obj, now: self._see(kind, obj, now)
        )

    def _see(self, kind: str, obj: dict[str, Any], now: float) -> None:
        if kind == "Rollout":
            self._rollout(obj, now)
        elif kind == "ReplicaSet":
            self._replica_set(obj, now)
        else:
            self._ingress(obj, now)

    def _replica_set(self, obj: dict[str, Any], now: float) -> None:
        meta = obj["metadata"]
        owner = next(
            (r["name"] for r in meta.get("ownerReferences") or [] if r.get("kind") == "Rollout"), None
        )
        pod_hash = (meta.get("labels") or {}).get("rollouts-pod-template-hash")
        if owner and pod_hash and (obj.get("status") or {}).get("availableReplicas"):
            self.available.setdefault((owner, pod_hash), now)

    def _rollout(self, obj: dict[str, Any], now: float) -> None:
        name, st = obj["metadata"]["name"], obj.get("status") or {}
        step = st.get("currentStepIndex")
        for cond in st.get("pauseConditions") or []:
            if step is not None:
                self.pause_start.setdefault((name, step), _ts(cond["startTime"]))
        if st.get("phase") == "Healthy" and st.get("stableRS") == st.get("currentPodHash"):
            self.healthy[name] = st["stableRS"]
        else:
            self.healthy.pop(name, None)

    def _ingress(self, obj: dict[str, Any], now: float) -> None:
        weight = (obj["metadata"].get("annotations") or {}).get(ANNOTATION)
        name = obj["metadata"]["name"]
        if weight is not None and name.endswith("-canary"):
            self.weight_seen.setdefault((name.split("-")[0], weight), now)

    def first_steps(self, canaries: dict[str, str]) -> list[float]:
        """Canary ReplicaSet available -> first weight, for ``canaries`` (Rollout -> canary hash)."""
        found = []
        for name, pod_hash in canaries.items():
            ready, seen = self.available.get((name, pod_hash)), self.weight_seen.get((name, "20"))
            if ready is not None and seen is not None:
                found.append(max(0.0, seen - ready))
        return found

    def latencies(self) -> list[float]:
        found = []
        for (name, step), start in self.pause_start.items():
            if step not in WEIGHT_AFTER_PAUSE:
                continue
            seen = self.weight_seen.get((name, WEIGHT_AFTER_PAUSE[step]))
            if seen is not None:
                found.append(max(0.0, seen - (start + PAUSE)))
        return found

    async def poll(self) -> None:
        """A LIST of the Rollouts every 2 s besides the watch: pause starts and completion are
        status values, so a late copy still gives the right numbers."""
        while True:
            try:
                listing = await self.client.list("rollouts.dev/v1alpha1", "Rollout", namespace=self.namespace)
                for obj in listing.items:
                    self._rollout(obj, time.time())
            except KubeError:
                pass
            await asyncio.sleep(2)


def _proc(pid: int) -> tuple[int, float]:
    """(peak RSS KiB, CPU seconds) of a process."""
    peak = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return peak, (int(fields[11]) + int(fields[12])) / ticks


WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _writes(metrics_port: int) -> dict[str, int]:
    """The controller's API writes so far, ``"VERB Kind"`` -> count, from its /metrics."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    found: dict[str, int] = {}
    for line in text.splitlines():
        if not line.startswith("kube_rollouts_api_requests_total{"):
            continue
        labels, value = line[line.index("{") + 1 : line.index("}")], line.rsplit(" ", 1)[1]
        pairs = dict(part.split("=", 1) for part in labels.split(","))
        verb, kind = pairs["verb"].strip('"'), pairs["kind"].strip('"')
        if verb in WRITES:
            found[f"{verb} {kind}"] = int(float(value))
    return found


async def _bench(count: int, namespace: str, kubeconfig: str) -> dict[str, Any]:
    client = KubeClient(load_config(kubeconfig=kubeconfig))
    recorder = Recorder(client, namespace, count)
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    log_path = Path(os.environ.get("BENCH_LOG_DIR", "/tmp")) / f"{namespace}-controller.log"
    log_file = log_path.open("wb")
    controller = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "kube-rollouts"),
            "run",
            "--namespace",
            namespace,
            "--metrics-port",
            str(metrics_port := _free_port()),
            "--health-port",
            "-1",
            "--log-level",
            os.environ.get("BENCH_LOG_LEVEL", "INFO"),
            "--workers",
            os.environ.get("BENCH_WORKERS", "8"),
        ],
        env={**os.environ, "KUBECONFIG": kubeconfig},
        stderr=log_file,
    )
    watches = [
        asyncio.create_task(recorder.follow("rollouts.dev/v1alpha1", "Rollout")),
        asyncio.create_task(recorder.follow("networking.k8s.io/v1", "Ingress")),
        asyncio.create_task(recorder.follow("apps/v1", "ReplicaSet")),
        asyncio.create_task(recorder.poll()),
    ]
    sem = asyncio.Semaphore(16)

    async def make(obj: dict[str, Any]) -> None:
        async with sem:
            await client.create(obj)

    try:
        await asyncio.gather(*(make(o) for i in range(count) for o in _objects(namespace, i)))
        deadline = time.monotonic() + 300
        while len(recorder.healthy) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        deployed = len(recorder.healthy)
        v1 = dict(recorder.healthy)
        writes_before = await _writes(metrics_port)
        started = time.monotonic()
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v2"}]}}}}

        async def update(i: int) -> None:
            async with sem:
                await client.patch(
                    "rollouts.dev/v1alpha1", "Rollout", namespace=namespace, name=f"r{i}", patch=patch
                )

        await asyncio.gather(*(update(i) for i in range(count)))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = [n for n, h in recorder.healthy.items() if h != v1.get(n)]
            if len(done) == count:
                break
            await asyncio.sleep(0.5)
        wall = time.monotonic() - started
        peak_kib, cpu = _proc(controller.pid)
        writes_after = await _writes(metrics_port)
        lat = sorted(recorder.latencies())
        v2 = {n: h for n, h in recorder.healthy.items() if h != v1.get(n)}
        first = sorted(recorder.first_steps(v2))
    finally:
        controller.terminate()
        controller.wait(timeout=30)
        log_file.close()
        for task in watches:
            task.cancel()
        await client.delete("v1", "Namespace", name=namespace)
        await client.close()
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    writes = {
        k: n - writes_before.get(k, 0) for k, n in sorted(writes_after.items()) if n > writes_before.get(k, 0)
    }
    return {
        "rollouts": count,
        "deployed_healthy": deployed,
        "finished_canary": len([n for n, h in recorder.healthy.items() if h != v1.get(n)]),
        "step_latency_samples": len(lat),
        "step_latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "step_latency_p99_s": round(q[98], 3),
        "step_latency_max_s": round(lat[-1], 3) if lat else None,
        "first_step_samples": len(first),
        "first_step_p50_s": round(statistics.median(first), 3) if first else None,
        "first_step_max_s": round(first[-1], 3) if first else None,
        "update_wall_seconds": round(wall, 1),
        "controller_peak_rss_mib": round(peak_kib / 1024, 1),
        "controller_cpu_seconds": round(cpu, 1),
        "update_writes": sum(writes.values()),
        "update_writes_per_rollout": round(sum(writes.values()) / count, 1),
        "update_writes_by_kind": writes,
        "controller_log": str(log_path),
    }


def run(rollouts: int | None = None) -> dict[str, Any]:
    count = rollouts or int(os.environ.get("BENCH_ROLLOUTS", "200"))
    cluster = ensure_up(log=False)
    apply_crds(cluster)
    namespace = f"bench-ctl-{uuid.uuid4().hex[:6]}"
    return asyncio.run(_bench(count, namespace, str(cluster.kubeconfig)))


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
