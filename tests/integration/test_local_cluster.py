"""Proof that the test bed is a real Kubernetes control plane, not a stand-in.

Each test checks behaviour that only the real components produce: the scheduler binding pods to KWOK
nodes, the ReplicaSet controller removing pods, the garbage collector following ownerReferences, the
API server enforcing a structural schema and RBAC, and Prometheus scraping a live target.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from e2e.cluster import Cluster
from e2e.cluster.scrape import served_metrics
from tests.conftest import run_kubectl
from tests.support import Kubectl, eventually, kubectl_json

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: example.com/web:1}]
"""


def _ready_pods(kubectl: Kubectl, selector: str) -> list[dict]:  # type: ignore[type-arg]
    pods = kubectl_json(kubectl, "get", "pods", "-l", selector)["items"]
    return [
        p
        for p in pods
        if p["metadata"].get("deletionTimestamp") is None
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]


def test_deployment_pods_are_scheduled_on_kwok_nodes_and_become_ready(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    pods = eventually(lambda: len(_ready_pods(kubectl, "app=web")) == 3 and _ready_pods(kubectl, "app=web"),
                      timeout=60, what="3 Ready pods")  # fmt: skip
    assert all(p["spec"]["nodeName"].startswith("kwok-node-") for p in pods)
    deployment = ["get", "deployment", "web"]
    eventually(lambda: kubectl_json(kubectl, *deployment)["status"].get("availableReplicas") == 3,
               what="the Deployment to report 3 available replicas")  # fmt: skip


def test_scaling_down_removes_pods_and_deleting_the_owner_collects_dependents(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    eventually(lambda: len(_ready_pods(kubectl, "app=web")) == 3, timeout=60, what="3 Ready pods")
    rs = kubectl_json(kubectl, "get", "replicasets", "-l", "app=web")["items"]
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    # Scale the ReplicaSet itself (orphaned first, so the Deployment does not scale it back).
    kubectl("delete", "deployment", "web", "--cascade=orphan")
    name = rs[0]["metadata"]["name"]
    eventually(lambda: "ownerReferences" not in kubectl_json(kubectl, "get", "rs", name)["metadata"],
               what="the ReplicaSet to be orphaned")  # fmt: skip
    kubectl("scale", "replicaset", name, "--replicas=1")
    eventually(lambda: len(kubectl_json(kubectl, "get", "pods", "-l", "app=web")["items"]) == 1,
               timeout=60, what="pods to go from 3 to 1")  # fmt: skip
    # Now the ReplicaSet is the owner: deleting it in the background leaves its pod to the collector.
    kubectl("delete", "replicaset", name, "--cascade=background")
    eventually(lambda: kubectl_json(kubectl, "get", "pods", "-l", "app=web")["items"] == [],
               timeout=60, what="the garbage collector to delete the pods")  # fmt: skip


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.proof.test}
spec:
  group: proof.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
"""


@pytest.fixture
def widget_crd(cluster: Cluster) -> Iterator[None]:
    run_kubectl(cluster, "apply", "-f", "-", stdin=CRD)
    run_kubectl(cluster, "wait", "--for=condition=Established", "crd/widgets.proof.test", "--timeout=30s")
    yield
    run_kubectl(cluster, "delete", "crd", "widgets.proof.test", "--wait=false", check=False)


def test_structural_crd_is_accepted_and_enforced_by_the_server(widget_crd: None, kubectl: Kubectl) -> None:
    ok = "apiVersion: proof.test/v1\nkind: Widget\nmetadata: {name: ok}\nspec: {size: 3}\n"
    bad = "apiVersion: proof.test/v1\nkind: Widget\nmetadata: {name: bad}\nspec: {size: 99}\n"
    eventually(lambda: kubectl("apply", "-f", "-", stdin=ok, check=False).returncode == 0,
               what="the new CRD's endpoint to serve")  # fmt: skip
    res = kubectl("apply", "-f", "-", stdin=bad, check=False)
    assert res.returncode != 0
    assert "spec.size" in res.stderr and "should be less than or equal to 10" in res.stderr


def test_rbac_denies_a_service_account_without_rights(
    cluster: Cluster, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    kubectl("create", "serviceaccount", "nobody")
    token = kubectl("create", "token", "nobody").stdout.strip()
    # A kubeconfig holding only the token: with the admin's client certificate present as well, the
    # API server would authenticate the certificate and the test would prove nothing.
    config = tmp_path / "nobody.kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{cluster.api_url}', "
        f"certificate-authority: '{Path(cluster.kubeconfig).parent / 'pki' / 'ca.crt'}'}}}}]\n"
        f"users: [{{name: u, user: {{token: '{token}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    argv = [str(Path(cluster.bin_dir) / "kubectl"), f"--kubeconfig={config}", "get", "pods", "-n", namespace]

    def as_nobody() -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    res = as_nobody()
    assert res.returncode != 0
    assert "forbidden" in res.stderr.lower()
    assert f"system:serviceaccount:{namespace}:nobody" in res.stderr
    # ... and the same request with rights granted is allowed: the denial came from RBAC.
    kubectl("create", "role", "reader", "--verb=list", "--resource=pods")
    kubectl("create", "rolebinding", "reader", "--role=reader", f"--serviceaccount={namespace}:nobody")
    eventually(lambda: as_nobody().returncode == 0, what="the RoleBinding to take effect")


def test_prometheus_scrapes_a_target_the_test_starts(cluster: Cluster) -> None:
    run = uuid.uuid4().hex
    body = f'proof_requests_total{{run="{run}"}} 42\n'.encode()
    name = f"proof-{run}"
    with served_metrics(cluster.prometheus_targets_dir, lambda: body, name=name, labels={"proof": run}):

        def query() -> list[dict]:  # type: ignore[type-arg]
            params = {"query": f'proof_requests_total{{run="{run}"}}'}
            resp = httpx.get(f"{cluster.prometheus_url}/api/v1/query", params=params)
            resp.raise_for_status()
            return resp.json()["data"]["result"]  # type: ignore[no-any-return]

        result = eventually(query, timeout=30, what="Prometheus to scrape the test's target")
        assert result[0]["value"][1] == "42"
        assert result[0]["metric"]["proof"] == run
    assert not (Path(cluster.prometheus_targets_dir) / f"{name}.json").exists()


def test_kwok_renews_node_leases_so_nodes_and_pods_stay_ready(cluster: Cluster) -> None:
    # Without lease renewals the node lifecycle controller marks every node NotReady after its grace
    # period (about 50 s) and every pod Ready=False with it, which breaks any longer test.
    def renew_times() -> dict[str, str]:
        out = run_kubectl(cluster, "get", "leases", "-n", "kube-node-lease", "-o", "json").stdout
        return {i["metadata"]["name"]: i["spec"]["renewTime"] for i in json.loads(out)["items"]}

    first = eventually(renew_times, what="node Leases to exist")
    assert set(first) == {f"kwok-node-{i}" for i in range(3)}
    eventually(
        lambda: all(renew_times()[n] != first[n] for n in first),
        timeout=30,
        what="every node Lease to be renewed",
    )
