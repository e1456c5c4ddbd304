"""Chaos run of leader election: Rollouts keep delivering while the leader is SIGKILLed again and again.

Two `kube-rollouts run --leader-elect` processes (lease 4 s, renew deadline 3 s, retry 1 s, so that
50 takeovers fit in minutes) manage BENCH_FAILOVER_ROLLOUTS Rollouts (default 20: half a canary
without a router, `setWeight 25, pause 1s, setWeight 50, pause 1s, setWeight 75, pause 1s`, half
blue-green with `autoPromotionSeconds: 1`). Rounds of new images are rolled out to all of them while,
at random moments (0.5 to 5 s apart), whichever process holds the Lease is SIGKILLed and a fresh
standby started in its place, until BENCH_FAILOVER_KILLS kills (default 50). Reported:

- converged: every Rollout Healthy on the last image of every round;
- steps never went backwards and every pause of every canary round was entered (no step skipped or
  repeated), from a watch of the Rollouts' status;
- traffic to a revision with no available pod: never, from LISTs of ReplicaSets then Services every
  0.3 s (ReplicaSets first, so a correct switch-then-scale-down is never misread);
- takeover times (SIGKILL to a live holder of the Lease).

Run: ``python -m bench failover``.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.kube import apply_crds, follow
from e2e.cluster import ensure_up
from rollouts.kube import KubeClient, KubeError, load_config

HASH = "rollouts-pod-template-hash"
CANARY_STEPS = [
    {"setWeight": 25},
    {"pause": {"duration": "1s"}},
    {"setWeight": 50},
    {"pause": {"duration": "1s"}},
    {"setWeight": 75},
    {"pause": {"duration": "1s"}},
]
PAUSE_STEPS = {1, 3, 5}
LEASE = ["--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "1"]


def _objects(namespace: str, index: int) -> list[dict[str, Any]]:
    name = f"r{index}"
    canary = index % 2 == 0
    services = ("stable", "canary") if canary else ("active", "preview")
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{name}-{role}", "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
        }
        for role in services
    ]
    strategy = (
        {
            "canary": {
                "stableService": f"{name}-stable",
                "canaryService": f"{name}-canary",
                "steps": CANARY_STEPS,
            }
        }
        if canary
        else {
            "blueGreen": {
                "activeService": f"{name}-active",
                "previewService": f"{name}-preview",
                "autoPromotionSeconds": 1,
                "scaleDownDelaySeconds": 2,
            }
        }
    )
    objs.append(
        {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "example.com/app:v0"}]},
                },
                "strategy": strategy,
            },
        }
    )
    return objs


class Observer:
    """What the Rollouts' status and the Services say while the chaos runs."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client, self.namespace = client, namespace
        self.rollouts: dict[str, dict[str, Any]] = {}
        self.last_step: dict[tuple[str, str], int] = {}  # (rollout, pod hash) -> last step index seen
        self.pauses_seen: dict[tuple[str, str], set[int]] = {}
        self.backwards: list[str] = []
        self.violations: list[str] = []
        self.traffic_samples = 0

    async def follow(self) -> None:
        await follow(
            self.client, "rollouts.dev/v1alpha1", "Rollout", self.namespace, lambda obj, _: self._see(obj)
        )

    def _see(self, obj: dict[str, Any]) -> None:
        name, st = obj["metadata"]["name"], obj.get("status") or {}
        self.rollouts[name] = obj
        step, pod_hash = st.get("currentStepIndex"), st.get("currentPodHash")
        if step is None or pod_hash is None or "canary" not in obj["spec"]["strategy"]:
            return
        key = (name, str(pod_hash))
        if step < self.last_step.get(key, -1):
            self.backwards.append(f"{name} revision {pod_hash}: step {self.last_step[key]} -> {step}")
        self.last_step[key] = max(step, self.last_step.get(key, -1))
        if st.get("pauseConditions") and step in PAUSE_STEPS:
            self.pauses_seen.setdefault(key, set()).add(step)

    async def sample_traffic(self) -> None:
        """ReplicaSets, Services, ReplicaSets again: a Service selecting a revision that had no
        available pod in both ReplicaSet reads is a violation. One read alone would misread a
        correct switch: a scale-down after the switch (Services read last) or a switch right after
        the pods became available (ReplicaSets read first)."""
        while True:
            try:
                before = await self._available()
                services = await self.client.list("v1", "Service", namespace=self.namespace)
                after = await self._available()
            except KubeError:
                await asyncio.sleep(0.3)
                continue
            for svc in services.items:
                selected = (svc["spec"].get("selector") or {}).get(HASH)
                if selected and before.get(selected, 0) == 0 and after.get(selected, 0) == 0:
                    self.violations.append(
                        f"{time.strftime('%H:%M:%S')} {svc['metadata']['name']} -> {selected}"
                    )
            self.traffic_samples += 1
            await asyncio.sleep(0.3)

    async def _available(self) -> dict[str, int]:
        listing = await self.client.list("apps/v1", "ReplicaSet", namespace=self.namespace)
        return {
            str((r["metadata"].get("labels") or {}).get(HASH)): int(
                (r.get("status") or {}).get("availableReplicas") or 0
            )
            for r in listing.items
        }

    def converged(self, image: str) -> bool:
        for obj in self.rollouts.values():
            st = obj.get("status") or {}
            if obj["spec"]["template"]["spec"]["containers"][0]["image"] != image:
                return False
            if str(st.get("observedGeneration")) != str(obj["metadata"].get("generation")):
                return False  # the status still speaks of the template before the new image
            if st.get("phase") != "Healthy" or st.get("stableRS") != st.get("currentPodHash"):
                return False
        return bool(self.rollouts)


class Replicas:
    """The two controller processes; the one holding the Lease is killed and replaced on demand."""

    def __init__(self, namespace: str, kubeconfig: str, log_dir: Path) -> None:
        self.namespace, self.kubeconfig, self.log_dir = namespace, kubeconfig, log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.started = 0

    def start(self) -> None:
        self.started += 1
        log = self.log_dir / f"{self.namespace}-controller-{self.started}.log"
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "kube-rollouts"), "run", "--namespace", self.namespace,
             "--metrics-port", "-1", "--health-port", "-1", "--leader-elect",
             "--leader-election-namespace", self.namespace, *LEASE],
            env={**os.environ, "KUBECONFIG": self.kubeconfig}, stderr=log.open("wb"),
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"waiting to lead as (\S+)", log.read_text(errors="replace"))
            if found:
                self.procs[found.group(1)] = proc
                self.logs[found.group(1)] = log
                return
            time.sleep(0.1)
        raise RuntimeError(f"controller did not start: {log.read_text()[-2000:]}")

    def kill(self, identity: str) -> None:
        proc = self.procs.pop(identity)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(timeout=30)


async def _holder(client: KubeClient, namespace: str) -> str | None:
    lease = await client.get_or_none(
        "coordination.k8s.io/v1", "Lease", name="kube-rollouts", namespace=namespace
    )
    return ((lease or {}).get("spec") or {}).get("holderIdentity")


async def _chaos(
    client: KubeClient, namespace: str, replicas: Replicas, kills: int, takeovers: list[float]
) -> None:
    rng = random.Random(int(os.environ.get("BENCH_SEED", "1")))
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(0.5, 5.0))
        while (leader := await _holder(client, namespace)) not in replicas.procs:
            await asyncio.sleep(0.1)  # the Lease still names the dead one: wait for the takeover
        killed = time.monotonic()
        replicas.kill(leader)
        await asyncio.to_thread(replicas.start)  # a fresh standby in its place
        while (await _holder(client, namespace)) in (leader, None):
            await asyncio.sleep(0.1)
        takeovers.append(time.monotonic() - killed)


async def _bench(count: int, kills: int, namespace: str, kubeconfig: str) -> dict[str, Any]:
    client = KubeClient(load_config(kubeconfig=kubeconfig))
    observer = Observer(client, namespace)
    replicas = Replicas(namespace, kubeconfig, Path(os.environ.get("BENCH_LOG_DIR", "/tmp")))
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    tasks = [asyncio.create_task(observer.follow()), asyncio.create_task(observer.sample_traffic())]
    takeovers: list[float] = []
    rounds: list[float] = []
    first_revisions: set[tuple[str, str]] = set()
    unconverged: list[int] = []
    started = time.monotonic()
    try:
        for i in range(count):
            for obj in _objects(namespace, i):
                await client.create(obj)
        replicas.start()
        replicas.start()
        image = "example.com/app:v0"
        while not observer.converged(image):
            await asyncio.sleep(0.5)
        for name, obj in observer.rollouts.items():  # deployed without steps: not a canary round
            first_revisions.add((name, str((obj.get("status") or {}).get("currentPodHash"))))
        chaos = asyncio.create_task(_chaos(client, namespace, replicas, kills, takeovers))
        round_no = 0
        while not chaos.done():
            round_no += 1
            image = f"example.com/app:v{round_no}"
            patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
            round_started = time.monotonic()
            for i in range(count):
                await client.patch(
                    "rollouts.dev/v1alpha1", "Rollout", namespace=namespace, name=f"r{i}", patch=patch
                )
            deadline = time.monotonic() + 300
            while not observer.converged(image) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            if not observer.converged(image):
                unconverged.append(round_no)
            rounds.append(time.monotonic() - round_started)
        await chaos
    finally:
        replicas.stop()
        for task in tasks:
            task.cancel()
        await client.delete("v1", "Namespace", name=namespace)
        await client.close()
    canaries = {f"r{i}" for i in range(0, count, 2)}
    canary_rounds = [k for k in observer.last_step if k[0] in canaries and k not in first_revisions]
    missed_pauses = [
        f"{name} {pod_hash}: saw {sorted(observer.pauses_seen.get((name, pod_hash), set()))}"
        for name, pod_hash in canary_rounds
        if observer.pauses_seen.get((name, pod_hash), set()) != PAUSE_STEPS
    ]
    return {
        "rollouts": count,
        "kills": len(takeovers),
        "rounds": len(rounds),
        "rounds_not_converged": unconverged,
        "round_seconds_p50": round(statistics.median(rounds), 1) if rounds else None,
        "takeover_seconds_p50": round(statistics.median(takeovers), 2) if takeovers else None,
        "takeover_seconds_max": round(max(takeovers), 2) if takeovers else None,
        "steps_backwards": observer.backwards,
        "canary_revisions_checked": len(canary_rounds),
        "canary_revisions_missing_a_pause": missed_pauses,
        "traffic_samples": observer.traffic_samples,
        "traffic_to_revision_without_available_pods": observer.violations[:20],
        "traffic_violations": len(observer.violations),
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def run() -> dict[str, Any]:
    count = int(os.environ.get("BENCH_FAILOVER_ROLLOUTS", "20"))
    kills = int(os.environ.get("BENCH_FAILOVER_KILLS", "50"))
    cluster = ensure_up(log=False)
    apply_crds(cluster)
    namespace = f"bench-failover-{uuid.uuid4().hex[:6]}"
    return asyncio.run(_bench(count, kills, namespace, str(cluster.kubeconfig)))
