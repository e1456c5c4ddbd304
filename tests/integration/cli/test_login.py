"""Logging in the way people's kubeconfigs do, against the real API server: `kubectl rollouts` and
`kube-rollouts run` with a `KUBECONFIG` list (the cluster in one file, the user in another) whose user
is a real exec credential plugin, handing out the token of a ServiceAccount that has only the rights
the test needs; a token the API server refuses is replaced by a new login; inline key material leaves
no file behind.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import Cluster
from tests.integration.cli.conftest import Plugin, apply, deliver_a_canary, rollout, run_plugin
from tests.integration.controller.conftest import ControllerProcess
from tests.support import Kubectl

CHART = Path(__file__).resolve().parents[3] / "charts" / "kube-rollouts"


def _admin(cluster: Cluster) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    return doc


def _split_kubeconfig(cluster: Cluster, tmp_path: Path, user: dict[str, Any], namespace: str) -> str:
    """Two files as people keep them: cluster and context in one, the user in the other."""
    admin = _admin(cluster)
    server = admin["clusters"][0]["cluster"]
    clusters = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": server}],
        "contexts": [
            {"name": "dev", "context": {"cluster": "local", "user": "exec-user", "namespace": namespace}}
        ],
        "current-context": "dev",
    }
    users = {"apiVersion": "v1", "kind": "Config", "users": [{"name": "exec-user", "user": user}]}
    (tmp_path / "clusters.yaml").write_text(yaml.safe_dump(clusters))
    (tmp_path / "users.yaml").write_text(yaml.safe_dump(users))
    return f"{tmp_path / 'clusters.yaml'}:{tmp_path / 'users.yaml'}"


def _exec_user(tmp_path: Path, *tokens: str) -> dict[str, Any]:
    """A real exec plugin (client.authentication.k8s.io/v1): the next of ``tokens`` on each run."""
    (tmp_path / "tokens.json").write_text(json.dumps(list(tokens)))
    script = tmp_path / "credential-plugin.py"
    script.write_text(
        f"""import json, pathlib
state = pathlib.Path({str(tmp_path / "runs")!r})
tokens = json.loads(pathlib.Path({str(tmp_path / "tokens.json")!r}).read_text())
runs = int(state.read_text()) if state.exists() else 0
state.write_text(str(runs + 1))
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {{"token": tokens[min(runs, len(tokens) - 1)]}}}}))
"""
    )  # fmt: skip
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script)],
            "interactiveMode": "Never",
        }
    }


def _service_account_token(kubectl: Kubectl, name: str) -> str:
    return kubectl("create", "token", name, "--duration=10m").stdout.strip()


@pytest.fixture
def reader_token(kubectl: Kubectl, namespace: str) -> str:
    """A ServiceAccount that may only read Rollouts in the test's namespace."""
    kubectl("create", "serviceaccount", "reader")
    kubectl("create", "role", "rollout-reader", "--verb=get,list,watch", "--resource=rollouts.rollouts.dev")
    kubectl(
        "create",
        "rolebinding",
        "rollout-reader",
        "--role=rollout-reader",
        f"--serviceaccount={namespace}:reader",
    )
    return _service_account_token(kubectl, "reader")  # fmt: skip


def test_the_plugin_logs_in_through_an_exec_plugin_and_a_kubeconfig_list(
    cluster: Cluster, kubectl: Kubectl, namespace: str, reader_token: str, tmp_path: Path, rollout_crds: None
) -> None:
    apply(kubectl, rollout("web", steps=[{"setWeight": 50}]))
    kubeconfig = _split_kubeconfig(cluster, tmp_path, _exec_user(tmp_path, reader_token), namespace)
    # The real kubectl accepts this kubeconfig list; so must its plugin.
    real = subprocess.run(
        [str(Path(cluster.bin_dir) / "kubectl"), "get", "rollouts.rollouts.dev", "-o", "name"],
        env={**_plain_env(), "KUBECONFIG": kubeconfig}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert real.returncode == 0 and "web" in real.stdout, real.stderr
    listed = run_plugin(cluster, "list", "rollouts", kubeconfig=kubeconfig)
    assert listed.returncode == 0, listed.stderr
    assert "web" in listed.stdout
    # The ServiceAccount has only the rights given: the login is really its own.
    denied = run_plugin(cluster, "pause", "web", kubeconfig=kubeconfig)
    assert denied.returncode != 0 and "access denied" in denied.stderr


def test_a_refused_token_is_replaced_by_a_new_login(
    cluster: Cluster, kubectl: Kubectl, namespace: str, reader_token: str, tmp_path: Path, rollout_crds: None
) -> None:
    apply(kubectl, rollout("web", steps=[{"setWeight": 50}]))
    user = _exec_user(tmp_path, "a-token-the-api-server-revoked", reader_token)
    listed = run_plugin(
        cluster, "list", "rollouts", kubeconfig=_split_kubeconfig(cluster, tmp_path, user, namespace)
    )
    assert listed.returncode == 0 and "web" in listed.stdout, listed.stderr
    assert (tmp_path / "runs").read_text() == "2"  # one login refused (401), one more that worked


def test_inline_key_material_leaves_no_file_behind(
    cluster: Cluster, kubectl: Kubectl, namespace: str, tmp_path: Path, rollout_crds: None
) -> None:
    """A kubeconfig like kind's or minikube's, with the client key inline: no copy of it stays in TMPDIR."""
    admin = _admin(cluster)
    user = admin["users"][0]["user"]
    base = Path(cluster.kubeconfig).parent
    inline = {
        f"{key}-data": base64.b64encode((base / user[key]).read_bytes()).decode()
        for key in ("client-certificate", "client-key")
    }
    cluster_entry = dict(admin["clusters"][0]["cluster"])
    ca = cluster_entry.pop("certificate-authority")
    cluster_entry["certificate-authority-data"] = base64.b64encode((base / ca).read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kind", "cluster": cluster_entry}],
        "users": [{"name": "kind", "user": inline}],
        "contexts": [
            {"name": "kind", "context": {"cluster": "kind", "user": "kind", "namespace": namespace}}
        ],
        "current-context": "kind",
    }
    (tmp_path / "kind.yaml").write_text(yaml.safe_dump(doc))
    temp = tmp_path / "tmp"
    temp.mkdir()
    apply(kubectl, rollout("web", steps=[{"setWeight": 50}]))
    env_tmp = {"TMPDIR": str(temp)}
    for _ in range(3):
        res = subprocess.run(
            [sys.executable, "-m", "rollouts.cli", "list", "rollouts"],
            env={**_plain_env(), "KUBECONFIG": str(tmp_path / "kind.yaml"), **env_tmp},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.returncode == 0 and "web" in res.stdout, res.stderr
    assert list(temp.iterdir()) == []


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "TMPDIR")}


def test_the_controller_runs_a_delivery_logged_in_through_an_exec_plugin(
    cluster: Cluster, kubectl: Kubectl, namespace: str, tmp_path: Path, rollout_crds: None, plugin: Plugin
) -> None:
    """`kube-rollouts run` with the chart's own per-namespace RBAC, logged in as its ServiceAccount."""
    release = f"login-{namespace[-8:]}"
    rendered = subprocess.run(
        [str(Path(cluster.bin_dir) / "helm"), "template", release, str(CHART), "--namespace", namespace,
         "--set", f"watchNamespaces={{{namespace}}}"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    rbac = [
        d
        for d in yaml.safe_load_all(rendered)
        if d and d["kind"] in ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
    ]
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac}))
    sa = next(d["metadata"]["name"] for d in rbac if d["kind"] == "ServiceAccount")
    try:
        token = _service_account_token(kubectl, sa)
        kubeconfig = _split_kubeconfig(cluster, tmp_path, _exec_user(tmp_path, token), namespace)
        temp = tmp_path / "tmp"
        temp.mkdir()
        env = {"KUBECONFIG": kubeconfig, "TMPDIR": str(temp)}
        proc = ControllerProcess(cluster=cluster, namespace=namespace, log_dir=tmp_path, env=env)
        proc.start()
        try:
            deliver_a_canary(kubectl, plugin, proc.logs)
            assert "forbidden" not in proc.logs().lower(), proc.logs()[-3000:]  # the chart's RBAC suffices
        finally:
            proc.kill()
        assert list(temp.iterdir()) == []
    finally:
        for d in rbac:
            if d["kind"].startswith("Cluster"):
                kubectl("delete", d["kind"], d["metadata"]["name"], "--ignore-not-found")
