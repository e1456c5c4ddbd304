"""setHeaderRoute and setMirrorRoute: the routes in force follow the steps and reach only a ready canary.

Each test drives the engine pass by pass over a simulated cluster (``scenario.apply``), where the
router holds what the last ``SetRoutes`` said; a lagging router is simulated by dropping them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rollouts.api import SetHeaderRoute, SetMirrorRoute
from rollouts.engine import canary
from rollouts.engine.plan import SetRoutes
from rollouts.engine.snapshot import Snapshot
from tests.unit.engine.scenario import (
    SERVICES_V1,
    SERVICES_V2,
    V1,
    V2,
    apply,
    canary_rollout,
    mid,
    of_type,
    rs,
    snapshot,
)

BETA: dict[str, Any] = {"name": "beta", "match": [{"headerName": "X-Beta", "headerValue": {"exact": "yes"}}]}
COPY: dict[str, Any] = {"name": "copy", "match": [{"method": {"exact": "GET"}}], "percentage": 30}
ISTIO: dict[str, Any] = {
    "istio": {"virtualService": {"name": "web", "routes": ["primary"]}},
    "managedRoutes": [{"name": "beta"}, {"name": "copy"}],
}
STEPS: list[dict[str, Any]] = [
    {"setCanaryScale": {"replicas": 2}},
    {"setHeaderRoute": BETA},
    {"pause": {"duration": 10}},
    {"setMirrorRoute": COPY},
    {"setWeight": 50},
    {"setHeaderRoute": {"name": "beta"}},
    {"pause": {"duration": 10}},
]


def _start(steps: list[dict[str, Any]] = STEPS, routing: dict[str, Any] = ISTIO) -> Snapshot:
    ro = canary_rollout(
        replicas=4,
        steps=steps,
        status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": len(steps)},
        trafficRouting=routing,
    )
    return snapshot(
        ro, replica_sets=(rs(V1, 4),), services=SERVICES_V1, router_canary_weight=0, router_routes=()
    )


def _deliver(snap: Snapshot, *, passes: int = 60, ready: bool = True) -> list[tuple[Snapshot, Any]]:
    seen = []
    for _ in range(passes):
        plan = canary.decide(snap)
        seen.append((snap, plan))
        snap = apply(snap, plan, after=3, ready=ready)
    return seen


def test_routes_follow_the_steps_and_go_at_promotion() -> None:
    seen = _deliver(_start())
    written = [tuple(r.name for r in a.routes) for _, plan in seen for a in of_type(plan, SetRoutes)]
    assert written == [("beta",), ("beta", "copy"), ("copy",), ()]
    final = seen[-1][0]
    assert final.rollout.status is not None and final.rollout.status.stable_rs == V2
    header = next(a.routes[0] for _, p in seen for a in of_type(p, SetRoutes) if a.routes)
    assert header == HEADER


def test_a_route_only_reaches_an_available_canary_selected_by_its_service() -> None:
    for snap, plan in _deliver(_start()):
        for action in of_type(plan, SetRoutes):
            if not action.routes:
                continue
            canary_rs = snap.replica_set(V2)
            assert canary_rs is not None and canary_rs.available >= 2
            service = snap.service("web-canary")
            assert service is not None and service.selector.get("rollouts-pod-template-hash") == V2


def _at(index: int, *, available: int = 2, routes: tuple[Any, ...] = ()) -> Snapshot:
    """The canary of 2 pods (``available`` of them ready) at step ``index``, holding ``routes``."""
    ro = canary_rollout(replicas=4, steps=STEPS, status=mid(index), trafficRouting=ISTIO)
    return snapshot(
        ro,
        replica_sets=(rs(V1, 4), rs(V2, 2, available=available, revision=2)),
        services=SERVICES_V2,
        router_canary_weight=0,
        router_routes=routes,
    )


HEADER = SetHeaderRoute.model_validate(BETA)


def test_no_route_while_the_canary_has_no_ready_pod() -> None:
    plan = canary.decide(_at(1, available=0))
    assert of_type(plan, SetRoutes) == []
    assert plan.status.current_step_index == 1  # the header route step waits for the pods


def test_a_route_step_waits_for_the_router_to_show_the_routes() -> None:
    snap = _at(1)
    for _ in range(3):  # a router that never shows the route: the step never completes
        plan = canary.decide(snap)
        assert [a.routes for a in of_type(plan, SetRoutes)] == [(HEADER,)]
        assert plan.status.current_step_index == 1
        assert plan.requeue_after is not None
        snap = replace(apply(snap, plan, after=3), router_routes=None)
    plan = canary.decide(replace(snap, router_routes=(HEADER,)))
    assert of_type(plan, SetRoutes) == []
    assert plan.status.current_step_index == 2


def test_a_growing_canary_keeps_the_routes_it_serves_and_may_drop_others() -> None:
    mirror = SetMirrorRoute.model_validate(COPY)
    plan = canary.decide(_at(4, available=1, routes=(HEADER, mirror)))  # growing for setWeight: 50
    assert of_type(plan, SetRoutes) == []
    plan = canary.decide(_at(5, available=1, routes=(HEADER, mirror)))  # the header route's removal
    assert [a.routes for a in of_type(plan, SetRoutes)] == [(mirror,)]


def test_an_abort_removes_the_routes_at_once() -> None:
    snap = _at(2, routes=(HEADER,))
    status = snap.rollout.status
    assert status is not None
    aborted = snap.rollout.model_copy(update={"status": status.model_copy(update={"abort": True})})
    plan = canary.decide(replace(snap, rollout=aborted))
    assert [a.routes for a in of_type(plan, SetRoutes)] == [()]


def test_a_mirror_route_is_planned_as_the_step_wrote_it() -> None:
    seen = _deliver(_start())
    mirrors = [
        r for _, p in seen for a in of_type(p, SetRoutes) for r in a.routes if isinstance(r, SetMirrorRoute)
    ]
    assert mirrors and all(r == SetMirrorRoute.model_validate(COPY) for r in mirrors)


def test_a_rollout_without_managed_routes_plans_none() -> None:
    seen = _deliver(
        _start(
            steps=[{"setWeight": 50}, {"pause": {"duration": 5}}],
            routing={"istio": ISTIO["istio"]},
        )
    )
    assert not [a for _, p in seen for a in of_type(p, SetRoutes)]
