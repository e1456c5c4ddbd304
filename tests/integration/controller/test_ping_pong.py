"""``canary.pingPong`` with Istio (by host and by subset) on the real control plane.

Every state of the two Services, the VirtualService and the Rollout is recorded through watches and
put in one timeline by resourceVersion (one etcd revision counter orders writes of every kind), so
the test sees what kube-proxy or the mesh could have acted on: the stable Service is never
re-pointed (by host, no Service with traffic is), and each delivery ends with the roles swapped.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e.cluster import Cluster
from tests.integration.controller import scenario as sc
from tests.integration.controller.object_watch import ObjectWatch, distinct
from tests.support import Kubectl, eventually, kubectl_json

PING, PONG = "web-ping", "web-pong"


BY_HOST = {"virtualService": {"name": "web-vs", "routes": ["primary"]}}
BY_SUBSET = {
    **BY_HOST,
    "destinationRule": {"name": "web-dr", "canarySubsetName": "canary", "stableSubsetName": "stable"},
}


def _destination(host: str, weight: int, subset: str | None) -> dict[str, Any]:
    found = {"host": host} if subset is None else {"host": host, "subset": subset}
    return {"destination": found, "weight": weight}


def _routing_objects(by_subset: bool) -> list[dict[str, Any]]:
    if by_subset:
        route = [_destination("web", 100, "stable"), _destination("web", 0, "canary")]
    else:
        route = [_destination(PING, 100, None), _destination(PONG, 0, None)]
    objects = [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "web-vs"},
            "spec": {"hosts": ["web"], "http": [{"name": "primary", "route": route}]},
        }
    ]
    if by_subset:
        subsets = [{"name": name, "labels": {"app": "web"}} for name in ("stable", "canary")]
        objects.append(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": "web-dr"},
                "spec": {"host": "web", "subsets": subsets},
            }
        )
    return objects


def _rollout(istio: dict[str, Any]) -> dict[str, Any]:
    strategy = {
        "canary": {
            "pingPong": {"pingService": PING, "pongService": PONG},
            "trafficRouting": {"istio": istio},
            "steps": [{"setWeight": 30}, {"pause": {"duration": "1s"}}, {"setWeight": 70}],
            "scaleDownDelaySeconds": 2,
        }
    }
    return sc.rollout("web", strategy=strategy, replicas=2)


def _host_weights(vs: dict[str, Any]) -> dict[str, int]:
    """Weight by host, or by subset when the route names subsets."""
    route = vs["spec"]["http"][0]["route"]
    return {d["destination"].get("subset") or d["destination"]["host"]: d.get("weight", 0) for d in route}


def _timeline(*watches: tuple[ObjectWatch, str]) -> list[tuple[int, str, dict[str, Any]]]:
    states = [(obj, name) for watch, name in watches for obj in watch.states(name)]
    return sorted((int(obj["metadata"]["resourceVersion"]), name, obj) for obj, name in states)


def _replay(timeline: list[tuple[int, str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """The selector changes (Service, new revision), each checked against the state in force: only
    the canary Service is re-pointed and, by host, only while it has no weight."""
    weights: dict[str, int] = {}
    stable = PING
    selected: dict[str, str | None] = {}
    moves = []
    for version, name, obj in timeline:
        if name == "web-vs":
            weights = _host_weights(obj)
            continue
        if name == "web":
            role = ((obj.get("status") or {}).get("canary") or {}).get("stablePingPong") or "ping"
            stable = PING if role == "ping" else PONG
            continue
        revision = (obj["spec"].get("selector") or {}).get(sc.HASH)
        before = selected.get(name)
        if revision != before and before is not None:
            assert name != stable, f"the stable Service {name} moved {before} -> {revision} (rv {version})"
            if name in weights:  # by host
                assert weights[name] == 0, (
                    f"{name} moved {before} -> {revision} with {weights} (rv {version})"
                )
        if revision != before:
            moves.append((name, str(revision)))
        selected[name] = revision
    return moves


def _stable_role(kubectl: Kubectl) -> str | None:
    role: str | None = (sc.status(kubectl, "web").get("canary") or {}).get("stablePingPong")
    return role


def _weights_now(kubectl: Kubectl) -> dict[str, int]:
    return _host_weights(kubectl_json(kubectl, "get", "virtualservice", "web-vs"))


def _delivered(kubectl: Kubectl, image: str, previous: str) -> str:
    sc.set_image(kubectl, "web", image)
    done = sc.wait_status(
        kubectl,
        "web",
        f"{image} stable",
        lambda st: st.get("stableRS") not in (None, previous) and st["phase"] == "Healthy",
    )
    return str(done["stableRS"])


@pytest.mark.parametrize("istio", [BY_HOST, BY_SUBSET], ids=["by-host", "by-subset"])
def test_ping_pong_swaps_roles_at_each_promotion_and_never_re_points_the_stable_service(
    controller: Any, cluster: Cluster, namespace: str, kubectl: Kubectl, istio: dict[str, Any]
) -> None:
    by_subset = "destinationRule" in istio
    stable_side, canary_side = ("stable", "canary") if by_subset else (PING, PONG)
    kinds = {"services": (PING, PONG), "virtualservices": ("web-vs",), "rollouts.rollouts.dev": ("web",)}
    watches = {kind: ObjectWatch(cluster, namespace, kind) for kind in kinds}
    try:
        sc.apply(kubectl, sc.service(PING, "web"), sc.service(PONG, "web"), *_routing_objects(by_subset))
        sc.apply(kubectl, _rollout(istio))
        v1 = sc.wait_healthy(kubectl, "web")["stableRS"]
        assert _stable_role(kubectl) == "ping"

        v2 = _delivered(kubectl, "v2", v1)
        assert _stable_role(kubectl) == "pong"
        back = {stable_side: 100, canary_side: 0} if by_subset else {PING: 0, PONG: 100}
        eventually(lambda: _weights_now(kubectl) == back, what=f"weights {back}")
        eventually(lambda: sc.sizes(kubectl, "web") == {v1: 0, v2: 2}, what="the old stable scaled down")

        v3 = _delivered(kubectl, "v3", v2)
        assert _stable_role(kubectl) == "ping"
        eventually(lambda: _weights_now(kubectl) == {stable_side: 100, canary_side: 0}, what="all on ping")
        eventually(
            lambda: sc.selector_hash(kubectl, PONG) == v3, what="the idle pong Service on the new stable"
        )
    finally:
        for watch in watches.values():
            watch.stop()

    moves = _replay(_timeline(*[(watches[kind], name) for kind, names in kinds.items() for name in names]))
    # v2 came in through pong and v3 through ping; each idle Service then follows the new stable.
    assert moves == [(PING, v1), (PONG, v1), (PONG, v2), (PING, v2), (PING, v3), (PONG, v3)], moves
    states = watches["virtualservices"].states("web-vs")
    weights = distinct([(w[stable_side], w[canary_side]) for w in map(_host_weights, states)])
    if by_subset:  # all to the canary subset, then the stable subset is relabelled and takes it back
        one = [(70, 30), (30, 70), (0, 100), (100, 0)]
        assert weights == [(100, 0), *one, *one], weights
    else:  # out through pong, then back through ping; the swaps themselves write no weight
        assert weights == [(100, 0), (70, 30), (30, 70), (0, 100), (30, 70), (70, 30), (100, 0)], weights
    reasons = [r for r, _ in sc.events(kubectl, "web")]
    assert reasons.count("PingPongSwapped") == 2, reasons
