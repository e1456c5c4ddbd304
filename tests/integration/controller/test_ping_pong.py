"""``canary.pingPong`` with a host-level Istio VirtualService on the real control plane.

Every state of the two Services and of the VirtualService is recorded through watches and put in
one timeline by resourceVersion (one etcd revision counter orders writes of every kind), so the
test sees what kube-proxy or the mesh could have acted on: a Service that has traffic is never
re-pointed, and each delivery ends with the roles swapped.
"""

from __future__ import annotations

from typing import Any

from e2e.cluster import Cluster
from tests.integration.controller import scenario as sc
from tests.integration.controller.object_watch import ObjectWatch, distinct
from tests.support import Kubectl, eventually, kubectl_json

PING, PONG = "web-ping", "web-pong"


def _vs() -> dict[str, Any]:
    route = [{"destination": {"host": PING}, "weight": 100}, {"destination": {"host": PONG}, "weight": 0}]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "web-vs"},
        "spec": {"hosts": ["web"], "http": [{"name": "primary", "route": route}]},
    }


def _rollout() -> dict[str, Any]:
    strategy = {
        "canary": {
            "pingPong": {"pingService": PING, "pongService": PONG},
            "trafficRouting": {"istio": {"virtualService": {"name": "web-vs", "routes": ["primary"]}}},
            "steps": [{"setWeight": 30}, {"pause": {"duration": "1s"}}, {"setWeight": 70}],
            "scaleDownDelaySeconds": 2,
        }
    }
    return sc.rollout("web", strategy=strategy, replicas=2)


def _host_weights(vs: dict[str, Any]) -> dict[str, int]:
    return {d["destination"]["host"]: d.get("weight", 0) for d in vs["spec"]["http"][0]["route"]}


def _timeline(services: ObjectWatch, routes: ObjectWatch) -> list[tuple[int, str, dict[str, Any]]]:
    states = [(obj, name) for name in (PING, PONG) for obj in services.states(name)]
    states += [(obj, "web-vs") for obj in routes.states("web-vs")]
    return sorted((int(obj["metadata"]["resourceVersion"]), name, obj) for obj, name in states)


def _replay(timeline: list[tuple[int, str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """The selector changes (Service, new revision), checking each against the weights in force."""
    weights: dict[str, int] = {}
    selected: dict[str, str | None] = {}
    moves = []
    for version, name, obj in timeline:
        if name == "web-vs":
            weights = _host_weights(obj)
            continue
        revision = (obj["spec"].get("selector") or {}).get(sc.HASH)
        before = selected.get(name)
        if revision != before and before is not None:
            assert weights.get(name) == 0, (
                f"{name} moved {before} -> {revision} with weights {weights} (rv {version})"
            )
        if revision != before:
            moves.append((name, str(revision)))
        selected[name] = revision
    return moves


def _stable_role(kubectl: Kubectl) -> str | None:
    role: str | None = (sc.status(kubectl, "web").get("canary") or {}).get("stablePingPong")
    return role


def test_ping_pong_swaps_roles_at_each_promotion_without_re_pointing_a_service_with_traffic(
    controller: Any, cluster: Cluster, namespace: str, kubectl: Kubectl
) -> None:
    services = ObjectWatch(cluster, namespace, "services")
    routes = ObjectWatch(cluster, namespace, "virtualservices")
    try:
        sc.apply(kubectl, sc.service(PING, "web"), sc.service(PONG, "web"), _vs())
        sc.apply(kubectl, _rollout())
        v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
        assert _stable_role(kubectl) == "ping"

        sc.set_image(kubectl, "web", "v2")
        v2 = sc.wait_status(
            kubectl,
            "web",
            "v2 stable",
            lambda st: st.get("stableRS") not in (None, v1) and st["phase"] == "Healthy",
        )["stableRS"]
        assert _stable_role(kubectl) == "pong"
        eventually(
            lambda: (
                _host_weights(kubectl_json(kubectl, "get", "virtualservice", "web-vs"))
                == {PING: 0, PONG: 100}
            )
        )
        eventually(lambda: sc.sizes(kubectl, "web") == {v1: 0, v2: 2}, what="the old stable scaled down")

        sc.set_image(kubectl, "web", "v3")
        v3 = sc.wait_status(
            kubectl,
            "web",
            "v3 stable",
            lambda st: st.get("stableRS") not in (None, v2) and st["phase"] == "Healthy",
        )["stableRS"]
        assert _stable_role(kubectl) == "ping"
        eventually(
            lambda: (
                _host_weights(kubectl_json(kubectl, "get", "virtualservice", "web-vs"))
                == {PING: 100, PONG: 0}
            )
        )
        eventually(
            lambda: sc.selector_hash(kubectl, PONG) == v3, what="the idle pong Service on the new stable"
        )
    finally:
        services.stop()
        routes.stop()

    moves = _replay(_timeline(services, routes))
    # v2 came in through pong and v3 through ping; each idle Service then follows the new stable.
    assert moves == [(PING, v1), (PONG, v1), (PONG, v2), (PING, v2), (PING, v3), (PONG, v3)], moves
    weights = distinct([(w[PING], w[PONG]) for w in map(_host_weights, routes.states("web-vs"))])
    # Out through pong, then back through ping; the swaps themselves write no weight.
    assert weights == [(100, 0), (70, 30), (30, 70), (0, 100), (30, 70), (70, 30), (100, 0)], weights
    reasons = [r for r, _ in sc.events(kubectl, "web")]
    assert reasons.count("PingPongSwapped") == 2, reasons
