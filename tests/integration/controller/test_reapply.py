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
    return [sc.gitops_service("web-stable"), sc.gitops_service("web-canary"), _ingress(), rollout]


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
    return [sc.gitops_service("web-active"), sc.gitops_service("web-preview"), rollout]


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
    assert "SharedField" not in reasons and "InvalidSpec" not in reasons, reasons


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
    warnings = [message for reason, message in sc.events(kubectl, "web") if reason == "SharedField"]
    assert warnings and warnings[0].startswith(
        "Service web-stable: spec.selector is also applied by kustomize-controller"
    )
    assert "leave spec.selector out of the Service's manifest" in warnings[0]


ISTIO = "networking.istio.io/v1"


def _istio_git(image: str) -> list[dict[str, Any]]:
    """Subset-level Istio: the DestinationRule in the GitOps form (no subsets: the controller's), the
    VirtualService with the user's routes and the canary at weight 0."""
    route = [
        {"destination": {"host": "web", "subset": "stable"}, "weight": 100},
        {"destination": {"host": "web", "subset": "canary"}, "weight": 0},
    ]
    vs = {
        "apiVersion": ISTIO,
        "kind": "VirtualService",
        "metadata": {"name": "web-vs"},
        "spec": {"hosts": ["web"], "http": [{"name": "primary", "route": route}]},
    }
    rule = {
        "apiVersion": ISTIO,
        "kind": "DestinationRule",
        "metadata": {"name": "web-dr"},
        "spec": {"host": "web"},
    }
    istio = {
        "virtualService": {"name": "web-vs", "routes": ["primary"]},
        "destinationRule": {"name": "web-dr", "canarySubsetName": "canary", "stableSubsetName": "stable"},
    }
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": {"istio": istio},
            "steps": STEPS,
        }
    }
    rollout = sc.rollout("web", strategy=strategy, replicas=2, image=image)
    return [sc.gitops_service("web-stable"), sc.gitops_service("web-canary"), vs, rule, rollout]


def _reapply_istio(kubectl: Kubectl, objects: list[dict[str, Any]], phase: str) -> int:
    """The three ways, except that a plain server-side apply of the VirtualService may conflict on
    spec.http (its weights are the one field the controller must share); returns how many did."""
    vs = [obj for obj in objects if obj["kind"] == "VirtualService"]
    rest = [obj for obj in objects if obj["kind"] != "VirtualService"]
    _reapply(kubectl, rest, phase)
    conflicts = 0
    for way, argv in WAYS:
        result = kubectl(*argv, stdin=json.dumps(vs[0]), check=False)
        if way == "server-side" and result.returncode != 0:
            assert "conflict" in result.stderr and ".spec.http" in result.stderr, result.stderr
            conflicts += 1
            continue
        assert result.returncode == 0, f"{way} re-apply of the VirtualService while {phase}: {result.stderr}"
    return conflicts


def _subset_hashes(watch: ObjectWatch, subset: str) -> list[str | None]:
    seen = []
    for state in watch.states("web-dr"):
        for entry in (state.get("spec") or {}).get("subsets") or []:
            if entry.get("name") == subset:
                assert set(entry.get("labels") or {}) == {"app", sc.HASH}, f"subset {subset}: {entry}"
                seen.append(entry["labels"][sc.HASH])
    return distinct(seen)


def _canary_weights(watch: ObjectWatch) -> list[int]:
    weights = []
    for state in watch.states("web-vs"):
        route = state["spec"]["http"][0]["route"]
        weights.append(next(d.get("weight", 0) for d in route if d["destination"].get("subset") == "canary"))
    return distinct(weights)


def test_an_istio_canary_reapplied_three_ways_in_every_phase(
    controller, cluster: Cluster, namespace: str, kubectl: Kubectl
) -> None:
    services = ObjectWatch(cluster, namespace, "services")
    rules = ObjectWatch(cluster, namespace, "destinationrules.networking.istio.io")
    virtual_services = ObjectWatch(cluster, namespace, "virtualservices.networking.istio.io")
    conflicts = 0
    try:
        git = _istio_git("v1")
        sc.apply(kubectl, *git)
        v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
        conflicts += _reapply_istio(kubectl, git, "Healthy at v1")
        git = _istio_git("v2")
        sc.apply(kubectl, *git)
        v2 = sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")[
            "currentPodHash"
        ]
        conflicts += _reapply_istio(kubectl, git, "paused at 20%")
        eventually(lambda: _canary_weights(virtual_services)[-1:] == [20], what="the weight written again")
        sc.promote(kubectl, "web")
        sc.wait_status(
            kubectl,
            "web",
            "paused at 60%",
            lambda st: st.get("phase") == "Paused" and st.get("currentStepIndex") == 3,
        )
        conflicts += _reapply_istio(kubectl, git, "paused at 60%")
        eventually(lambda: _canary_weights(virtual_services)[-1:] == [60], what="the weight written again")
        sc.promote(kubectl, "web")
        conflicts += _reapply_istio(kubectl, git, "promoting")
        sc.wait_healthy(kubectl, "web", v2)
        conflicts += _reapply_istio(kubectl, git, "Healthy at v2")
        eventually(lambda: _subset_hashes(rules, "stable")[-1:] == [v2], what="the watch to see stable on v2")
    finally:
        for watch in (services, rules, virtual_services):
            watch.stop()

    _assert_selects_forward(services, "web-stable", [v1, v2])
    _assert_selects_forward(services, "web-canary", [v1, v2])
    # The subsets are the controller's alone: always labelled, and they only move forward.
    assert _subset_hashes(rules, "stable") == [v1, v2]
    assert _subset_hashes(rules, "canary") == [v1, v2]
    for name in ("web-stable", "web-canary"):
        _assert_selector_is_ours_alone(kubectl, name)
    # The weights are shared: an overwrite from Git (canary 0) only ever sends traffic to stable,
    # the controller writes the step's weight again, and it warns about the server-side applier.
    weights = _canary_weights(virtual_services)
    assert set(weights) <= {0, 20, 60} and {20, 60} <= set(weights) and weights[-1] == 0, weights
    assert conflicts >= 1, "a plain server-side re-apply of a VirtualService the controller wrote conflicts"
    warnings = [m for reason, m in sc.events(kubectl, "web") if reason == "SharedField"]
    assert warnings and all(
        m.startswith("VirtualService web-vs: spec.http is also applied by") for m in warnings
    )


def test_subsets_in_the_manifest_overwritten_from_git_are_labelled_again_at_once(
    controller, kubectl: Kubectl
) -> None:
    # The Argo Rollouts form: the DestinationRule declares its subsets. A forced re-apply takes the
    # revision labels away (both subsets then select every revision); the controller sees subsets
    # that select no revision, labels them again and warns, naming the applier and the fix.
    git = _istio_git("v1")
    git[3]["spec"]["subsets"] = [
        {"name": "stable", "labels": {"app": "web"}},
        {"name": "canary", "labels": {"app": "web"}},
    ]
    sc.apply(kubectl, *git)
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    sc.apply(kubectl, *_istio_git("v2")[:-1], git[3], _istio_git("v2")[-1])
    v2 = sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")[
        "currentPodHash"
    ]

    def subsets() -> dict[str, dict[str, str]]:
        rule = kubectl_json(kubectl, "get", "destinationrule", "web-dr")
        return {s["name"]: s.get("labels") or {} for s in rule["spec"]["subsets"]}

    assert subsets() == {"stable": {"app": "web", sc.HASH: v1}, "canary": {"app": "web", sc.HASH: v2}}
    kubectl(*WAYS[2][1], stdin=json.dumps(git[3]))
    eventually(
        lambda: subsets() == {"stable": {"app": "web", sc.HASH: v1}, "canary": {"app": "web", sc.HASH: v2}},
        what="the subsets labelled again",
    )
    warnings = [m for reason, m in sc.events(kubectl, "web") if reason == "SharedField"]
    assert any(
        m.startswith("DestinationRule web-dr: spec.subsets is also applied by kustomize-controller")
        and "leave spec.subsets out" in m
        for m in warnings
    ), warnings
