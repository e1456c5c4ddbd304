"""Start the simulator as its own process, for tests and the demo: `with simulator(...) as sim:`.

A separate process (the same `python -m e2e.simulator` a developer runs) keeps the simulator's threads
out of the caller's and proves the command line works. The context manager waits until the simulator
has read the cluster once and Prometheus has scraped it, and on exit stops it with SIGTERM, which
removes its scrape registration.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from e2e.simulator.mix import RequestClass, request_mix

REPO = Path(__file__).resolve().parents[2]


class SimulatorError(RuntimeError):
    pass


@dataclass(frozen=True)
class RunningSimulator:
    """A started simulator: where it serves, and the `simulator` label its scraped series carry."""

    name: str
    url: str
    process: subprocess.Popen[str]
    log_path: str

    def log(self) -> str:
        return Path(self.log_path).read_text()

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5).text

    def streams(self) -> list[dict[str, object]]:
        return httpx.get(f"{self.url}/streams", timeout=5).json()  # type: ignore[no-any-return]


class Target(Protocol):
    """Which cluster and Prometheus the simulator works with (an `e2e.cluster.Cluster` will do)."""

    @property
    def kubeconfig(self) -> str: ...
    @property
    def prometheus_url(self) -> str: ...
    @property
    def prometheus_targets_dir(self) -> str: ...


def command(
    cluster: Target,
    *,
    name: str,
    namespaces: list[str],
    rate: float,
    request_classes: Sequence[RequestClass] = (),
) -> list[str]:
    """The `python -m e2e.simulator` command line for these settings."""
    argv = [sys.executable, "-m", "e2e.simulator", "--kubeconfig", cluster.kubeconfig, "--port", "0"]
    argv += ["--rate", str(rate), "--name", name, "--targets-dir", cluster.prometheus_targets_dir]
    for ns in namespaces:
        argv += ["--namespace", ns]
    for request_class in request_classes:
        argv += ["--request-class", request_class.to_spec()]
    return argv


@contextmanager
def simulator(
    cluster: Target,
    *,
    namespaces: list[str],
    rate: float = 50.0,
    timeout: float = 30.0,
    request_classes: Sequence[RequestClass] = (),
) -> Iterator[RunningSimulator]:
    """Run `python -m e2e.simulator` for `namespaces` until the block ends; `request_classes` add
    tagged requests to the plain ones (see `e2e.simulator.mix`)."""
    request_mix(request_classes)  # a bad mix fails here, with its reason, not as a process that exits
    name = f"traffic-simulator-{uuid.uuid4().hex[:8]}"
    argv = command(cluster, name=name, namespaces=namespaces, rate=rate, request_classes=request_classes)
    # Its log goes to a file, not a pipe nobody drains (a full pipe would stall the simulator); the
    # file stays until the block ends so a failing test or the demo can show it.
    with tempfile.NamedTemporaryFile(mode="w+", prefix=f"{name}-", suffix=".log") as log:
        process = subprocess.Popen(
            argv, cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True, env=dict(os.environ)
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline().strip()  # "serving http://HOST:PORT/metrics as NAME"
            if not first.startswith("serving "):
                process.wait(timeout=10)
                raise SimulatorError(f"simulator did not start: {Path(log.name).read_text().strip()[-2000:]}")
            url = first.split()[1].removesuffix("/metrics")
            running = RunningSimulator(name=name, url=url, process=process, log_path=log.name)
            _wait_scraped(cluster.prometheus_url, name, timeout=timeout)
            yield running
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_scraped(prometheus_url: str, name: str, *, timeout: float) -> None:
    """Until Prometheus has the simulator's own series: from then on its traffic is being recorded."""
    deadline = time.monotonic() + timeout
    query = f'traffic_simulator_observations_total{{simulator="{name}"}}'
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": query}, timeout=5)
            if resp.status_code == 200 and resp.json()["data"]["result"]:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SimulatorError(
        f"Prometheus at {prometheus_url} did not scrape simulator {name} within {timeout:.0f}s"
    )
