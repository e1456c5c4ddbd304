"""Argo Rollouts' CRDs installed beside ours: the plugin, the controller and full kubectl names still
reach rollouts.dev.

Both projects define kind Rollout, plural ``rollouts``, short name ``ro``, so in a cluster with both a
bare ``kubectl get rollout web`` resolves to ``rollouts.argoproj.io``. The test installs a stand-in
CRD of its own (group ``argoproj.io``, the same names, an open schema: not Argo's file) and an Argo
Rollout ``web`` beside ours, checks that the bare name does go to Argo's, and delivers a new revision
of ours with the real controller and the real ``kubectl rollouts`` (set image, promote, status). The
stand-in CRD is deleted afterwards; a real Argo install already there is used and left alone.

This test's own kubectl calls use a private discovery cache (``--cache-dir``), so they see the
stand-in at once and leave the shared one in ``~/.kube/cache`` as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.cluster import Cluster
from tests.conftest import run_kubectl
from tests.integration.cli.conftest import Plugin, apply, rollout
from tests.support import Kubectl, eventually

STAND_IN = "kube-rollouts.test/stand-in"
ARGO_ROLLOUT_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "rollouts.argoproj.io", "labels": {STAND_IN: "argo-rollouts"}},
    "spec": {
        "group": "argoproj.io",
        "scope": "Namespaced",
        "names": {
            "kind": "Rollout",
            "listKind": "RolloutList",
            "plural": "rollouts",
            "singular": "rollout",
            "shortNames": ["ro"],
        },
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}
ARGO_WEB: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web"},
    "spec": {"replicas": 1, "note": "an Argo Rollout of the same name: nothing here may touch it"},
}
STEPS = [{"setWeight": 50}, {"pause": {}}]


@pytest.fixture
def argo_rollout_crd(cluster: Cluster) -> Iterator[None]:
    """The stand-in ``rollouts.argoproj.io`` CRD, Established, deleted afterwards (unless Argo's is there)."""
    found = run_kubectl(cluster, "get", "crd", "rollouts.argoproj.io", "-o", "json", check=False)
    if found.returncode == 0 and STAND_IN not in (json.loads(found.stdout)["metadata"].get("labels") or {}):
        yield  # the real Argo Rollouts CRD: use it, never delete it
        return
    run_kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(ARGO_ROLLOUT_CRD))
    try:
        run_kubectl(
            cluster, "wait", "--for=condition=Established", "crd/rollouts.argoproj.io", "--timeout=30s"
        )
        yield
    finally:
        run_kubectl(cluster, "delete", "crd", "rollouts.argoproj.io", "--timeout=60s", check=False)


@pytest.fixture
def fresh_kubectl(cluster: Cluster, namespace: str, tmp_path: Path) -> Kubectl:
    """kubectl in the test's namespace with a discovery cache of its own."""
    cache = tmp_path / "kube-cache"

    def run(*args: str, stdin: str | None = None, check: bool = True) -> Any:
        return run_kubectl(
            cluster, f"--cache-dir={cache}", *args, namespace=namespace, stdin=stdin, check=check
        )

    return run


def _get(kubectl: Kubectl, resource: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(kubectl("get", resource, name, "-o", "json").stdout)
    return result


def test_a_delivery_with_argo_rollouts_crds_installed(
    argo_rollout_crd: None, controller: Any, plugin: Plugin, fresh_kubectl: Kubectl
) -> None:
    apply(fresh_kubectl, rollout("web", steps=STEPS), ARGO_WEB)
    # The premise: bare names go to Argo's Rollout, so only full names reach ours.
    for bare in ("rollout", "rollouts", "ro"):
        assert _get(fresh_kubectl, bare, "web")["apiVersion"] == "argoproj.io/v1alpha1", bare
    assert _get(fresh_kubectl, "rollout.rollouts.dev", "web")["apiVersion"] == "rollouts.dev/v1alpha1"

    first = plugin("status", "web", "--timeout", "60s", timeout=90)
    assert (first.returncode, first.stdout) == (0, "✔ Healthy\n"), first.stdout + first.stderr
    v1 = _get(fresh_kubectl, "rollout.rollouts.dev", "web")["status"]["stableRS"]

    assert plugin("set", "image", "web", "*=example.com/web:v2").returncode == 0
    eventually(
        lambda: plugin("status", "web", "--no-watch").returncode == 5,  # Paused, at the pause step
        timeout=60,
        what="the canary to pause at step 1",
    )
    assert "Paused" in plugin("list", "rollouts").stdout
    assert plugin("promote", "web").returncode == 0
    done = plugin("status", "web", "--timeout", "90s", timeout=120)
    assert done.returncode == 0 and done.stdout.endswith("✔ Healthy\n"), done.stdout + done.stderr

    ours = _get(fresh_kubectl, "rollout.rollouts.dev", "web")
    assert ours["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/web:v2"
    assert ours["status"]["stableRS"] != v1 and ours["status"]["stableRS"] == ours["status"]["currentPodHash"]
    argo = _get(fresh_kubectl, "rollout.argoproj.io", "web")
    assert argo["spec"] == ARGO_WEB["spec"] and "status" not in argo  # untouched by plugin and controller
