"""``canary.pingPong``: two Services take turns as stable; no Service with traffic is re-pointed.

The router is simulated per host (as a host-level Istio VirtualService holds it): it writes a
weight for the canary Service of the roles the pass started with and reads back the weight of the
canary Service of the roles in the status, so a swap that went wrong shows up as traffic on the
wrong pods.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rollouts.api import PingPongRole, Rollout
from rollouts.api.enums import RolloutPhase
from rollouts.engine import canary
from rollouts.engine.plan import SetWeight, SwitchServiceSelector
from rollouts.engine.snapshot import Snapshot
from tests.unit.engine.scenario import V1, V2, V3, apply, rs, snapshot, svc, template

PING, PONG = "web-ping", "web-pong"


def _rollout(image: str, status: dict[str, Any] | None = None, **canary_fields: Any) -> Rollout:
    strategy: dict[str, Any] = {
        "pingPong": {"pingService": PING, "pongService": PONG},
        "trafficRouting": {"istio": {"virtualService": {"name": "web", "routes": ["primary"]}}},
        "steps": [{"setWeight": 25}, {"pause": {"duration": 10}}, {"setWeight": 75}],
        **canary_fields,
    }
    body: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "default", "generation": 2},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(image),
            "strategy": {"canary": strategy},
        },
    }
    if status is not None:
        body["status"] = status
    return Rollout.model_validate(body)


def _roles(snap: Snapshot) -> tuple[str, str]:
    """(stable, canary) Service names for the roles in the snapshot's status."""
    status = snap.rollout.status.canary if snap.rollout.status is not None else None
    stable = (status.stable_ping_pong if status is not None else None) or PingPongRole.PING
    return (PING, PONG) if stable is PingPongRole.PING else (PONG, PING)


def _revision_of(snap: Snapshot, service: str) -> str | None:
    found = next(s for s in snap.services if s.name == service)
    return found.selector.get("rollouts-pod-template-hash")


def _moves(actions: list[Any], service: str) -> list[str]:
    return [
        a.pod_template_hash for a in actions if isinstance(a, SwitchServiceSelector) and a.service == service
    ]


def _deliver(snap: Snapshot, hosts: dict[str, int], passes: int = 60) -> tuple[Snapshot, list[Any]]:
    """Run passes (5 s apart) until Healthy on the desired revision with nothing left to wait for
    (the old pods' scale-down delay); every pass checks that a Service whose
    selector moves has no traffic and that traffic only reaches pods that are there."""
    seen: list[Any] = []
    for _ in range(passes):
        plan = canary.decide(snap)
        seen.extend(plan.actions)
        stable, canary_service = _roles(snap)
        for action in plan.actions:
            if isinstance(action, SwitchServiceSelector) and _revision_of(snap, action.service):
                assert hosts[action.service] == 0, f"{action.service} re-pointed with traffic {hosts}"
            if isinstance(action, SetWeight):
                hosts[canary_service], hosts[stable] = action.canary_weight, 100 - action.canary_weight
        after = apply(snap, plan, after=5)
        _, canary_after = _roles(after)
        snap = replace(after, router_canary_weight=hosts[canary_after])
        by_hash = {r.pod_template_hash: r for r in snap.replica_sets}
        for service in snap.services:
            selected = _revision_of(snap, service.name)
            if hosts.get(service.name) and selected is not None:  # none: the user's, before the first pass
                assert selected in by_hash and by_hash[selected].available > 0, (service, hosts)
        status = snap.rollout.status
        assert status is not None
        settled = not plan.actions and plan.requeue_after is None
        if settled and status.phase is RolloutPhase.HEALTHY and status.stable_rs == status.current_pod_hash:
            return snap, seen
    raise AssertionError(f"not delivered in {passes} passes: {snap.rollout.status}")


def _healthy_on_v1() -> tuple[Snapshot, dict[str, int]]:
    """The first deploy: both Services on V1, all traffic on ping, ping recorded as stable."""
    first = snapshot(
        _rollout("web:1"),
        replica_sets=(),
        services=(svc(PING, None), svc(PONG, None)),
        router_canary_weight=0,
    )
    hosts = {PING: 100, PONG: 0}
    snap, _ = _deliver(first, hosts)
    status = snap.rollout.status
    assert status is not None and status.canary is not None
    assert status.stable_rs == V1 and status.canary.stable_ping_pong is PingPongRole.PING
    return snap, hosts


def _update(snap: Snapshot, image: str) -> Snapshot:
    return replace(snap, rollout=_rollout(image, status=snap.rollout.model_dump(by_alias=True)["status"]))


def test_a_delivery_ends_with_the_roles_swapped_and_no_selector_moved_under_traffic() -> None:
    snap, hosts = _healthy_on_v1()
    done, actions = _deliver(_update(snap, "web:2"), hosts)
    status = done.rollout.status
    assert status is not None and status.canary is not None
    assert status.stable_rs == V2 and status.canary.stable_ping_pong is PingPongRole.PONG
    assert hosts == {PING: 0, PONG: 100}
    assert [w.canary_weight for w in actions if isinstance(w, SetWeight)] == [25, 75, 100]
    # ping (the stable) was never re-pointed before the swap; afterwards it is the idle canary
    # Service and follows the new stable.
    assert _moves(actions, PING) == [V2]
    assert {s.name: _revision_of(done, s.name) for s in done.services} == {PING: V2, PONG: V2}
    assert [r.pod_template_hash for r in done.replica_sets if r.replicas] == [V2]


def test_the_next_delivery_runs_the_other_way() -> None:
    snap, hosts = _healthy_on_v1()
    snap, _ = _deliver(_update(snap, "web:2"), hosts)
    done, actions = _deliver(_update(snap, "web:3"), hosts)
    status = done.rollout.status
    assert status is not None and status.canary is not None
    assert status.stable_rs == V3 and status.canary.stable_ping_pong is PingPongRole.PING
    assert hosts == {PING: 100, PONG: 0}
    assert _moves(actions, PONG) == [V3]


def test_the_swap_waits_for_the_router_to_show_all_traffic_on_the_canary() -> None:
    ro = _rollout(
        "web:2",
        status={
            "currentPodHash": V2,
            "stableRS": V1,
            "currentStepIndex": 3,
            "canary": {"stablePingPong": "ping"},
        },
    )
    base: dict[str, Any] = {
        "replica_sets": (rs(V1, 4), rs(V2, 4, revision=2)),
        "services": (svc(PING, V1), svc(PONG, V2)),
    }
    plan = canary.decide(snapshot(ro, router_canary_weight=75, **base))
    assert plan.status.stable_rs == V1 and [a for a in plan.actions if isinstance(a, SetWeight)] == [
        SetWeight(canary_weight=100, canary_hash=V2, stable_hash=V1)
    ]
    swapped = canary.decide(snapshot(ro, router_canary_weight=100, **base))
    assert swapped.status.stable_rs == V2
    assert swapped.status.canary is not None and swapped.status.canary.stable_ping_pong is PingPongRole.PONG
    assert not [a for a in swapped.actions if isinstance(a, SetWeight | SwitchServiceSelector)]
    assert any(e.reason == "PingPongSwapped" for e in swapped.events)


@pytest.mark.parametrize("weight", [25, 75])
def test_an_abort_sends_all_traffic_back_to_the_stable_service(weight: int) -> None:
    status = {
        "currentPodHash": V2,
        "stableRS": V1,
        "currentStepIndex": 0 if weight == 25 else 2,
        "abort": True,
        "canary": {"stablePingPong": "pong"},
    }
    plan = canary.decide(
        snapshot(
            _rollout("web:2", status=status),
            replica_sets=(rs(V1, 4), rs(V2, 4, revision=2)),
            services=(svc(PING, V2), svc(PONG, V1)),
            router_canary_weight=weight,
        )
    )
    assert SetWeight(canary_weight=0, canary_hash=V2, stable_hash=V1) in plan.actions
    assert plan.status.canary is not None and plan.status.canary.stable_ping_pong is PingPongRole.PONG
    assert SwitchServiceSelector(service=PONG, pod_template_hash=V1) not in plan.actions
