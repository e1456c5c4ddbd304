"""Fixtures shared by the test suites.

Integration tests get the real local control plane: a session-wide cluster (the running one when it
is healthy, else one started here) and a fresh namespace per test, deleted afterwards. Unit tests use
none of this and never start a cluster.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from e2e.cluster import Cluster, ensure_up
from tests.support import Kubectl

# CI runs the property tests with a fixed seed, so a landing never depends on what the random
# search happened to try; developers' runs keep exploring (and print a reproducer on failure).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    return ensure_up(log=False)


def run_kubectl(
    cluster: Cluster, *args: str, namespace: str | None = None, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The real kubectl we built, against the local cluster."""
    argv = [str(Path(cluster.bin_dir) / "kubectl"), f"--kubeconfig={cluster.kubeconfig}"]
    if namespace:
        argv.append(f"--namespace={namespace}")
    res = subprocess.run([*argv, *args], input=stdin, capture_output=True, text=True, timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    run_kubectl(cluster, "create", "namespace", name)
    # Pods need the namespace's default ServiceAccount, which the controller-manager adds shortly after.
    run_kubectl(
        cluster, "wait", "--for=create", "serviceaccount/default", f"--namespace={name}", "--timeout=30s"
    )
    yield name
    run_kubectl(cluster, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def kubectl(cluster: Cluster, namespace: str) -> Kubectl:
    """kubectl bound to the test's namespace: `kubectl("get", "pods", "-o", "json")`."""

    def run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_kubectl(cluster, *args, namespace=namespace, stdin=stdin, check=check)

    return run


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def rollout_crds(cluster: Cluster) -> None:
    """Our CRDs (from crds/, as generated) and the minimal Istio CRDs, installed and Established."""
    run_kubectl(cluster, "apply", "-f", str(REPO / "e2e" / "crds" / "istio.yaml"))
    # Server-side: the Rollout CRD is larger than client-side apply's last-applied annotation allows.
    run_kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    run_kubectl(cluster, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
