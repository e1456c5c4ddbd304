"""The real controller process for integration scenarios, and helpers that read what a user reads.

``controller`` starts ``kube-rollouts run --namespace <test namespace>`` (the console script, as a
user runs it) against the local control plane and kills it after the test. Its log is kept in a
file and printed when the test fails. ``controller.kill()`` sends SIGKILL; ``controller.start()``
starts it again. ``extra_args`` are appended to the command line (e.g. ``--prometheus-address``);
``env`` overrides its environment (another ``KUBECONFIG``, ``TMPDIR``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from e2e.cluster import Cluster
from tests.support import Kubectl, eventually

VENV_BIN = Path(sys.executable).parent


class ControllerProcess:
    """One ``kube-rollouts run`` process for a namespace; restartable."""

    def __init__(
        self,
        *,
        cluster: Cluster,
        namespace: str,
        log_dir: Path,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.env = {"KUBECONFIG": str(cluster.kubeconfig), **(env or {})}
        self.namespace = namespace
        self.extra_args = list(extra_args)
        self.log_path = log_dir / "controller.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.metrics_port: int | None = None

    def start(self, *, until: str = "watch caches synced") -> None:
        """Start it and wait until its log says ``until`` (a standby says "waiting to lead")."""
        assert self.proc is None or self.proc.poll() is not None, "controller already running"
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"----- start #{self.starts} -----\n".encode())
        log.flush()
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "kube-rollouts"),
                "run",
                "--namespace",
                self.namespace,
                "--metrics-port",
                "0",
                "--health-port",
                "-1",
                "--bind",
                "127.0.0.1",
                "--log-level",
                "DEBUG",
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        marker = f"----- start #{self.starts} -----"

        def synced() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
            text = self.logs().split(marker)[-1]
            found = re.search(r"serving /metrics \S+ \S+ on [\d.]+:(\d+)", text)
            if found:
                self.metrics_port = int(found.group(1))
            return until in text

        eventually(synced, timeout=30, what="the controller's watch caches to sync")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def identity(self) -> str:
        """The leader-election identity it logged ("waiting to lead as ...")."""
        found = re.search(r"waiting to lead as (\S+)", self.logs())
        assert found, self.logs()[-2000:]
        return found.group(1)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def lease_holder(kubectl: Kubectl, lease: str) -> str | None:
    """Who holds the Lease ``lease`` in the namespace (``None``: no Lease, or no holder)."""
    found = kubectl("get", "lease", lease, "-o", "json", check=False)
    return json.loads(found.stdout)["spec"].get("holderIdentity") if found.returncode == 0 else None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Attach the controller's log to the report of a failed test (pytest prints it under the failure)."""
    report = yield
    proc = getattr(item, "funcargs", {}).get("controller")
    if report.failed and isinstance(proc, ControllerProcess):
        report.sections.append((f"controller log ({proc.log_path})", proc.logs()[-30000:]))
    return report


@pytest.fixture
def controller(
    cluster: Cluster, namespace: str, rollout_crds: None, tmp_path: Path
) -> Iterator[ControllerProcess]:
    proc = ControllerProcess(cluster=cluster, namespace=namespace, log_dir=tmp_path)
    proc.start()
    yield proc
    proc.kill(signal.SIGTERM)
