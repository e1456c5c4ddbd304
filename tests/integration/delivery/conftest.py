"""Fixtures for end-to-end delivery: the real controller process measuring against the real
Prometheus, the traffic simulator feeding Prometheus, and a proxy that can take Prometheus away.

``controller``: ``kube-rollouts run --namespace <ns> --prometheus-address <the cluster's Prometheus>``
(the same :class:`ControllerProcess` the controller scenarios use). ``traffic``: the simulator,
serving request metrics for the test's namespace and scraped by Prometheus every second.
``prometheus_proxy``: a TCP proxy in front of the real Prometheus; ``stop()`` takes only this path
away (the shared Prometheus keeps running for everyone else).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.cluster import Cluster
from e2e.simulator.launcher import RunningSimulator, simulator
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery.proxy import TcpProxy

SIMULATED_REQUESTS_PER_SECOND = 20.0


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """On failure, show the controller's and the simulator's logs under the test's report."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        proc = funcargs.get("controller")
        if isinstance(proc, ControllerProcess):
            report.sections.append((f"controller log ({proc.log_path})", proc.logs()[-30000:]))
        sim = funcargs.get("traffic")
        if isinstance(sim, RunningSimulator):
            with contextlib.suppress(OSError):
                report.sections.append(("simulator log", sim.log()[-5000:]))
    return report


@pytest.fixture
def controller(
    cluster: Cluster, namespace: str, rollout_crds: None, tmp_path: Path
) -> Iterator[ControllerProcess]:
    proc = ControllerProcess(
        cluster=cluster,
        namespace=namespace,
        log_dir=tmp_path,
        extra_args=["--prometheus-address", cluster.prometheus_url],
    )
    proc.start()
    yield proc
    proc.kill(signal.SIGTERM)


@pytest.fixture
def traffic(cluster: Cluster, namespace: str) -> Iterator[RunningSimulator]:
    with simulator(cluster, namespaces=[namespace], rate=SIMULATED_REQUESTS_PER_SECOND) as sim:
        yield sim


@pytest.fixture
def prometheus_proxy(cluster: Cluster) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream=cluster.prometheus_url)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
