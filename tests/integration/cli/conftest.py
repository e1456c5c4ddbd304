"""Fixtures for the plugin's integration tests: ``kubectl rollouts ...`` through the real kubectl.

``plugin`` runs the real kubectl binary with ``.venv/bin`` first on PATH, so kubectl's plugin
discovery finds ``kubectl-rollouts`` exactly as on a user's machine, against the local control
plane and bound to the test's namespace. ``controller`` (the real ``kube-rollouts run``) comes
from the controller suite's conftest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.cluster import Cluster
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import controller, pytest_runtest_makereport  # noqa: F401
from tests.support import Kubectl

VENV_BIN = Path(sys.executable).parent
Plugin = Callable[..., subprocess.CompletedProcess[str]]


def run_plugin(
    cluster: Cluster, *args: str, kubeconfig: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{cluster.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECONFIG": kubeconfig or str(cluster.kubeconfig),
    }
    env.pop("NO_COLOR", None)
    kubectl = str(Path(cluster.bin_dir) / "kubectl")
    return subprocess.run(
        [kubectl, "rollouts", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def plugin(cluster: Cluster, namespace: str, rollout_crds: None) -> Plugin:
    """``plugin("get", "rollout", "web")`` runs ``kubectl rollouts get rollout web -n <namespace>``."""

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_plugin(cluster, *args, "-n", namespace, timeout=timeout)

    return run


def apply(kubectl: Kubectl, *objects: dict[str, Any]) -> None:
    kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    )


def get(kubectl: Kubectl, kind: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(kubectl("get", kind, name, "-o", "json").stdout)
    return result


def rollout(
    name: str, *, steps: list[dict[str, Any]], image: str = "v1", replicas: int = 3
) -> dict[str, Any]:
    """A canary without a router (the controller needs no Ingress) with the given steps."""
    strategy = {"canary": {"maxSurge": 1, "maxUnavailable": 0, "steps": steps}}
    return sc.rollout(name, strategy=strategy, replicas=replicas, image=image)


def deliver_a_canary(kubectl: Kubectl, plugin: Plugin, logs: Callable[[], str]) -> None:
    """v1 of a two-step canary becomes Healthy, then v2 is rolled out to Healthy by whatever
    controller the caller started (``logs`` is its log, shown on failure)."""
    apply(kubectl, rollout("web", steps=[{"setWeight": 50}, {"pause": {"duration": "1s"}}]))
    first = plugin("status", "web", "-w", "--timeout", "60s", timeout=90)
    assert first.returncode == 0, first.stdout + first.stderr + logs()[-3000:]
    v2 = {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "example.com/web:v2"}
    kubectl("patch", "rollout.rollouts.dev", "web", "--type=json", "-p", json.dumps([v2]))
    done = plugin("status", "web", "-w", "--timeout", "90s", timeout=120)
    assert done.returncode == 0 and done.stdout.endswith("✔ Healthy\n"), done.stdout + logs()[-3000:]
