"""N Rollouts in a 3-step NGINX canary on KWOK, driven and measured from outside the controller.

What the ``controller`` and ``scale`` benchmarks share. A :class:`Fleet` is one namespace of N
Rollouts (1 replica each, a stable and a canary Service, an Ingress) and one controller process
serving it; :meth:`Fleet.update` rolls a new image out to all of them at once and measures it.
The controller is a :class:`Subject`, so the same scenario runs against kube-rollouts and, for
the side-by-side in docs/benchmarks.md, against Argo Rollouts (``bench/argo.py``).

Each Rollout runs ``setWeight 20, pause 2s, setWeight 50, pause 2s, setWeight 80, pause 2s``.
Latencies, all seen through watches (a LIST every 2 s as well, for status values):

* first step: the canary ReplicaSet seen available -> canary weight 20 on the canary Ingress;
* after pause 1 and 2: the moment the pause may end (``pauseConditions[].startTime`` + 2 s, as
  the controller recorded it) -> weight 50, then 80;
* promotion: the end of the last pause -> the Rollout seen Healthy on the new revision.

Also measured per update: its wall time, the controller's CPU seconds (user + system), its
resident and peak memory, and its API writes by verb and kind (from its own request counter,
scraped before and after).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from bench.kube import apply_crds, follow
from e2e.cluster import Cluster
from rollouts.kube import KubeClient, KubeError

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
LAST_PAUSE = 5
TRANSITIONS_PER_UPDATE = 4
"""Three weights and the promotion: the step transitions one update makes per Rollout."""
ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Subject:
    """A controller under test: how to start it, which API it serves, how it counts its writes."""

    name: str
    api_version: str
    command: Callable[[str, int, int], list[str]]
    """(namespace, metrics port, health port) -> argv."""
    writes: Callable[[str], dict[str, int]]
    """Its /metrics text -> ``"VERB Kind"`` -> writes so far."""
    install: Callable[[Cluster], None]
    """Install its CRDs."""
    metrics_path: str = "/metrics"
    queued_events: Callable[[str], int] = lambda text: 0
    """Its /metrics text -> Events it has emitted and not yet posted (0: it does not say)."""
    reads: Callable[[str], dict[str, int]] = lambda text: {}
    """Its /metrics text -> ``"GET Kind"`` (or ``"GET Kind list"``) -> reads so far (empty: it does
    not say)."""


def _our_queued_events(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("kube_rollouts_events_queued "):
            return int(float(line.split()[1]))
    return 0


def _our_requests(text: str, verbs: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in text.splitlines():
        if not line.startswith("kube_rollouts_api_requests_total{"):
            continue
        labels, value = line[line.index("{") + 1 : line.index("}")], line.rsplit(" ", 1)[1]
        pairs = dict(part.split("=", 1) for part in labels.split(","))
        verb, kind = pairs["verb"].strip('"'), pairs["kind"].strip('"')
        if verb in verbs:
            found[f"{verb} {kind}"] = int(float(value))
    return found


def _our_writes(text: str) -> dict[str, int]:
    return _our_requests(text, WRITES)


def _our_reads(text: str) -> dict[str, int]:
    return _our_requests(text, ("GET",))


def _passes(text: str) -> int:
    """Rollout passes in a /metrics text (0 for a subject that does not count them)."""
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("kube_rollouts_reconciles_total{")
    )


class Requests(NamedTuple):
    """A subject's counters at one moment: ``"VERB Kind"`` -> writes and reads, and passes."""

    writes: dict[str, int]
    reads: dict[str, int]
    passes: int


def _our_command(namespace: str, metrics_port: int, health_port: int) -> list[str]:
    # BENCH_PROFILE=FILE: run the controller under cProfile (written to FILE when it stops), to
    # find what a step spends its CPU on; the figures of such a run are not comparable.
    # BENCH_TRACEMALLOC=FILE: under tracemalloc, FILE says what holds the memory when it stops.
    profile, traced = os.environ.get("BENCH_PROFILE"), os.environ.get("BENCH_TRACEMALLOC")
    if profile:
        program = [sys.executable, "-m", "cProfile", "-o", profile, "-m", "rollouts.controller"]
    elif traced:
        program = [sys.executable, "-m", "bench.traced", traced]
    else:
        program = [str(Path(sys.executable).parent / "kube-rollouts")]
    return [
        *program,
        "run",
        "--namespace",
        namespace,
        "--metrics-port",
        str(metrics_port),
        "--health-port",
        str(health_port),
        "--log-level",
        os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        "--workers",
        os.environ.get("BENCH_WORKERS", "8"),
    ]


KUBE_ROLLOUTS = Subject(
    "kube-rollouts",
    "rollouts.dev/v1alpha1",
    _our_command,
    _our_writes,
    apply_crds,
    queued_events=_our_queued_events,
    reads=_our_reads,
)


def objects(api_version: str, namespace: str, index: int) -> list[dict[str, Any]]:
    """One Rollout's objects: the stable and canary Services, the Ingress, the Rollout."""
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
        "apiVersion": api_version,
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
    history = os.environ.get("BENCH_REVISION_HISTORY")  # old ReplicaSets kept (default 10)
    if history:
        rollout["spec"]["revisionHistoryLimit"] = int(history)
    return [svc(f"{name}-stable"), svc(f"{name}-canary"), ingress, rollout]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _rollout_of(ingress_name: str) -> str:
    """``r7-canary`` (ours) or ``r7-r7-canary`` (Argo's) -> ``r7``."""
    return ingress_name.split("-")[0]


class Recorder:
    """Follows Rollouts, ReplicaSets and Ingresses by watch and turns what it sees into latencies.

    :meth:`reset` starts a new update; what is Healthy carries over.
    """

    def __init__(self, client: KubeClient, namespace: str, api_version: str) -> None:
        self.client, self.namespace, self.api_version = client, namespace, api_version
        self.healthy: dict[str, str] = {}
        """Rollout -> its stable pod template hash, while Healthy on its newest revision."""
        self.reset()

    def reset(self) -> None:
        self.pause_start: dict[tuple[str, int], float] = {}
        self.weight_seen: dict[tuple[str, str], float] = {}
        self.available: dict[tuple[str, str], float] = {}
        """(Rollout, pod template hash) -> when its ReplicaSet was first seen available."""
        self.healthy_seen: dict[tuple[str, str], float] = {}
        """(Rollout, stable hash) -> when it was first seen Healthy on it."""

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
            if step is not None and cond.get("startTime"):
                self.pause_start.setdefault((name, step), _ts(cond["startTime"]))
        if st.get("phase") == "Healthy" and st.get("stableRS") == st.get("currentPodHash"):
            self.healthy[name] = st["stableRS"]
            self.healthy_seen.setdefault((name, st["stableRS"]), now)
        else:
            self.healthy.pop(name, None)

    def _ingress(self, obj: dict[str, Any], now: float) -> None:
        weight = (obj["metadata"].get("annotations") or {}).get(ANNOTATION)
        name = obj["metadata"]["name"]
        if weight is not None and name.endswith("-canary"):
            self.weight_seen.setdefault((_rollout_of(name), weight), now)

    def first_steps(self, canaries: dict[str, str]) -> list[float]:
        """Canary ReplicaSet available -> first weight, for ``canaries`` (Rollout -> canary hash)."""
        found = []
        for name, pod_hash in canaries.items():
            ready, seen = self.available.get((name, pod_hash)), self.weight_seen.get((name, "20"))
            if ready is not None and seen is not None:
                found.append(max(0.0, seen - ready))
        return found

    def after_pause(self, step: int) -> list[float]:
        """End of the pause at ``step`` -> the weight of the next setWeight."""
        found = []
        for (name, index), start in self.pause_start.items():
            seen = self.weight_seen.get((name, WEIGHT_AFTER_PAUSE[step])) if index == step else None
            if seen is not None:
                found.append(max(0.0, seen - (start + PAUSE)))
        return found

    def promotions(self, canaries: dict[str, str]) -> list[float]:
        """End of the last pause -> Healthy on the new revision."""
        found = []
        for name, pod_hash in canaries.items():
            start, seen = self.pause_start.get((name, LAST_PAUSE)), self.healthy_seen.get((name, pod_hash))
            if start is not None and seen is not None:
                found.append(max(0.0, seen - (start + PAUSE)))
        return found

    async def poll(self) -> None:
        """A LIST of the Rollouts every 2 s besides the watch: pause starts and completion are
        status values, so a late copy still gives the right numbers."""
        while True:
            try:
                listing = await self.client.list(self.api_version, "Rollout", namespace=self.namespace)
                for obj in listing.items:
                    self._rollout(obj, time.time())
            except KubeError:
                pass
            await asyncio.sleep(2)


def quantiles(samples: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(samples)
    if not ordered:
        return {"samples": 0, "p50_s": None, "p99_s": None, "max_s": None}
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) >= 2 else [ordered[0]] * 99
    return {
        "samples": len(ordered),
        "p50_s": round(statistics.median(ordered), 3),
        "p99_s": round(q[98], 3),
        "max_s": round(ordered[-1], 3),
    }


def usage(pid: int) -> tuple[int, int, float]:
    """(resident KiB, peak resident KiB, CPU seconds) of a process."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    kib = lambda key: int(status[key].split()[0])  # noqa: E731
    return kib("VmRSS"), kib("VmHWM"), (int(fields[11]) + int(fields[12])) / ticks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in sorted(after.items()) if n > before.get(k, 0)}


def events(writes: dict[str, int]) -> int:
    return sum(n for k, n in writes.items() if k.endswith(" Event"))


class Fleet:
    """One namespace of Rollouts and the controller serving it; ``async with Fleet(...)``."""

    def __init__(
        self, client: KubeClient, kubeconfig: str, subject: Subject, namespace: str, *, poll: bool = True
    ) -> None:
        """``poll=False``: the watches only, no LIST every 2 s (at 10,000 Rollouts that LIST would
        load the API server more than the controller under test does)."""
        self.client, self.kubeconfig, self.subject, self.namespace = client, kubeconfig, subject, namespace
        self.poll = poll
        self.recorder = Recorder(client, namespace, subject.api_version)
        self.count = 0
        self.rounds = 0
        self.controller: subprocess.Popen[bytes] | None = None
        self.metrics_port = self.health_port = 0
        self.log_path = Path(os.environ.get("BENCH_LOG_DIR", "/tmp")) / f"{namespace}-controller.log"
        self._tasks: list[asyncio.Task[None]] = []
        self._sem = asyncio.Semaphore(16)

    async def __aenter__(self) -> Fleet:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        await self.client.create(namespace)
        r = self.recorder
        self._tasks = [
            asyncio.create_task(r.follow(self.subject.api_version, "Rollout")),
            asyncio.create_task(r.follow("networking.k8s.io/v1", "Ingress")),
            asyncio.create_task(r.follow("apps/v1", "ReplicaSet")),
        ]
        if self.poll:
            self._tasks.append(asyncio.create_task(r.poll()))
        self.start_controller()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop_controller()
        for task in self._tasks:
            task.cancel()
        await self.client.delete("v1", "Namespace", name=self.namespace)

    def start_controller(self) -> None:
        self.metrics_port, self.health_port = free_port(), free_port()
        with self.log_path.open("ab") as log:
            self.controller = subprocess.Popen(
                self.subject.command(self.namespace, self.metrics_port, self.health_port),
                env={**os.environ, "KUBECONFIG": self.kubeconfig},
                stderr=log,
                stdout=log,
            )

    def stop_controller(self) -> None:
        if self.controller is not None:
            self.controller.terminate()
            self.controller.wait(timeout=30)
            self.controller = None

    def usage(self) -> tuple[int, int, float]:
        assert self.controller is not None
        return usage(self.controller.pid)

    async def metrics(self) -> str:
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{self.metrics_port}{self.subject.metrics_path}"
            return (await http.get(url, timeout=30)).text

    async def requests(self) -> Requests:
        """The subject's writes, reads and passes so far, from one scrape of its /metrics (so the
        three are of the same moment)."""
        for _ in range(60):  # the endpoint comes up a moment after the process
            try:
                text = await self.metrics()
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            return Requests(self.subject.writes(text), self.subject.reads(text), _passes(text))
        raise RuntimeError(f"{self.subject.name}: no metrics on port {self.metrics_port}")

    async def passes(self) -> int:
        """Rollout passes so far (0 for a subject that does not count them)."""
        return _passes(await self.metrics())

    async def ready(self, timeout: float = 600) -> float:
        """Seconds until the controller's /readyz answers 200 (from now)."""
        started = time.monotonic()
        async with httpx.AsyncClient() as http:
            while time.monotonic() - started < timeout:
                try:
                    if (await http.get(f"http://127.0.0.1:{self.health_port}/readyz")).status_code == 200:
                        return time.monotonic() - started
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.subject.name}: not ready in {timeout:.0f}s")

    async def _each(self, items: list[Any], fn: Callable[[Any], Any]) -> None:
        async def one(item: Any) -> None:
            async with self._sem:
                await fn(item)

        await asyncio.gather(*(one(i) for i in items))

    async def _healthy(self, names: list[str], changed_from: dict[str, str], timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            h = self.recorder.healthy
            if all(n in h and h[n] != changed_from.get(n) for n in names):
                break
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    async def deploy(self, count: int, timeout: float = 600) -> dict[str, Any]:
        """Create Rollouts ``self.count .. count-1`` and wait until all are Healthy."""
        before, (_, _, cpu0) = await self.requests(), self.usage()
        started = time.monotonic()
        new = list(range(self.count, count))
        docs = [o for i in new for o in objects(self.subject.api_version, self.namespace, i)]
        await self._each(docs, self.client.create)
        self.count = count
        await self._healthy([f"r{i}" for i in new], {}, timeout)
        rss, _, cpu = self.usage()
        after = await self.requests()
        writes, reads = delta(after.writes, before.writes), delta(after.reads, before.reads)
        return {
            "rollouts": count,
            "healthy": len(self.recorder.healthy),
            "wall_seconds": round(time.monotonic() - started, 1),
            "controller_cpu_seconds": round(cpu - cpu0, 1),
            "controller_rss_mib": round(rss / 1024, 1),
            "writes": sum(writes.values()),
            "events": events(writes),
            "writes_by_kind": writes,
            "reads_by_kind": reads,
        }

    async def _events_drained(self, timeout: float = 600) -> float:
        """Seconds until the controller has posted every Event it emitted: they are writes of the
        update, and counting before they are posted would leave them out (or in the next update)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.subject.queued_events(await self.metrics()) == 0:
                break
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    async def update(self, timeout: float = 900) -> dict[str, Any]:
        """A new image for every Rollout at once; figures of the delivery until all are promoted."""
        self.rounds += 1
        names = [f"r{i}" for i in range(self.count)]
        old = dict(self.recorder.healthy)
        self.recorder.reset()
        before, (_, _, cpu0) = await self.requests(), self.usage()
        image = {"containers": [{"name": "app", "image": f"v{self.rounds + 1}"}]}
        patch = {"spec": {"template": {"spec": image}}}

        async def update(name: str) -> None:
            await self.client.patch(
                self.subject.api_version, "Rollout", namespace=self.namespace, name=name, patch=patch
            )

        await self._each(names, update)
        wall = await self._healthy(names, old, timeout)
        drained = await self._events_drained()
        rss, peak, cpu = self.usage()
        after = await self.requests()
        writes, reads = delta(after.writes, before.writes), delta(after.reads, before.reads)
        r = self.recorder
        new = {n: h for n, h in r.healthy.items() if h != old.get(n)}
        steps = {
            "first_step": quantiles(r.first_steps(new)),
            "after_pause_1": quantiles(r.after_pause(1)),
            "after_pause_2": quantiles(r.after_pause(3)),
            "promotion": quantiles(r.promotions(new)),
        }
        total = sum(writes.values())
        transitions = self.count * TRANSITIONS_PER_UPDATE
        return {
            "rollouts": self.count,
            "finished_canary": len(new),
            "wall_seconds": round(wall, 1),
            "events_drained_after_s": round(drained, 1),
            "steps": steps,
            "controller_cpu_seconds": round(cpu - cpu0, 1),
            "controller_cpu_ms_per_step": round(1000 * (cpu - cpu0) / transitions, 2),
            "controller_rss_mib": round(rss / 1024, 1),
            "controller_peak_rss_mib": round(peak / 1024, 1),
            "writes": total,
            "writes_per_step": round(total / transitions, 2),
            "events": events(writes),
            "writes_by_kind": writes,
            "reads_by_kind": reads,
            "passes": after.passes - before.passes,
        }


async def write_rate(
    client: KubeClient, namespace: str, seconds: float = 5.0, concurrency: int = 16
) -> float:
    """ConfigMap PUTs per second this API server takes from one client at ``concurrency``."""
    names = [f"bench-write-rate-{i}" for i in range(concurrency)]
    for name in names:
        await client.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}
        )
    done = 0
    deadline = time.monotonic() + seconds

    async def writer(name: str) -> None:
        nonlocal done
        n = 0
        while time.monotonic() < deadline:
            n += 1
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace},
                "data": {"n": str(n)},
            }
            await client.replace(body)
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(writer(n) for n in names))
    rate = done / (time.monotonic() - started)
    for name in names:
        await client.delete("v1", "ConfigMap", namespace=namespace, name=name)
    return rate
