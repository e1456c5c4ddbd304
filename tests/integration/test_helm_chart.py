"""The Helm chart, rendered and installed by the real helm binary into the real API server."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import Cluster
from image import build as image_build
from tests.conftest import REPO, run_kubectl
from tests.integration.controller import scenario as sc
from tests.integration.webhook_process import WebhookProcess
from tests.support import Kubectl, kubectl_json

CHART = REPO / "charts" / "kube-rollouts"


def helm(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [str(Path(cluster.bin_dir) / "helm"), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and res.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {res.stderr.strip()}")
    return res


def test_chart_lints(cluster: Cluster) -> None:
    helm(cluster, "lint", str(CHART))


def test_values_are_checked_against_the_schema(cluster: Cluster) -> None:
    typo = helm(cluster, "template", "r", str(CHART), "--set", "workerz=3", check=False)
    assert typo.returncode != 0 and "additional properties 'workerz' not allowed" in typo.stderr
    wrong = helm(cluster, "template", "r", str(CHART), "--set", "logFormat=yaml", check=False)
    assert wrong.returncode != 0 and "/logFormat" in wrong.stderr


def test_the_pod_spec_fits_the_image(cluster: Cluster) -> None:
    """What `make image` builds (user, ports, entrypoint, no writes to the root) is what the chart runs."""
    docs = [d for d in yaml.safe_load_all(helm(cluster, "template", "r", str(CHART)).stdout) if d]
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsUser"] == image_build.USER and pod["securityContext"]["runAsNonRoot"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert sorted(p["containerPort"] for p in container["ports"]) == sorted(image_build.PORTS)
    assert "command" not in container and container["args"][0] == "run"  # the image's entrypoint runs it


def test_several_replicas_without_leader_election_are_refused(cluster: Cluster) -> None:
    res = helm(cluster, "template", "r", str(CHART), "--set", "leaderElection.enabled=false", check=False)
    assert res.returncode != 0 and "replicaCount > 1 needs leaderElection.enabled" in res.stderr
    single = helm(
        cluster, "template", "r", str(CHART), "--set", "leaderElection.enabled=false,replicaCount=1"
    )
    docs = [d for d in yaml.safe_load_all(single.stdout) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "--leader-elect" not in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any(d["kind"] == "PodDisruptionBudget" or "leader" in d["metadata"]["name"] for d in docs)


def test_namespaced_install_grants_roles_only_in_the_watched_namespaces(cluster: Cluster) -> None:
    docs = list(
        yaml.safe_load_all(
            helm(cluster, "template", "r", str(CHART), "--set", "watchNamespaces={a,b}").stdout
        )
    )
    kinds = sorted((d["kind"], d["metadata"].get("namespace", "")) for d in docs if d)
    assert ("Role", "a") in kinds and ("Role", "b") in kinds
    assert ("RoleBinding", "a") in kinds and ("RoleBinding", "b") in kinds
    cluster_roles = [
        d for d in docs if d and d["kind"] == "ClusterRole" and not d["metadata"]["name"].endswith("-webhook")
    ]
    # Only ClusterAnalysisTemplates (cluster-scoped) are read cluster-wide by the controller.
    assert [r["resources"] for d in cluster_roles for r in d["rules"]] == [["clusteranalysistemplates"]]
    deployment = next(d for d in docs if d and d["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=a" in args and "--namespace=b" in args and "--all-namespaces" not in args


def _webhook_docs(cluster: Cluster, *sets: str) -> list[dict[str, Any]]:
    args = [arg for value in sets for arg in ("--set", value)]
    rendered = helm(cluster, "template", "r", str(CHART), "--namespace", "ops", *args).stdout
    return [
        d
        for d in yaml.safe_load_all(rendered)
        if d and ("webhook" in d["metadata"]["name"] or d["kind"].endswith("WebhookConfiguration"))
    ]


def test_the_webhook_runs_apart_in_one_pod_with_only_what_kopf_and_the_dry_run_use(cluster: Cluster) -> None:
    docs = {(d["kind"], d["metadata"].get("namespace", "")): d for d in _webhook_docs(cluster)}
    deployment = docs[("Deployment", "ops")]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == [*image_build.ENTRYPOINT[:2], "rollouts.webhook"]
    assert pod["serviceAccountName"] == "r-kube-rollouts-webhook"
    # kopf points the configuration at the Service, whose port 443 reaches the container's.
    service = docs[("Service", "ops")]
    assert "--service=ops/r-kube-rollouts-webhook:443" in container["args"]
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 443, "targetPort": "webhook"}]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    configuration = "r-kube-rollouts.ops.rollouts.dev"
    assert f"--configuration={configuration}" in container["args"]
    assert docs[("ValidatingWebhookConfiguration", "")]["metadata"]["name"] == configuration
    assert "webhooks" not in docs[("ValidatingWebhookConfiguration", "")]  # kopf's to write
    assert docs[("ClusterRole", "")]["rules"] == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
            "resourceNames": [configuration],
            "verbs": ["patch"],
        },
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["create"]},
    ]
    # Namespaced: the dry-run only in the watched namespaces; off: nothing at all.
    namespaced = {
        (d["kind"], d["metadata"].get("namespace", "")): d
        for d in _webhook_docs(cluster, "watchNamespaces={a}")
    }
    assert [r["resources"] for r in namespaced[("ClusterRole", "")]["rules"]][-1] != ["replicasets"]
    assert namespaced[("Role", "a")]["rules"] == [
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["create"]}
    ]
    assert _webhook_docs(cluster, "webhook.enabled=false") == []


@pytest.fixture
def release(cluster: Cluster, rollout_crds: None, namespace: str) -> Iterator[str]:
    name = f"r{uuid.uuid4().hex[:6]}"
    helm(
        cluster,
        "install",
        name,
        str(CHART),
        "--namespace",
        namespace,
        "--skip-crds",
        "--wait",
        "--timeout=90s",
    )
    yield name
    helm(cluster, "uninstall", name, "--namespace", namespace, check=False)


def test_install_creates_a_running_controller_deployment(
    cluster: Cluster, release: str, kubectl: Kubectl, namespace: str
) -> None:
    fullname = f"{release}-kube-rollouts"
    deployment = kubectl_json(kubectl, "get", "deployment", fullname)
    # Two replicas by default, leader-elected: rolling updates and drains keep one, the PDB says so.
    assert deployment["status"].get("availableReplicas") == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "--leader-elect" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert kubectl_json(kubectl, "get", "pdb", fullname)["spec"]["maxUnavailable"] == 1
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == fullname
    kubectl("get", "service", f"{fullname}-metrics")
    # Cluster-wide by default: the ServiceAccount may read Rollouts anywhere but not, say, read
    # every Secret or delete a Deployment.
    sa = f"system:serviceaccount:{namespace}:{fullname}"

    def can(*args: str) -> str:
        return run_kubectl(cluster, "auth", "can-i", *args, f"--as={sa}", check=False).stdout.strip()

    assert can("watch", "rollouts.rollouts.dev", "--all-namespaces") == "yes"
    assert can("patch", "rollouts.rollouts.dev", "--subresource=status", "-n", "default") == "yes"
    assert can("create", "replicasets.apps", "-n", "default") == "yes"
    assert can("create", "services", "-n", "default") == "yes"  # an experiment template's Service
    assert can("patch", "experiments.rollouts.dev", "--subresource=status", "-n", "default") == "yes"
    assert can("list", "secrets", "-n", "default") == "no"
    assert can("delete", "deployments.apps", "-n", "default") == "no"
    assert can("update", "rollouts.rollouts.dev", "-n", "default") == "no"
    # Its Lease, in its own namespace only.
    assert can("update", "leases.coordination.k8s.io", "-n", namespace) == "yes"
    assert can("update", "leases.coordination.k8s.io", "-n", "default") == "no"
    # The webhook's pod is apart, with its own account: it may keep its configurations and dry-run
    # ReplicaSets, and nothing the controller may do.
    hook = f"system:serviceaccount:{namespace}:{fullname}-webhook"
    kubectl_json(kubectl, "get", "deployment", f"{fullname}-webhook")
    configuration = f"{fullname}.{namespace}.rollouts.dev"

    def hook_can(*args: str) -> str:
        return run_kubectl(cluster, "auth", "can-i", *args, f"--as={hook}", check=False).stdout.strip()

    assert hook_can("patch", f"validatingwebhookconfigurations/{configuration}") == "yes"
    assert hook_can("patch", "validatingwebhookconfigurations/someone-elses.example.com") == "no"
    assert hook_can("create", "replicasets.apps", "-n", "default") == "yes"
    assert hook_can("delete", "replicasets.apps", "-n", "default") == "no"
    assert hook_can("get", "rollouts.rollouts.dev", "-n", "default") == "no"


def test_the_webhook_works_with_exactly_the_rights_the_chart_grants(
    cluster: Cluster, release: str, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    """The webhook process (on this host: KWOK runs no containers) logged in as the chart's webhook
    ServiceAccount: kopf fills the chart's configurations and the ReplicaSet dry-run refuses a bad
    pod template, with nothing forbidden on the way; uninstalling removes the configurations."""
    fullname = f"{release}-kube-rollouts"
    token = kubectl("create", "token", f"{fullname}-webhook").stdout.strip()
    login = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    base = Path(cluster.kubeconfig).parent
    cluster_entry = login["clusters"][0]["cluster"]
    cluster_entry["certificate-authority"] = str(base / cluster_entry["certificate-authority"])
    login["users"][0]["user"] = {"token": token}
    kubeconfig = tmp_path / "webhook-sa.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(login))
    configuration = f"{fullname}.{namespace}.rollouts.dev"
    process = WebhookProcess(
        cluster, tmp_path / "webhook.log", configuration=configuration, kubeconfig=kubeconfig
    )
    process.start()
    try:
        bad = sc.rollout("never", strategy={"canary": {"steps": [{"setWeight": 50}]}}, replicas=1)
        bad["spec"]["template"]["spec"]["restartPolicy"] = "Never"
        res = kubectl("apply", "-f", "-", stdin=json.dumps(bad), check=False)
        assert res.returncode != 0 and "restartPolicy: Unsupported value" in res.stderr, res.stderr
        assert "Forbidden" not in process.log() and "403" not in process.log(), process.log()[-3000:]
    finally:
        process.terminate()  # the configurations stay: they are the chart's, to go with the release
    helm(cluster, "uninstall", release, "--namespace", namespace)
    for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
        assert run_kubectl(cluster, "get", kind, configuration, check=False).returncode != 0


def test_an_instance_id_makes_the_release_one_shard_and_a_bad_one_is_refused(cluster: Cluster) -> None:
    rendered = helm(cluster, "template", "r", str(CHART), "--set", "instanceId=blue").stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment")
    assert "--instance-id=blue" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    plain = helm(cluster, "template", "r", str(CHART)).stdout
    assert "--instance-id" not in plain
    bad = helm(cluster, "template", "r", str(CHART), "--set", "instanceId=a/b", check=False)
    assert bad.returncode != 0 and "instanceId" in bad.stderr
