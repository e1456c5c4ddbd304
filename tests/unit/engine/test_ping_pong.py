"""``canary.pingPong``: two Services take turns as stable; the stable one is never re-pointed.

The router is simulated as Istio holds it. By host, the VirtualService weights the two Services:
the router writes a weight for the canary Service of the roles the pass started with and reads back
the canary Service of the roles in the status, so a swap that went wrong shows up as traffic on the
wrong pods. By subset, the weights and hash labels belong to the two fixed subsets and the Services
only change roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from rollouts.api import PingPongRole, Rollout
from rollouts.api.enums import RolloutPhase
from rollouts.engine import canary
from rollouts.engine.plan import SetWeight, SwitchServiceSelector
from rollouts.engine.snapshot import Snapshot
from tests.unit.engine.scenario import V1, V2, V3, apply, rs, snapshot, svc, template

PING, PONG = "web-ping", "web-pong"
BY_HOST: dict[str, Any] = {"virtualService": {"name": "web", "routes": ["primary"]}}
BY_SUBSET: dict[str, Any] = {
    **BY_HOST,
    "destinationRule": {"name": "web", "canarySubsetName": "canary", "stableSubsetName": "stable"},
}


def _rollout(
    image: str, status: dict[str, Any] | None = None, istio: dict[str, Any] = BY_HOST, **canary_fields: Any
) -> Rollout:
    strategy: dict[str, Any] = {
        "pingPong": {"pingService": PING, "pongService": PONG},
        "trafficRouting": {"istio": istio},
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


@dataclass
class _Mesh:
    """The router's state: weights by host (the two Services) or by subset (labelled by hash)."""

    by_subset: bool
    weights: dict[str, int] = field(default_factory=lambda: {PING: 100, PONG: 0})
    labels: dict[str, str] = field(default_factory=dict)

    def write(self, action: SetWeight, roles: tuple[str, str]) -> None:
        stable, canary_side = ("stable", "canary") if self.by_subset else roles
        self.weights = {canary_side: action.canary_weight, stable: 100 - action.canary_weight}
        self.labels = {"canary": action.canary_hash, "stable": action.stable_hash}

    def read(self, roles: tuple[str, str]) -> int:
        return self.weights["canary" if self.by_subset else roles[1]]

    def served(self, snap: Snapshot) -> set[str | None]:
        """The revisions that receive traffic (none: the user's selector or subset, before any write)."""
        if self.by_subset:
            return {self.labels.get(side) for side, weight in self.weights.items() if weight} - {None}
        return {_revision_of(snap, name) for name, weight in self.weights.items() if weight} - {None}


def _deliver(snap: Snapshot, mesh: _Mesh, passes: int = 60) -> tuple[Snapshot, list[Any]]:
    """Run passes (5 s apart) until Healthy on the desired revision with nothing left to wait for
    (the old pods' scale-down delay). Every pass checks that only the canary Service is re-pointed
    (by host: only while it has no traffic) and that traffic only reaches pods that are there."""
    seen: list[Any] = []
    for _ in range(passes):
        plan = canary.decide(snap)
        seen.extend(plan.actions)
        roles = _roles(snap)
        for action in plan.actions:
            if isinstance(action, SwitchServiceSelector) and _revision_of(snap, action.service):
                assert action.service == roles[1] or roles[0] == roles[1], (
                    f"stable {action.service} re-pointed"
                )
                if not mesh.by_subset:
                    assert mesh.weights[action.service] == 0, f"{action.service} re-pointed with {mesh}"
            if isinstance(action, SetWeight):
                mesh.write(action, roles)
        after = apply(snap, plan, after=5)
        snap = replace(after, router_canary_weight=mesh.read(_roles(after)))
        available = {r.pod_template_hash for r in snap.replica_sets if r.available > 0}
        assert mesh.served(snap) <= available, (mesh, snap.replica_sets)
        status = snap.rollout.status
        assert status is not None
        settled = not plan.actions and plan.requeue_after is None
        if settled and status.phase is RolloutPhase.HEALTHY and status.stable_rs == status.current_pod_hash:
            return snap, seen
    raise AssertionError(f"not delivered in {passes} passes: {snap.rollout.status}")


def _healthy_on_v1(istio: dict[str, Any]) -> tuple[Snapshot, _Mesh]:
    """The first deploy: both Services on V1, all traffic on ping, ping recorded as stable."""
    first = snapshot(
        _rollout("web:1", istio=istio),
        replica_sets=(),
        services=(svc(PING, None), svc(PONG, None)),
        router_canary_weight=0,
    )
    mesh = _Mesh(by_subset="destinationRule" in istio)
    if mesh.by_subset:
        mesh.weights = {"stable": 100, "canary": 0}
    snap, _ = _deliver(first, mesh)
    status = snap.rollout.status
    assert status is not None and status.canary is not None
    assert status.stable_rs == V1 and status.canary.stable_ping_pong is PingPongRole.PING
    return snap, mesh


def _update(snap: Snapshot, image: str) -> Snapshot:
    status = snap.rollout.model_dump(by_alias=True)["status"]
    istio = snap.rollout.model_dump(by_alias=True, exclude_none=True)["spec"]["strategy"]["canary"][
        "trafficRouting"
    ]
    return replace(snap, rollout=_rollout(image, status=status, istio=istio["istio"]))


ROUTINGS = pytest.mark.parametrize("istio", [BY_HOST, BY_SUBSET], ids=["by-host", "by-subset"])


@ROUTINGS
def test_a_delivery_ends_with_the_roles_swapped_and_the_stable_service_never_re_pointed(
    istio: dict[str, Any],
) -> None:
    snap, mesh = _healthy_on_v1(istio)
    done, actions = _deliver(_update(snap, "web:2"), mesh)
    status = done.rollout.status
    assert status is not None and status.canary is not None
    assert status.stable_rs == V2 and status.canary.stable_ping_pong is PingPongRole.PONG
    weights = [w.canary_weight for w in actions if isinstance(w, SetWeight)]
    if mesh.by_subset:  # the canary subset's weight goes back to 0 once the stable subset is V2
        assert weights == [25, 75, 100, 0] and mesh.weights == {"canary": 0, "stable": 100}
    else:  # the swap itself is the move back: the canary host (now ping) already has 0
        assert weights == [25, 75, 100] and mesh.weights == {PING: 0, PONG: 100}
    # ping (the stable) was never re-pointed before the swap; afterwards it is the idle canary
    # Service and follows the new stable.
    assert _moves(actions, PING) == [V2]
    assert {s.name: _revision_of(done, s.name) for s in done.services} == {PING: V2, PONG: V2}
    assert [r.pod_template_hash for r in done.replica_sets if r.replicas] == [V2]


@ROUTINGS
def test_the_next_delivery_runs_the_other_way(istio: dict[str, Any]) -> None:
    snap, mesh = _healthy_on_v1(istio)
    snap, _ = _deliver(_update(snap, "web:2"), mesh)
    done, actions = _deliver(_update(snap, "web:3"), mesh)
    status = done.rollout.status
    assert status is not None and status.canary is not None
    assert status.stable_rs == V3 and status.canary.stable_ping_pong is PingPongRole.PING
    if not mesh.by_subset:
        assert mesh.weights == {PING: 100, PONG: 0}
    assert _moves(actions, PONG) == [V3] and _moves(actions, PING) == [V3]


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
