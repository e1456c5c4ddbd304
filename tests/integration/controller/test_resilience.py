"""The API server crashing in the middle of a canary, down for a few seconds, then back.

This one runs against a PRIVATE control plane started for this module (other engineers' tests share
the default cluster; killing its API server would fail theirs). The controller is the real process;
it must ride the outage out: stay alive and healthy, retry its watches with a growing backoff, and
finish the rollout with every step done once and no Service ever selecting a revision that has no
available pod.
"""

from __future__ import annotations

import re
import signal
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.cluster import Cluster, down, ensure_up
from e2e.cluster.outages import start_component, stop_component
from tests.conftest import REPO, run_kubectl
from tests.integration.controller import scenario as sc
from tests.integration.controller.conftest import ControllerProcess
from tests.support import Kubectl, eventually

STEPS = [
    {"setWeight": 25},
    {"pause": {"duration": "2s"}},
    {"setWeight": 50},
    {"pause": {"duration": "2s"}},
    {"setWeight": 75},
    {"pause": {"duration": "2s"}},
]
OUTAGE_SECONDS = 5


@pytest.fixture(scope="module")
def private_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Path]]:
    """A control plane of our own (free ports, ~5 s to start) with our CRDs; taken down afterwards."""
    state = tmp_path_factory.mktemp("private") / "cluster"
    cluster = ensure_up(state, log=False)
    try:
        run_kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
        run_kubectl(cluster, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        yield cluster, state
    finally:
        down(state)


@pytest.fixture
def private_kubectl(private_cluster: tuple[Cluster, Path]) -> Iterator[tuple[Kubectl, str]]:
    """kubectl bound to a fresh namespace of the private cluster, and that namespace."""
    cluster, _ = private_cluster
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    run_kubectl(cluster, "create", "namespace", namespace)
    run_kubectl(
        cluster, "wait", "--for=create", "serviceaccount/default", f"--namespace={namespace}", "--timeout=30s"
    )

    def run(*args: str, stdin: str | None = None, check: bool = True) -> Any:
        return run_kubectl(
            cluster, "--request-timeout=5s", *args, namespace=namespace, stdin=stdin, check=check
        )

    yield run, namespace
    run_kubectl(cluster, "delete", "namespace", namespace, "--wait=false", check=False)


def _healthz(controller: ControllerProcess) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{controller.metrics_port}/healthz", timeout=5) as resp:
        return int(resp.status)


def test_api_server_crash_mid_canary_controller_retries_and_finishes(
    private_cluster: tuple[Cluster, Path], private_kubectl: tuple[Kubectl, str], tmp_path: Path
) -> None:
    cluster, state = private_cluster
    kubectl, namespace = private_kubectl
    controller = ControllerProcess(cluster=cluster, namespace=namespace, log_dir=tmp_path)
    controller.start()
    try:
        _run_scenario(controller, kubectl, state)
    except BaseException:
        print(f"controller log ({controller.log_path}):\n{controller.logs()[-20000:]}")
        raise
    finally:
        controller.kill(signal.SIGTERM)


def _run_scenario(controller: ControllerProcess, kubectl: Kubectl, state: Path) -> None:
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    strategy = {"canary": {"canaryService": "web-canary", "stableService": "web-stable", "steps": STEPS}}
    sc.apply(kubectl, sc.rollout("web", strategy=strategy, replicas=4))
    v1 = sc.wait_healthy(kubectl, "web", timeout=60)["stableRS"]
    watch = sc.TrafficWatch(kubectl)
    watch.start()
    try:
        sc.set_image(kubectl, "web", "v2")
        sc.wait_status(kubectl, "web", "past step 1", lambda st: (st.get("currentStepIndex") or 0) >= 1)
        stop_component(state, "kube-apiserver", sig=signal.SIGKILL)  # a crash: no goodbye to clients
        outage_began = len(controller.logs())
        time.sleep(OUTAGE_SECONDS)
        assert controller.running, "the controller exited while the API server was down"
        assert _healthz(controller) == 200, "/healthz failed while the API server was down"
        start_component(state, "kube-apiserver")
        done = sc.wait_healthy(kubectl, "web", timeout=60)
    finally:
        watch.stop.set()
        watch.join(timeout=15)

    v2 = done["stableRS"]
    assert v2 != v1 and done["currentStepIndex"] == len(STEPS)
    eventually(lambda: sc.sizes(kubectl, "web") == {v1: 0, v2: 4}, what="v2 at full size, v1 at zero")
    steps = sc.steps_completed(kubectl, "web")
    assert steps == [f"Step {i}/{len(STEPS)}" for i in range(1, len(STEPS) + 1)], steps
    assert watch.failed_reads > 0, "the watch never saw the API server down: no outage was tested"
    assert watch.samples > 5 and watch.violations == []

    assert controller.running and controller.starts == 1, "the controller must ride the outage out"
    assert _healthz(controller) == 200
    during = controller.logs()[outage_began:]
    delays = [float(d) for d in re.findall(r"watch of Rollout failed, retrying in ([\d.]+)s", during)]
    assert len(delays) >= 2 and delays[1] > delays[0], f"no backoff in the Rollout watch's retries: {delays}"
    assert "Traceback" not in during and "pass failed unexpectedly" not in during
