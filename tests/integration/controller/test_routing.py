"""Canary with traffic routing on the real controller: NGINX Ingress canary and Istio weights."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.controller import scenario as sc
from tests.support import Kubectl, eventually, kubectl_json

NGINX = "nginx.ingress.kubernetes.io"
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": "1s"}}]


def _ingress(name: str, service: str, host: str = "web.example.com") -> dict[str, Any]:
    backend = {"service": {"name": service, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }


def _canary_annotations(kubectl: Kubectl) -> dict[str, str]:
    ing = kubectl("get", "ingress", "web-web-canary", "-o", "json", check=False)
    return json.loads(ing.stdout)["metadata"].get("annotations") or {} if ing.returncode == 0 else {}


def _nginx_rollout() -> dict[str, Any]:
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": {"nginx": {"stableIngress": "web"}},
            "steps": STEPS,
        }
    }
    return sc.rollout("web", strategy=strategy, replicas=2)


def test_nginx_canary_from_first_step_to_promotion(controller, kubectl: Kubectl) -> None:
    sc.apply(
        kubectl,
        sc.service("web-stable", "web"),
        sc.service("web-canary", "web"),
        _ingress("web", "web-stable"),
    )
    sc.apply(kubectl, _nginx_rollout())
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    sc.set_image(kubectl, "web", "v2")
    paused = sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")
    v2 = paused["currentPodHash"]
    notes = _canary_annotations(kubectl)
    assert notes[f"{NGINX}/canary"] == "true" and notes[f"{NGINX}/canary-weight"] == "20"
    assert paused["canary"]["weights"]["canary"]["weight"] == 20
    canary_ing = kubectl_json(kubectl, "get", "ingress", "web-web-canary")
    paths = canary_ing["spec"]["rules"][0]["http"]["paths"]
    assert paths[0]["backend"]["service"]["name"] == "web-canary"
    assert [ref["name"] for ref in canary_ing["metadata"]["ownerReferences"]] == ["web"]
    # Traffic only reaches available canary pods: the canary RS is fully available at this weight.
    rs = sc.replica_sets(kubectl, "web")
    assert rs[v2]["replicas"] >= 1 and rs[v2]["available"] == rs[v2]["replicas"]
    assert sc.selector_hash(kubectl, "web-canary") == v2 and sc.selector_hash(kubectl, "web-stable") == v1

    sc.promote(kubectl, "web")
    sc.wait_healthy(kubectl, "web", v2)
    eventually(
        lambda: _canary_annotations(kubectl).get(f"{NGINX}/canary-weight") == "0",
        what="canary weight back to 0",
    )
    assert sc.selector_hash(kubectl, "web-stable") == v2
    weights = sc.weights_told(kubectl, "web")
    assert any("20%" in m for m in weights) and any("60%" in m for m in weights)


def _healthy_nginx_rollout(kubectl: Kubectl, *, replicas: int, **canary: Any) -> str:
    """The Services, the Ingress and an NGINX-routed Rollout ``web`` with these canary fields,
    applied; the stable hash once it is Healthy."""
    sc.apply(
        kubectl,
        sc.service("web-stable", "web"),
        sc.service("web-canary", "web"),
        _ingress("web", "web-stable"),
    )
    ro = _nginx_rollout()
    ro["spec"]["replicas"] = replicas
    ro["spec"]["strategy"]["canary"].update(canary)
    sc.apply(kubectl, ro)
    stable: str = sc.wait_healthy(kubectl, "web")["stableRS"]
    return stable


def _stable_short_of_pods(kubectl: Kubectl, stable_hash: str, replicas: int) -> str | None:
    """What is wrong when the stable has fewer available pods than its share of traffic needs
    (the weight read first: during an abort it only falls, and the stable only grows)."""
    weight = int(_canary_annotations(kubectl).get(f"{NGINX}/canary-weight", "0"))
    available = sc.replica_sets(kubectl, "web").get(stable_hash, {}).get("available", 0)
    needed = -(-replicas * (100 - weight) // 100)
    return None if available >= needed else f"canary weight {weight}% but {available} stable pods available"


def test_nginx_dynamic_stable_scale_shrinks_the_stable_and_grows_it_back_before_an_abort_moves_traffic(
    controller, kubectl: Kubectl
) -> None:
    v1 = _healthy_nginx_rollout(
        kubectl, replicas=4, dynamicStableScale=True, steps=[{"setWeight": 50}, {"pause": {}}]
    )
    sc.set_image(kubectl, "web", "v2")
    v2 = sc.wait_status(kubectl, "web", "paused at 50%", lambda st: st.get("phase") == "Paused")[
        "currentPodHash"
    ]
    assert _canary_annotations(kubectl)[f"{NGINX}/canary-weight"] == "50"
    assert sc.sizes(kubectl, "web") == {v1: 2, v2: 2}  # 4 pods in all, not 6

    sc.abort(kubectl, "web")
    problems: list[str] = []

    def back_on_stable() -> bool:
        problem = _stable_short_of_pods(kubectl, v1, 4)
        if problem:
            problems.append(problem)
        return (
            sc.sizes(kubectl, "web") == {v1: 4, v2: 0}
            and _canary_annotations(kubectl).get(f"{NGINX}/canary-weight") == "0"
        )

    eventually(back_on_stable, what="all traffic and pods back on the stable")
    assert problems == []
    assert sc.status(kubectl, "web")["phase"] == "Degraded"


def test_nginx_replica_progress_threshold_takes_the_step_while_a_canary_pod_cannot_start(
    controller, kubectl: Kubectl
) -> None:
    _healthy_nginx_rollout(
        kubectl,
        replicas=8,
        steps=[{"setWeight": 50}, {"pause": {}}],
        replicaProgressThreshold={"type": "Pod", "value": 3},
    )
    # v2 takes a host port: one pod per node, and the cluster has 3 nodes, so 3 of its 4 canary pods run.
    rollout = sc.get_rollout(kubectl, "web")
    container = rollout["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "example.com/web:v2"
    container["ports"] = [{"containerPort": 8080, "hostPort": 31999}]
    kubectl("replace", "-f", "-", stdin=json.dumps(rollout))
    paused = sc.wait_status(
        kubectl, "web", "paused after the 50% step", lambda st: st.get("currentStepIndex") == 1, timeout=60
    )
    canary = sc.replica_sets(kubectl, "web")[paused["currentPodHash"]]
    assert (canary["replicas"], canary["available"]) == (4, 3)
    assert _canary_annotations(kubectl)[f"{NGINX}/canary-weight"] == "50"


def _nodes_of(kubectl: Kubectl, pod_hash: str) -> set[str]:
    pods = kubectl_json(kubectl, "get", "pods", "-l", f"rollouts-pod-template-hash={pod_hash}")["items"]
    return {pod["spec"].get("nodeName") for pod in pods}


def test_required_anti_affinity_keeps_canary_pods_off_stable_nodes_until_it_is_stable(
    controller, kubectl: Kubectl
) -> None:
    required = {"requiredDuringSchedulingIgnoredDuringExecution": {}}
    v1 = _healthy_nginx_rollout(
        kubectl, replicas=2, steps=[{"setWeight": 50}, {"pause": {}}], antiAffinity=required
    )
    sc.set_image(kubectl, "web", "v2")
    v2 = sc.wait_status(kubectl, "web", "paused at 50%", lambda st: st.get("phase") == "Paused")[
        "currentPodHash"
    ]
    stable_nodes, canary_nodes = _nodes_of(kubectl, v1), _nodes_of(kubectl, v2)
    assert canary_nodes and not canary_nodes & stable_nodes, (stable_nodes, canary_nodes)
    rs = kubectl_json(kubectl, "get", "replicaset", f"web-{v2}")
    assert rs["metadata"]["annotations"]["rollouts.dev/anti-affinity-to"] == v1
    sc.promote(kubectl, "web")
    sc.wait_healthy(kubectl, "web", v2)

    def rule_gone() -> bool:
        rs = kubectl_json(kubectl, "get", "replicaset", f"web-{v2}")
        template = rs["spec"]["template"]["spec"]
        return "rollouts.dev/anti-affinity-to" not in rs["metadata"].get(
            "annotations", {}
        ) and not template.get("affinity")

    eventually(rule_gone, what="the stable ReplicaSet without its anti-affinity term")


def _roles(kubectl: Kubectl, pod_hash: str) -> dict[str, str | None]:
    """Pod uid -> its ``role`` label, for the pods of one revision."""
    pods = kubectl_json(kubectl, "get", "pods", "-l", f"rollouts-pod-template-hash={pod_hash}")["items"]
    return {p["metadata"]["uid"]: (p["metadata"].get("labels") or {}).get("role") for p in pods}


def test_canary_and_stable_metadata_label_the_pods_and_move_in_place_on_promotion(
    controller, kubectl: Kubectl
) -> None:
    v1 = _healthy_nginx_rollout(
        kubectl,
        replicas=2,
        steps=[{"setWeight": 50}, {"pause": {}}],
        canaryMetadata={"labels": {"role": "canary"}},
        stableMetadata={"labels": {"role": "stable"}},
    )
    eventually(lambda: set(_roles(kubectl, v1).values()) == {"stable"}, what="stable pods labelled stable")
    sc.set_image(kubectl, "web", "v2")
    v2 = sc.wait_status(kubectl, "web", "paused at 50%", lambda st: st.get("phase") == "Paused")[
        "currentPodHash"
    ]
    canary_pods = _roles(kubectl, v2)
    assert canary_pods and set(canary_pods.values()) == {"canary"}
    sc.promote(kubectl, "web")
    sc.wait_healthy(kubectl, "web", v2)
    # The same pods (same uids), relabelled, not restarted; the ReplicaSet's template follows.
    eventually(
        lambda: (
            {uid: role for uid, role in _roles(kubectl, v2).items() if uid in canary_pods}
            == dict.fromkeys(canary_pods, "stable")
        ),
        what="the promoted pods relabelled stable in place",
    )
    template = kubectl_json(kubectl, "get", "replicaset", f"web-{v2}")["spec"]["template"]["metadata"]
    assert template["labels"]["role"] == "stable"


def test_an_ingress_owned_by_someone_else_is_never_taken_over(controller, kubectl: Kubectl) -> None:
    foreign = _ingress("web-web-canary", "someone-else")
    sc.apply(
        kubectl,
        sc.service("web-stable", "web"),
        sc.service("web-canary", "web"),
        _ingress("web", "web-stable"),
        foreign,
    )
    before = kubectl_json(kubectl, "get", "ingress", "web-web-canary")
    sc.apply(kubectl, _nginx_rollout())
    st = sc.wait_status(
        kubectl, "web", "Degraded: canary Ingress not ours", lambda s: s.get("phase") == "Degraded"
    )
    message = sc.condition(st, "InvalidSpec")["message"]
    assert "web-web-canary" in message
    assert any(
        r == "TrafficRouterObjectNotOwned" and "web-web-canary" in m for r, m in sc.events(kubectl, "web")
    )
    after = kubectl_json(kubectl, "get", "ingress", "web-web-canary")
    assert after["spec"] == before["spec"] and after["metadata"].get("annotations") == before["metadata"].get(
        "annotations"
    )
    assert not after["metadata"].get("ownerReferences")


def _dest(host: str, weight: int, subset: str | None = None) -> dict[str, Any]:
    destination: dict[str, Any] = {"host": host}
    if subset:
        destination["subset"] = subset
    return {"destination": destination, "weight": weight}


ADMIN_ROUTE = {"name": "admin", "match": [{"uri": {"prefix": "/admin"}}], "route": [_dest("web-stable", 100)]}


def _vs(primary: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "web-vs"},
        "spec": {"hosts": ["web"], "http": [ADMIN_ROUTE, {"name": "primary", "route": primary}]},
    }


def _weights(kubectl: Kubectl) -> list[tuple[str, str | None, int]]:
    vs = kubectl_json(kubectl, "get", "virtualservice", "web-vs")
    return [
        (d["destination"]["host"], d["destination"].get("subset"), d.get("weight", 0))
        for d in vs["spec"]["http"][1]["route"]
    ]


def _istio_rollout(istio: dict[str, Any]) -> dict[str, Any]:
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": {"istio": istio},
            "steps": STEPS,
        }
    }
    return sc.rollout("web", strategy=strategy, replicas=2)


def test_istio_host_level_weights_and_unmanaged_routes_untouched(controller, kubectl: Kubectl) -> None:
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    sc.apply(kubectl, _vs([_dest("web-stable", 100), _dest("web-canary", 0)]))
    sc.apply(kubectl, _istio_rollout({"virtualService": {"name": "web-vs", "routes": ["primary"]}}))
    sc.wait_healthy(kubectl, "web")
    sc.set_image(kubectl, "web", "v2")
    paused = sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")
    assert _weights(kubectl) == [("web-stable", None, 80), ("web-canary", None, 20)]
    vs = kubectl_json(kubectl, "get", "virtualservice", "web-vs")
    assert vs["spec"]["http"][0] == ADMIN_ROUTE
    sc.promote(kubectl, "web")
    sc.wait_healthy(kubectl, "web", paused["currentPodHash"])
    eventually(
        lambda: _weights(kubectl) == [("web-stable", None, 100), ("web-canary", None, 0)],
        what="all traffic on stable",
    )
    assert kubectl_json(kubectl, "get", "virtualservice", "web-vs")["spec"]["http"][0] == ADMIN_ROUTE


def test_istio_tls_and_tcp_routes_selected_by_their_match_carry_the_weight(
    controller, kubectl: Kubectl
) -> None:
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    vs = _vs([_dest("web-stable", 100), _dest("web-canary", 0)])
    vs["spec"]["tls"] = [
        {
            "match": [{"port": 443, "sniHosts": ["web"]}],
            "route": [_dest("web-stable", 100), _dest("web-canary", 0)],
        }
    ]
    vs["spec"]["tcp"] = [
        {"match": [{"port": 5432}], "route": [_dest("web-canary", 0), _dest("web-stable", 100)]}
    ]
    sc.apply(kubectl, vs)
    selectors = {"tlsRoutes": [{"port": 443, "sniHosts": ["web"]}], "tcpRoutes": [{"port": 5432}]}
    sc.apply(kubectl, _istio_rollout({"virtualService": {"name": "web-vs", **selectors}}))
    sc.wait_healthy(kubectl, "web")
    sc.set_image(kubectl, "web", "v2")
    paused = sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")

    def l4_weights() -> tuple[list[int], list[int]]:
        spec = kubectl_json(kubectl, "get", "virtualservice", "web-vs")["spec"]
        return [d["weight"] for d in spec["tls"][0]["route"]], [d["weight"] for d in spec["tcp"][0]["route"]]

    assert l4_weights() == ([80, 20], [20, 80])
    assert _weights(kubectl) == [("web-stable", None, 100), ("web-canary", None, 0)]  # http not selected
    sc.promote(kubectl, "web")
    sc.wait_healthy(kubectl, "web", paused["currentPodHash"])
    eventually(lambda: l4_weights() == ([100, 0], [0, 100]), what="all TLS and TCP traffic on stable")


def test_istio_subset_level_weights_label_the_subsets_with_revisions(controller, kubectl: Kubectl) -> None:
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    rule = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "web-dr"},
        "spec": {
            "host": "web",
            "subsets": [
                {"name": "stable", "labels": {"app": "web"}},
                {"name": "canary", "labels": {"app": "web"}},
            ],
        },
    }
    sc.apply(kubectl, rule, _vs([_dest("web", 100, "stable"), _dest("web", 0, "canary")]))
    istio = {
        "virtualService": {"name": "web-vs", "routes": ["primary"]},
        "destinationRule": {"name": "web-dr", "canarySubsetName": "canary", "stableSubsetName": "stable"},
    }
    sc.apply(kubectl, _istio_rollout(istio))
    v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
    sc.set_image(kubectl, "web", "v2")
    v2 = sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")[
        "currentPodHash"
    ]
    assert _weights(kubectl) == [("web", "stable", 80), ("web", "canary", 20)]
    subsets = {
        s["name"]: s["labels"]
        for s in kubectl_json(kubectl, "get", "destinationrule", "web-dr")["spec"]["subsets"]
    }
    assert subsets["stable"] == {"app": "web", sc.HASH: v1} and subsets["canary"] == {
        "app": "web",
        sc.HASH: v2,
    }
    assert kubectl_json(kubectl, "get", "virtualservice", "web-vs")["spec"]["http"][0] == ADMIN_ROUTE


def test_removing_traffic_routing_mid_canary_sends_all_traffic_back_to_stable(
    controller, kubectl: Kubectl
) -> None:
    """The router's cleanup, when the Rollout stops routing through it: the canary Ingress drops to
    weight 0 before the canary is sized by pod ratio, and an Event says why."""
    sc.apply(
        kubectl,
        sc.service("web-stable", "web"),
        sc.service("web-canary", "web"),
        _ingress("web", "web-stable"),
    )
    sc.apply(kubectl, _nginx_rollout())
    sc.wait_healthy(kubectl, "web")
    sc.set_image(kubectl, "web", "v2")
    sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")
    assert _canary_annotations(kubectl)[f"{NGINX}/canary-weight"] == "20"

    kubectl("patch", "rollout.rollouts.dev", "web", "--type=json",
            "-p", '[{"op": "remove", "path": "/spec/strategy/canary/trafficRouting"}]')  # fmt: skip
    eventually(
        lambda: _canary_annotations(kubectl).get(f"{NGINX}/canary-weight") == "0",
        what="canary Ingress back to weight 0 after trafficRouting was removed",
    )
    status = sc.wait_status(
        kubectl, "web", "routing forgotten", lambda st: "trafficRouting" not in (st.get("canary") or {})
    )
    assert not (status.get("canary") or {}).get("weights"), status
    assert any(reason == "TrafficRoutingRestored" for reason, _ in sc.events(kubectl, "web"))


def test_deleting_a_rollout_mid_canary_gives_the_virtual_service_back_to_stable(
    controller, kubectl: Kubectl
) -> None:
    """The VirtualService is the user's and outlives the Rollout: left at 80/20 it would keep sending
    a fifth of the traffic to canary pods the garbage collector is removing."""
    sc.apply(kubectl, sc.service("web-stable", "web"), sc.service("web-canary", "web"))
    sc.apply(kubectl, _vs([_dest("web-stable", 100), _dest("web-canary", 0)]))
    sc.apply(kubectl, _istio_rollout({"virtualService": {"name": "web-vs", "routes": ["primary"]}}))
    sc.wait_healthy(kubectl, "web")
    sc.set_image(kubectl, "web", "v2")
    sc.wait_status(kubectl, "web", "paused at 20%", lambda st: st.get("phase") == "Paused")
    assert _weights(kubectl) == [("web-stable", None, 80), ("web-canary", None, 20)]

    kubectl("delete", "rollout.rollouts.dev", "web")
    eventually(
        lambda: _weights(kubectl) == [("web-stable", None, 100), ("web-canary", None, 0)],
        what="all traffic on stable after the Rollout was deleted",
    )
    assert kubectl_json(kubectl, "get", "virtualservice", "web-vs")["spec"]["http"][0] == ADMIN_ROUTE


def test_nginx_max_traffic_weight_sends_half_a_percent_with_canary_weight_total(
    controller, kubectl: Kubectl
) -> None:
    # maxTrafficWeight 1000 (accepted by the API server's own CEL rules): setWeight 5 is 0.5%,
    # written as canary-weight 5 out of canary-weight-total 1000, on one canary pod of 4.
    routing = {"nginx": {"stableIngress": "web"}, "maxTrafficWeight": 1000}
    steps = [{"setWeight": 5}, {"pause": {}}, {"setWeight": 500}, {"pause": {}}]
    v1 = _healthy_nginx_rollout(kubectl, replicas=4, trafficRouting=routing, steps=steps)
    sc.set_image(kubectl, "web", "v2")
    paused = sc.wait_status(kubectl, "web", "paused at 5/1000", lambda st: st.get("phase") == "Paused")
    v2 = paused["currentPodHash"]
    notes = _canary_annotations(kubectl)
    assert (notes[f"{NGINX}/canary-weight"], notes[f"{NGINX}/canary-weight-total"]) == ("5", "1000")
    assert sc.sizes(kubectl, "web") == {v1: 4, v2: 1}
    weights = paused["canary"]["weights"]
    assert (weights["canary"]["weight"], weights["stable"]["weight"], weights["verified"]) == (5, 995, True)
    assert "Canary weight set to 5/1000 = 0.5% (stable 995/1000)" in sc.weights_told(kubectl, "web")

    sc.promote(kubectl, "web")
    sc.wait_status(
        kubectl,
        "web",
        "paused at 500/1000",
        lambda st: st.get("phase") == "Paused" and st.get("currentStepIndex") == 3,
    )
    assert _canary_annotations(kubectl)[f"{NGINX}/canary-weight"] == "500"
    assert sc.sizes(kubectl, "web") == {v1: 4, v2: 2}
    sc.promote(kubectl, "web")
    sc.wait_healthy(kubectl, "web")
    notes = _canary_annotations(kubectl)
    assert (notes[f"{NGINX}/canary-weight"], notes[f"{NGINX}/canary-weight-total"]) == ("0", "1000")
