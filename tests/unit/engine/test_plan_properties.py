"""Invariants every plan keeps, whatever the cluster looks like (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.engine import decide_canary
from rollouts.engine.plan import CreateReplicaSet, Plan, ScaleReplicaSet, SetWeight, SwitchServiceSelector
from rollouts.engine.replicas import resolve_surge_and_unavailable
from rollouts.engine.snapshot import Snapshot
from tests.unit.engine.scenario import V1, V2, apply, at, canary_rollout, rs, snapshot, svc


@st.composite
def canary_snapshots(draw: st.DrawFn, *, routed: bool = True) -> Snapshot:
    replicas = draw(st.integers(min_value=1, max_value=12))
    total = draw(st.sampled_from([100, 1000, 7])) if routed else 100  # maxTrafficWeight
    weights = st.integers(min_value=0, max_value=total)
    steps: list[dict[str, Any]] = [
        draw(st.one_of(st.builds(lambda w: {"setWeight": w}, weights), st.just({"pause": {}})))
        for _ in range(draw(st.integers(min_value=1, max_value=4)))
    ]
    index = draw(st.integers(min_value=0, max_value=len(steps)))
    abort = draw(st.booleans())
    status = {"currentPodHash": V2, "stableRS": V1, "currentStepIndex": index, "abort": abort or None}
    routing = (
        {"trafficRouting": {"nginx": {"stableIngress": "web"}, "maxTrafficWeight": total}}
        if total != 100
        else {}
    )
    ro = canary_rollout(
        replicas=replicas,
        steps=steps,
        routed=routed,
        status=status,
        maxSurge=draw(st.integers(0, 3)),
        maxUnavailable=draw(st.integers(1, 3)),
        **routing,
    )
    canary_size = draw(st.integers(min_value=0, max_value=replicas))
    canary_available = draw(st.integers(min_value=0, max_value=canary_size))
    stable_size = replicas if routed else replicas - canary_size
    sets = (rs(V1, stable_size), rs(V2, canary_size, available=canary_available, revision=2))
    services = (svc("web-stable", V1), svc("web-canary", draw(st.sampled_from([V1, V2]))))
    router = draw(st.one_of(st.none(), weights)) if routed else None
    return snapshot(
        ro,
        now=at(draw(st.integers(0, 10_000))),
        replica_sets=sets,
        services=services,
        router_canary_weight=router,
    )


@given(canary_snapshots())
@settings(max_examples=300, deadline=None)
def test_weights_sum_to_the_total_and_traffic_only_onto_fully_available_canary(snap: Snapshot) -> None:
    plan = decide_canary(snap)
    assert snap.rollout.spec.strategy.canary is not None
    total = snap.rollout.spec.strategy.canary.weight_total()
    sizes = {r.name: r for r in snap.replica_sets}
    for action in plan.actions:
        if isinstance(action, SetWeight):
            assert 0 <= action.canary_weight <= total
            if action.canary_weight > 0:
                canary = sizes[f"web-{action.canary_hash}"]
                assert canary.replicas > 0 and canary.available >= canary.replicas
        if isinstance(action, SwitchServiceSelector):
            target = sizes.get(f"web-{action.pod_template_hash}")
            assert target is not None and target.available >= target.replicas > 0
    weights_status = plan.status.canary.weights if plan.status.canary else None
    if weights_status is not None:
        assert weights_status.canary.weight + weights_status.stable.weight == total


@given(canary_snapshots())
@settings(max_examples=300, deadline=None)
def test_abort_plans_weight_zero_before_any_scale_down(snap: Snapshot) -> None:
    plan = decide_canary(snap)
    if not plan.status.abort:
        return
    weights = [i for i, a in enumerate(plan.actions) if isinstance(a, SetWeight)]
    downs = [
        i for i, a in enumerate(plan.actions) if isinstance(a, ScaleReplicaSet) and a.replicas < a.previous
    ]
    assert all(plan.actions[i].canary_weight == 0 for i in weights)  # type: ignore[union-attr]
    if downs and snap.router_canary_weight != 0:
        assert weights and weights[0] < downs[0]


@given(canary_snapshots())
@settings(max_examples=200, deadline=None)
def test_same_input_same_plan(snap: Snapshot) -> None:
    assert decide_canary(snap) == decide_canary(snap)


def _pods_after_each_action(snap: Snapshot, plan: Plan) -> list[int]:
    sizes = {r.name: r.replicas for r in snap.replica_sets}
    totals = []
    for action in plan.actions:
        if isinstance(action, (CreateReplicaSet, ScaleReplicaSet)):
            sizes[action.name] = action.replicas
        totals.append(sum(sizes.values()))
    return totals


@given(
    replicas=st.integers(1, 12),
    weight=st.integers(0, 100),
    surge=st.integers(0, 3),
    unavailable=st.integers(1, 3),
    passes=st.integers(1, 15),
)
@settings(max_examples=200, deadline=None)
def test_basic_canary_never_exceeds_replicas_plus_surge(
    replicas: int, weight: int, surge: int, unavailable: int, passes: int
) -> None:
    ro = canary_rollout(
        replicas=replicas,
        routed=False,
        steps=[{"setWeight": weight}, {"pause": {}}],
        status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 2},
        maxSurge=surge,
        maxUnavailable=unavailable,
    )
    snap = snapshot(
        ro, replica_sets=(rs(V1, replicas),), services=(svc("web-stable", V1), svc("web-canary", V1))
    )
    max_surge, _ = resolve_surge_and_unavailable(
        replicas=replicas, max_surge=surge, max_unavailable=unavailable
    )
    for _ in range(passes):
        plan = decide_canary(snap)
        assert all(total <= replicas + max_surge for total in _pods_after_each_action(snap, plan))
        snap = apply(snap, plan)
