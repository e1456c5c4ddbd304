"""Fixtures for GitOps end to end: real Flux controllers applying a Git repository served over HTTP.

``flux``: source-controller and kustomize-controller (``e2e/cluster/flux.py``), built on first use
and started for the session, stopped when it ends (``cluster down`` stops them too). ``git``: a
repository of the test's own, served over smart HTTP (``e2e/gitserver.py``). ``controller`` and
``traffic`` are the delivery tests' (the real controller with the real Prometheus, the simulator).
On failure the report shows the Flux controllers' and our controller's log lines for the test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.cluster import Cluster
from e2e.cluster.flux import Flux, ensure_flux, stop_flux
from e2e.gitserver import GitServer
from tests.integration.controller.conftest import ControllerProcess
from tests.integration.delivery.conftest import controller, traffic

__all__ = ["controller", "flux", "git", "traffic"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        namespace = funcargs.get("namespace", "")
        proc = funcargs.get("controller")
        if isinstance(proc, ControllerProcess):
            report.sections.append((f"controller log ({proc.log_path})", proc.logs()[-20000:]))
        running = funcargs.get("flux")
        if isinstance(running, Flux):
            for name, path in running.logs.items():
                with contextlib.suppress(OSError):
                    lines = [
                        line
                        for line in path.read_text().splitlines()
                        if namespace in line and "no changes since last reconciliation" not in line
                    ]
                    report.sections.append((f"{name} log ({path}), last lines", "\n".join(lines[-25:])))
    return report


@pytest.fixture(scope="session")
def flux(cluster: Cluster) -> Iterator[Flux]:
    running = ensure_flux(cluster)
    yield running
    stop_flux()


@pytest.fixture
def git(tmp_path: Path) -> Iterator[GitServer]:
    server = GitServer(tmp_path / "git").start()
    yield server
    server.stop()
