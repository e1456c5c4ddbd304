"""Fixtures for analysis against the real Prometheus and the real API server.

``app_metrics``: a tiny HTTP server on 127.0.0.1 the test controls, registered as a scrape target
of the local cluster's Prometheus (file-based discovery); ``set(name, value)`` changes what it
serves, ``wait_scraped(query)`` waits until Prometheus answers the query with data.
``analysis_controller``: the AnalysisRun controller (the same class ``kube-rollouts run`` starts)
running in a background thread on the test's namespace, so tests stay plain synchronous code that
drives the cluster with kubectl.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import httpx
import pytest

from e2e.cluster import Cluster
from e2e.cluster.scrape import served_metrics
from rollouts.controller.analysisruns import AnalysisRunController, AnalysisRunOptions
from rollouts.kube import KubeClient
from tests.support import eventually


class AppMetrics:
    """What the fake application exposes to Prometheus, and a way to wait for the scrape."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.run_id = uuid.uuid4().hex[:12]
        self.values: dict[str, float] = {}
        self.lock = threading.Lock()

    def set(self, name: str, value: float) -> None:
        with self.lock:
            self.values[name] = value

    def exposition(self) -> bytes:
        with self.lock:
            lines = [f'{name}{{run="{self.run_id}"}} {value}' for name, value in self.values.items()]
        return ("\n".join(lines) + "\n").encode()

    def query(self, promql: str) -> list[Any]:
        resp = httpx.get(f"{self.cluster.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10)
        resp.raise_for_status()
        return resp.json()["data"]["result"]  # type: ignore[no-any-return]

    def wait_scraped(self, promql: str, *, expect: float) -> None:
        def seen() -> bool:
            result = self.query(promql)
            return bool(result) and float(result[0]["value"][1]) == expect

        eventually(seen, timeout=60, interval=0.5, what=f"Prometheus to answer {promql} with {expect}")


@pytest.fixture
def app_metrics(cluster: Cluster) -> Iterator[AppMetrics]:
    app = AppMetrics(cluster)
    with served_metrics(cluster.prometheus_targets_dir, app.exposition, name=f"analysis-{app.run_id}"):
        yield app


class ControllerThread:
    """An AnalysisRunController on its own event loop in a daemon thread."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.loop = asyncio.new_event_loop()
        self.controller: AnalysisRunController | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def start(self) -> None:
        ready: Future[None] = Future()

        async def main() -> None:
            client = KubeClient.from_config(kubeconfig=self.cluster.kubeconfig)
            self.controller = AnalysisRunController(
                client,
                AnalysisRunOptions(
                    namespaces=[self.namespace], prometheus_address=self.cluster.prometheus_url
                ),
            )
            ready.set_result(None)
            try:
                await self.controller.run()
            finally:
                await client.close()

        def launch() -> None:
            self._task = self.loop.create_task(main())

        self.loop.call_soon_threadsafe(launch)
        ready.result(timeout=30)

    def stop(self) -> None:
        """Cancel the controller (as SIGTERM does) and wait until it has stopped."""
        task = self._task
        if task is None:
            return
        done: Future[None] = Future()

        def cancel() -> None:
            task.add_done_callback(lambda _: done.set_result(None))
            task.cancel()

        self.loop.call_soon_threadsafe(cancel)
        done.result(timeout=30)
        self._task = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture
def analysis_controller(cluster: Cluster, namespace: str, rollout_crds: None) -> Iterator[ControllerThread]:
    runner = ControllerThread(cluster, namespace)
    runner.start()
    try:
        yield runner
    finally:
        runner.close()
