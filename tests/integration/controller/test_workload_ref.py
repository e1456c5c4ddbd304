"""``spec.workloadRef``: a Rollout runs the pod template of a running Deployment, on the real
control plane (the real Deployment controller keeps the Deployment's own pods)."""

from __future__ import annotations

import json
from typing import Any

from e2e.cluster import Cluster
from tests.integration.controller import scenario as sc
from tests.integration.controller.pods import PodWatch
from tests.support import Kubectl, eventually, kubectl_json

STEPS = [{"setWeight": 50}, {"pause": {}}]


def _deployment(
    name: str, *, replicas: int, image: str = "v1", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    pod_labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [{"name": "app", "image": f"example.com/{name}:{image}"}]},
            },
        },
    }


def _referencing(name: str, *, replicas: int, **workload: Any) -> dict[str, Any]:
    ro = sc.rollout(name, strategy={"canary": {"steps": STEPS}}, replicas=replicas)
    del ro["spec"]["template"]
    ro["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, **workload}
    return ro


def _ready_pods(kubectl: Kubectl, app: str) -> int:
    pods = kubectl_json(kubectl, "get", "pods", "-l", f"app={app}")["items"]
    return sum(
        1
        for pod in pods
        if not pod["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])
    )


def _images(kubectl: Kubectl, rollout: str) -> set[str]:
    sets = kubectl_json(kubectl, "get", "replicasets", "-l", "rollouts-pod-template-hash")["items"]
    return {
        c["image"]
        for rs in sets
        if any(
            o.get("kind") == "Rollout" and o.get("name") == rollout
            for o in rs["metadata"].get("ownerReferences") or []
        )
        and rs["spec"].get("replicas")
        for c in rs["spec"]["template"]["spec"]["containers"]
    }


def test_a_rollout_runs_the_deployments_template_and_an_edit_of_it_starts_a_canary(
    controller: Any, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, _deployment("shop", replicas=3))
    eventually(lambda: _ready_pods(kubectl, "shop") == 3, timeout=60, what="3 Ready pods of the Deployment")
    sc.apply(kubectl, _referencing("shop", replicas=3))
    stable = sc.wait_healthy(kubectl, "shop", timeout=60)["stableRS"]
    assert sc.sizes(kubectl, "shop") == {stable: 3}
    assert _images(kubectl, "shop") == {"example.com/shop:v1"}
    eventually(lambda: _ready_pods(kubectl, "shop") == 6, timeout=60, what="3 Deployment + 3 Rollout pods")
    deployment = kubectl_json(kubectl, "get", "deployment", "shop")
    assert deployment["spec"]["replicas"] == 3  # scaleDown: never: the Deployment is not touched

    kubectl("set", "image", "deployment/shop", "app=example.com/shop:v2")
    paused = sc.wait_status(
        kubectl, "shop", "paused at 50%", lambda st: st.get("phase") == "Paused", timeout=60
    )
    assert paused["currentPodHash"] != stable
    assert _images(kubectl, "shop") == {"example.com/shop:v1", "example.com/shop:v2"}
    sc.promote(kubectl, "shop")
    sc.wait_healthy(kubectl, "shop", paused["currentPodHash"], timeout=60)
    assert _images(kubectl, "shop") == {"example.com/shop:v2"}


def test_a_missing_deployment_or_a_template_the_selector_does_not_match_is_named(
    controller: Any, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, _referencing("cart", replicas=2))
    missing = sc.wait_status(kubectl, "cart", "Degraded", lambda st: st.get("phase") == "Degraded")
    assert "Deployment 'cart' named in spec.workloadRef.name does not exist" in missing["message"]
    sc.apply(kubectl, _deployment("cart", replicas=0, labels={"app": "basket"}))
    wrong = sc.wait_status(
        kubectl,
        "cart",
        "Degraded naming the template",
        lambda st: "pod template of Deployment" in (st.get("message") or ""),
    )
    assert "does not match template.metadata.labels" in wrong["message"]
    assert sc.replica_sets(kubectl, "cart") == {}


def test_migrating_a_running_deployment_progressively_never_drops_a_ready_pod_and_deleting_gives_them_back(
    controller: Any, cluster: Cluster, namespace: str, kubectl: Kubectl
) -> None:
    deployment = _deployment("web", replicas=4)
    sc.apply(kubectl, deployment)
    eventually(lambda: _ready_pods(kubectl, "web") == 4, timeout=60, what="4 Ready pods of the Deployment")
    pods = PodWatch(cluster, namespace, selector="app=web")
    pods.start()
    try:
        sc.apply(kubectl, _referencing("web", replicas=4, scaleDown="progressively"))
        stable = sc.wait_healthy(kubectl, "web", timeout=60)["stableRS"]
        eventually(
            lambda: kubectl_json(kubectl, "get", "deployment", "web")["spec"]["replicas"] == 0,
            timeout=30,
            what="the Deployment scaled to 0",
        )
        eventually(
            lambda: _ready_pods(kubectl, "web") == 4, timeout=30, what="4 Ready pods, all the Rollout's"
        )
        assert sc.sizes(kubectl, "web") == {stable: 4}
        ro = sc.get_rollout(kubectl, "web")
        assert "rollouts.dev/workload" in ro["metadata"]["finalizers"]
        annotations = kubectl_json(kubectl, "get", "deployment", "web")["metadata"]["annotations"]
        assert annotations["rollouts.dev/workload-replicas"] == "4"
        assert pods.fewest_serving >= 4, pods.fewest_serving

        # A GitOps agent re-applies the Deployment as Git has it (replicas: 4), client-side then
        # server-side forced: the controller scales it back down each time.
        for apply in (["apply"], ["apply", "--server-side", "--force-conflicts"]):
            kubectl(*apply, "-f", "-", stdin=json.dumps(deployment))
            eventually(
                lambda: kubectl_json(kubectl, "get", "deployment", "web")["spec"]["replicas"] == 0,
                timeout=30,
                what=f"the Deployment back at 0 after `kubectl {' '.join(apply)}`",
            )
        eventually(lambda: _ready_pods(kubectl, "web") == 4, timeout=30, what="4 Ready pods again")
        assert pods.fewest_serving >= 4, pods.fewest_serving

        # Deleting the Rollout: the Deployment comes back up before the Rollout's pods go.
        kubectl("delete", "rollout.rollouts.dev", "web", "--wait=false")
        eventually(
            lambda: kubectl("get", "rollout.rollouts.dev", "web", check=False).returncode != 0,
            timeout=60,
            what="the Rollout gone once the Deployment has its pods",
        )
        eventually(
            lambda: kubectl_json(kubectl, "get", "deployment", "web")["status"].get("availableReplicas") == 4,
            timeout=30,
            what="the Deployment with 4 available pods",
        )
        eventually(
            lambda: _ready_pods(kubectl, "web") == 4, timeout=60, what="4 Ready pods, the Deployment's"
        )
    finally:
        pods.stop.set()
        pods.join(timeout=10)
    assert pods.fewest_serving >= 4, pods.fewest_serving
    annotations = kubectl_json(kubectl, "get", "deployment", "web")["metadata"].get("annotations") or {}
    assert "rollouts.dev/workload-replicas" not in annotations
