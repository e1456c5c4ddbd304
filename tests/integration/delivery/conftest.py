"""Fixtures for end-to-end delivery: the real controller process measuring against the real
Prometheus, the traffic simulator feeding Prometheus, and a proxy that can take Prometheus away.

``controller``: ``kube-rollouts run --namespace <ns> --prometheus-address <the cluster's Prometheus>``
(the same :class:`ControllerProcess` the controller scenarios use). ``traffic``: the simulator,
serving request metrics for the test's namespace and scraped by Prometheus every second
(``busy_traffic``: a hundred times as many requests, for the judge's statistics).
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


JUDGED_REQUESTS_PER_SECOND = 2000.0
"""For the judge's tests: enough requests that one 2 s step's error count of a version serving a
quarter of them is well above the counters' rounding to whole requests (0.5/s at 0.1 % errors)."""

SHAKY = "v2-shaky"
"""An image tag the simulator answers with its 1.1 % error profile: one point above the 0.1 % of a
healthy version."""


@pytest.fixture
def busy_traffic(cluster: Cluster, namespace: str) -> Iterator[RunningSimulator]:
    """The simulator at ``JUDGED_REQUESTS_PER_SECOND``."""
    with simulator(cluster, namespaces=[namespace], rate=JUDGED_REQUESTS_PER_SECOND) as sim:
        yield sim


def error_rate_query(hash_arg: str, *, window: str = "4s") -> str:
    """PromQL of the 5xx share of the application's own requests of one revision, its hash (and
    the namespace) taken from the run's args."""
    selector = f'namespace="{{{{args.namespace}}}}", rollouts_pod_template_hash="{{{{args.{hash_arg}}}}}"'
    return (
        f'sum(rate(http_requests_total{{{selector}, code=~"5.."}}[{window}]))'
        f" / sum(rate(http_requests_total{{{selector}}}[{window}]))"
    )


@pytest.fixture
def prometheus_proxy(cluster: Cluster) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream=cluster.prometheus_url)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
