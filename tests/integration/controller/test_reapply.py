"""GitOps agents re-apply the user's manifests in the middle of a delivery, in all three ways.

Client-side ``kubectl apply`` (Argo CD's default), plain server-side apply (Argo CD with
``ServerSideApply=true``) and forced server-side apply (Flux's kustomize-controller) of the files
in Git, in every phase of a canary behind NGINX and of a blue-green delivery. The Services are in
the GitOps form: no ``spec.selector`` in the manifest, so the controller owns the whole selector.

What must hold, read from a watch on every Service and Ingress (every state the API server sent,
not a poll that can miss one): no apply conflicts; once a Service selects a revision it always
selects exactly one, and the revisions it selects go forward only (stable: v1 then v2, never back,
never none); the user's Ingress never changes; the canary weight only rises until promotion sends
it back to 0; no Service selects a revision without available pods.
"""

from __future__ import annotations

import json
from typing import Any

from e2e.cluster import Cluster
from tests.integration.controller import scenario as sc
from tests.integration.controller.object_watch import ObjectWatch, distinct
from tests.support import Kubectl, eventually, kubectl_json

NGINX = "nginx.ingress.kubernetes.io"
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]
WAYS = (
    ("client-side", ("apply", "-f", "-")),
    ("server-side", ("apply", "--server-side", "--field-manager=gitops-agent", "-f", "-")),
    (
        "forced server-side",
        ("apply", "--server-side", "--force-conflicts", "--field-manager=kustomize-controller", "-f", "-"),
    ),
)


def _service(name: str) -> dict[str, Any]:
    """A Service in the GitOps form: ports only, the selector is the controller's."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}]},
    }


def _ingress() -> dict[str, Any]:
    backend = {"service": {"name": "web-stable", "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "web.example.com", "http": {"paths": [path]}}],
        },
    }


def _canary_git(image: str) -> list[dict[str, Any]]:
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": {"nginx": {"stableIngress": "web"}},
            "steps": STEPS,
        }
    }
    rollout = sc.rollout("web", strategy=strategy, replicas=2, image=image)
    return [_service("web-stable"), _service("web-canary"), _ingress(), rollout]


def _bluegreen_git(image: str) -> list[dict[str, Any]]:
    strategy = {
        "blueGreen": {
            "activeService": "web-active",
            "previewService": "web-preview",
            "autoPromotionEnabled": False,
            "scaleDownDelaySeconds": 2,
        }
    }
    rollout = sc.rollout("web", strategy=strategy, replicas=2, image=image)
    return [_service("web-active"), _service("web-preview"), rollout]


def _reapply(kubectl: Kubectl, objects: list[dict[str, Any]], phase: str) -> None:
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    for way, argv in WAYS:
        result = kubectl(*argv, stdin=manifest, check=False)
        assert result.returncode == 0, f"{way} re-apply while {phase}: {result.stderr.strip()}"


def _selectors(watch: ObjectWatch, name: str) -> list[dict[str, str]]:
    """The Service's selectors in order, from the first one the controller wrote."""
    seen = distinct([(state.get("spec") or {}).get("selector") or {} for state in watch.states(name)])
    first = next((i for i, selector in enumerate(seen) if sc.HASH in selector), len(seen))
    assert all(not selector for selector in seen[:first]), f"{name}: a selector before ours: {seen}"
    return seen[first:]


def _assert_selects_forward(watch: ObjectWatch, name: str, revisions: list[str]) -> None:
    selectors = _selectors(watch, name)
    assert selectors, f"Service {name} never selected a revision"
    assert all(selector == {"app": "web", sc.HASH: selector.get(sc.HASH)} for selector in selectors), (
        f"Service {name} lost its revision label or gained another: {selectors}"
    )
    assert distinct([selector[sc.HASH] for selector in selectors]) == revisions, (
        f"Service {name} selected {selectors}, expected the revisions {revisions} in that order"
    )


def _assert_selector_is_ours_alone(kubectl: Kubectl, name: str) -> None:
    service = kubectl_json(kubectl, "get", "service", name, "--show-managed-fields")
    owners = [
        entry["manager"]
        for entry in service["metadata"]["managedFields"]
        if "f:selector" in entry.get("fieldsV1", {}).get("f:spec", {})
    ]
    assert owners == ["kube-rollouts"], f"Service {name}: spec.selector owned by {owners}"


def _no_shared_selector_warnings(kubectl: Kubectl) -> None:
    reasons = [reason for reason, _ in sc.events(kubectl, "web")]
    assert "ServiceSelectorShared" not in reasons and "InvalidSpec" not in reasons, reasons


def test_a_canary_reapplied_three_ways_in_every_phase(
    controller, cluster: Cluster, namespace: str, kubectl: Kubectl
) -> None:
    services = ObjectWatch(cluster, namespace, "services")
    ingresses = ObjectWatch(cluster, namespace, "ingresses")
    traffic = sc.TrafficWatch(kubectl, "web")
    traffic.start()
    try:
        git = _canary_git("v1")
        sc.apply(kubectl, *git)
        v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
        _reapply(kubectl, git, "Healthy at v1")

        git = _canary_git("v2")  # the commit that starts the delivery
        sc.apply(kubectl, *git)
        at_20 = sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")
        v2 = at_20["currentPodHash"]
        _reapply(kubectl, git, "paused at 20%")
        sc.promote(kubectl, "web")
        sc.wait_status(
            kubectl,
            "web",
            "paused at 60%",
            lambda st: st.get("phase") == "Paused" and st.get("currentStepIndex") == 3,
        )
        _reapply(kubectl, git, "paused at 60%")
        sc.promote(kubectl, "web")
        _reapply(kubectl, git, "promoting")
        sc.wait_healthy(kubectl, "web", v2)
        _reapply(kubectl, git, "Healthy at v2")
        eventually(
            lambda: (
                sc.selector_hash(kubectl, "web-stable") == v2
                and (ingresses.states("web-web-canary") or [{}])[-1]
                .get("metadata", {})
                .get("annotations", {})
                .get(f"{NGINX}/canary-weight")
                == "0"
            ),
            what="the watch to see the end of the delivery",
        )
    finally:
        traffic.stop.set()
        traffic.join(timeout=10)
        services.stop()
        ingresses.stop()

    _assert_selects_forward(services, "web-stable", [v1, v2])
    _assert_selects_forward(services, "web-canary", [v1, v2])
    assert len(distinct([state["spec"] for state in ingresses.states("web")])) == 1, (
        "the user's Ingress changed"
    )
    weights = distinct(
        [
            (state["metadata"].get("annotations") or {}).get(f"{NGINX}/canary-weight")
            for state in ingresses.states("web-web-canary")
        ]
    )
    assert weights[-1] == "0" and [int(w) for w in weights[:-1]] == sorted(int(w) for w in weights[:-1]), (
        weights
    )
    assert {"20", "60"} <= set(weights), weights
    assert traffic.violations == [] and traffic.samples > 0
    for name in ("web-stable", "web-canary"):
        _assert_selector_is_ours_alone(kubectl, name)
    _no_shared_selector_warnings(kubectl)


def test_a_blue_green_delivery_reapplied_three_ways_in_every_phase(
    controller, cluster: Cluster, namespace: str, kubectl: Kubectl
) -> None:
    services = ObjectWatch(cluster, namespace, "services")
    traffic = sc.TrafficWatch(kubectl, "web")
    traffic.start()
    try:
        git = _bluegreen_git("v1")
        sc.apply(kubectl, *git)
        v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
        _reapply(kubectl, git, "Healthy at v1")

        git = _bluegreen_git("v2")
        sc.apply(kubectl, *git)
        paused = sc.wait_status(kubectl, "web", "paused on preview", lambda st: st.get("phase") == "Paused")
        v2 = paused["currentPodHash"]
        eventually(lambda: sc.selector_hash(kubectl, "web-preview") == v2, what="preview Service on v2")
        _reapply(kubectl, git, "paused with the preview up")
        sc.promote(kubectl, "web")
        _reapply(kubectl, git, "promoting")
        sc.wait_healthy(kubectl, "web", v2)
        _reapply(kubectl, git, "Healthy at v2, old revision kept for the scale-down delay")
        eventually(lambda: sc.sizes(kubectl, "web") == {v1: 0, v2: 2}, what="v1 scaled down after the delay")
        _reapply(kubectl, git, "Healthy at v2")
        eventually(
            lambda: (
                [s["spec"].get("selector", {}).get(sc.HASH) for s in services.states("web-active")][-1:]
                == [v2]
            ),
            what="the watch to see the active Service on v2",
        )
    finally:
        traffic.stop.set()
        traffic.join(timeout=10)
        services.stop()

    _assert_selects_forward(services, "web-active", [v1, v2])
    _assert_selects_forward(services, "web-preview", [v1, v2])
    assert traffic.violations == [] and traffic.samples > 0
    for name in ("web-active", "web-preview"):
        _assert_selector_is_ours_alone(kubectl, name)
    _no_shared_selector_warnings(kubectl)


def test_a_selector_in_the_manifest_is_shared_and_the_controller_says_so(
    controller, kubectl: Kubectl
) -> None:
    # The Argo Rollouts form: the Service manifest declares {app: web}. It works, but the selector
    # is one atomic field: a plain server-side re-apply conflicts, a forced one drops the revision
    # label until the controller writes it again, and the controller warns, naming the applier.
    git = _canary_git("v1")
    git[0] = sc.service("web-stable", "web")
    sc.apply(kubectl, *git)
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    eventually(lambda: sc.selector_hash(kubectl, "web-stable") == v1, what="stable Service on v1")
    manifest = json.dumps(git[0])
    plain = kubectl(
        "apply", "--server-side", "--field-manager=gitops-agent", "-f", "-", stdin=manifest, check=False
    )
    assert plain.returncode != 0 and "conflict" in plain.stderr and ".spec.selector" in plain.stderr
    kubectl(*WAYS[2][1], stdin=manifest)
    eventually(lambda: sc.selector_hash(kubectl, "web-stable") == v1, what="the revision label written again")
    warnings = [message for reason, message in sc.events(kubectl, "web") if reason == "ServiceSelectorShared"]
    assert warnings and "kustomize-controller" in warnings[0] and "remove spec.selector" in warnings[0]
