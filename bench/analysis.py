"""Benchmark: measurements per second one AnalysisRun controller sustains against the real Prometheus.

Setup: the shared local cluster (``ensure_up``: reused when healthy) and a fresh namespace holding
``RUNS`` AnalysisRuns of ``METRICS`` Prometheus metrics each, every metric measured every second
with no count (so the demand, RUNS x METRICS per second, exceeds what one controller can do and the
figure is its ceiling, not the demand). One ``AnalysisRunController`` (the class ``kube-rollouts
run`` starts, default options: 8 run workers, 16 measurement threads) runs in this process for
``SECONDS``; we count what it measured and wrote, after a warm-up.

Each measurement is a real HTTP query to the real Prometheus for a series the benchmark serves
itself (a tiny scrape target on 127.0.0.1, registered in Prometheus' file-based discovery, so
the query reads the TSDB and never depends on other people's targets), judged by the CEL
condition, and each pass ends with a real status write to the API server. The figure is the
whole path: deadline scheduling, provider, judgement, status subresource PATCH.

Run: ``.venv/bin/python -m bench analysis`` (the cluster is shared; the namespace is deleted after).
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from e2e.cluster import Cluster, ensure_up
from e2e.cluster.scrape import served_metrics
from rollouts.controller.analysisruns import AnalysisRunController, AnalysisRunOptions
from rollouts.kube import KubeClient

RUNS = 60
METRICS = 3
WARMUP = 5.0
SECONDS = 20.0


def _kubectl(cluster: Cluster, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [str(Path(cluster.bin_dir) / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


@contextmanager
def _scrape_target(cluster: Cluster, run_id: str) -> Iterator[str]:
    """Serve ``bench_success_ratio{run=<id>} 0.99`` to Prometheus; yield the query that reads it."""
    body = f'bench_success_ratio{{run="{run_id}"}} 0.99\n'.encode()
    query = f'bench_success_ratio{{run="{run_id}"}}'
    with served_metrics(cluster.prometheus_targets_dir, lambda: body, name=f"bench-analysis-{run_id}"):
        deadline = time.monotonic() + 60
        while not _answered(cluster, query):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Prometheus did not scrape the benchmark's target within 60s ({query})")
            time.sleep(0.5)
        yield query


def _answered(cluster: Cluster, query: str) -> bool:
    resp = httpx.get(f"{cluster.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
    return resp.status_code == 200 and bool(resp.json()["data"]["result"])


def _runs(namespace: str, address: str, query: str) -> str:
    metrics = [
        {
            "name": f"m{i}",
            "interval": "1s",
            "successCondition": "result[0] >= 0.95",
            "consecutiveErrorLimit": 1000,
            "provider": {"prometheus": {"address": address, "query": query}},
        }
        for i in range(METRICS)
    ]
    items = [
        {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": f"bench-{i}", "namespace": namespace},
            "spec": {"metrics": metrics, "measurementRetention": [{"metricName": ".*", "limit": 3}]},
        }
        for i in range(RUNS)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


async def _measure(cluster: Cluster, namespace: str) -> dict[str, Any]:
    async with KubeClient.from_config(kubeconfig=cluster.kubeconfig) as client:
        controller = AnalysisRunController(
            client, AnalysisRunOptions(namespaces=[namespace], prometheus_address=cluster.prometheus_url)
        )
        task = asyncio.create_task(controller.run())
        await asyncio.sleep(WARMUP)
        m0, w0, c0 = controller.stats.measurements, controller.stats.status_writes, time.process_time()
        started = time.monotonic()
        await asyncio.sleep(SECONDS)
        elapsed = time.monotonic() - started
        m1, w1, c1 = controller.stats.measurements, controller.stats.status_writes, time.process_time()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return {
            "measurements_per_second": round((m1 - m0) / elapsed, 1),
            "status_writes_per_second": round((w1 - w0) / elapsed, 1),
            "demand_per_second": RUNS * METRICS,
            "controller_cpu_seconds_per_second": round((c1 - c0) / elapsed, 2),
            "phases": dict(controller.stats.by_phase),
            "conflicts": controller.stats.conflicts,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


def run() -> dict[str, Any]:
    cluster = ensure_up(log=False)
    run_id = uuid.uuid4().hex[:8]
    namespace = f"bench-analysis-{run_id}"
    _kubectl(cluster, "apply", "-f", str(Path(__file__).resolve().parents[1] / "crds"))
    _kubectl(cluster, "create", "namespace", namespace)
    try:
        with _scrape_target(cluster, run_id) as query:
            _kubectl(cluster, "apply", "-f", "-", stdin=_runs(namespace, cluster.prometheus_url, query))
            figures = asyncio.run(_measure(cluster, namespace))
    finally:
        _kubectl(cluster, "delete", "namespace", namespace, "--wait=false")
    return {"runs": RUNS, "metrics_per_run": METRICS, "interval": "1s", "seconds": SECONDS, **figures}
