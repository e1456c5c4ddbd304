"""A routing the Rollout stops using is sent back to stable: the status remembers what it routed through."""

from __future__ import annotations

from rollouts.api.traffic_routing import RolloutTrafficRouting
from rollouts.engine import RestoreStableTraffic, decide
from tests.unit.engine.scenario import CANARY_AT_20, SERVICES_V2, canary_rollout, mid, of_type, snapshot

NGINX = {"nginx": {"stableIngress": "web"}}
ISTIO = {"istio": {"virtualService": {"name": "web-vs"}}}


def _routed_through(routing: dict[str, object]) -> dict[str, object]:
    return {"canary": {"trafficRouting": routing, "weights": None}}


def test_a_routed_rollout_remembers_its_routing_in_the_status() -> None:
    plan = decide(snapshot(canary_rollout(status=mid(1)), **CANARY_AT_20))
    assert plan.status.canary is not None
    assert plan.status.canary.traffic_routing == RolloutTrafficRouting.model_validate(NGINX)
    assert not of_type(plan, RestoreStableTraffic)


def test_removing_traffic_routing_sends_traffic_back_through_the_old_router_first() -> None:
    rollout = canary_rollout(routed=False, status=mid(1, **_routed_through(NGINX)))
    plan = decide(snapshot(rollout, replica_sets=CANARY_AT_20["replica_sets"], services=SERVICES_V2))
    (restore,) = of_type(plan, RestoreStableTraffic)
    old = restore.routed.spec.strategy.canary
    assert old is not None and old.traffic_routing == RolloutTrafficRouting.model_validate(NGINX)
    assert old.stable_service == "web-stable", "the router finds its objects from the rest of the spec"
    assert plan.status.canary is not None and plan.status.canary.traffic_routing is None
    assert any(e.reason == "TrafficRoutingRestored" and "was removed" in e.message for e in plan.events)


def test_changing_the_router_restores_the_old_one_and_routes_through_the_new() -> None:
    rollout = canary_rollout(trafficRouting=ISTIO, status=mid(1, **_routed_through(NGINX)))
    plan = decide(snapshot(rollout, **CANARY_AT_20))
    (restore,) = of_type(plan, RestoreStableTraffic)
    assert restore.routed.spec.strategy.canary.traffic_routing.nginx is not None  # type: ignore[union-attr]
    assert plan.status.canary.traffic_routing.istio is not None  # type: ignore[union-attr]
    assert any("was changed" in e.message for e in plan.events)


def test_an_unchanged_routing_is_not_restored_and_a_restored_one_not_twice() -> None:
    rollout = canary_rollout(status=mid(1, **_routed_through(NGINX)))
    assert not of_type(decide(snapshot(rollout, **CANARY_AT_20)), RestoreStableTraffic)
    removed = canary_rollout(routed=False, status=mid(1))  # the restore was written: nothing remembered
    assert not of_type(decide(snapshot(removed, **CANARY_AT_20)), RestoreStableTraffic)
