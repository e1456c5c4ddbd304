"""The canary's two scale-down delays: their effective defaults, and what a user sees them do."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.engine import canary
from rollouts.engine.canary import abort_scale_down_delay_seconds, scale_down_delay_seconds
from rollouts.engine.plan import AnnotateScaleDownDeadline, ScaleReplicaSet
from tests.unit.engine.scenario import (
    SERVICES_V2,
    T0,
    V1,
    V2,
    apply,
    at,
    canary_rollout,
    mid,
    of_type,
    rs,
    snapshot,
)


@pytest.mark.parametrize(
    ("routed", "fields", "after_promotion", "after_abort"),
    [
        (True, {}, 30, 30),  # Argo's defaults with traffic routing
        (True, {"scaleDownDelaySeconds": 5, "abortScaleDownDelaySeconds": 0}, 5, 0),
        (True, {"scaleDownDelaySeconds": 0, "abortScaleDownDelaySeconds": 120}, 0, 120),
        (False, {}, 0, None),  # basic canary: old pods go during the update, no delay applies
        (False, {"abortScaleDownDelaySeconds": 60}, 0, None),
    ],
)
def test_effective_delays(
    routed: bool, fields: dict[str, Any], after_promotion: int, after_abort: int | None
) -> None:
    strategy = canary_rollout(routed=routed, **fields).spec.strategy.canary
    assert strategy is not None
    assert scale_down_delay_seconds(strategy) == after_promotion
    assert abort_scale_down_delay_seconds(strategy) == after_abort


def _promotion(**fields: Any) -> Any:
    ro = canary_rollout(status=mid(2), **fields)
    return canary.decide(
        snapshot(
            ro,
            replica_sets=(rs(V1, 10), rs(V2, 10, revision=2)),
            services=SERVICES_V2,
            router_canary_weight=100,
        )
    )


@pytest.mark.parametrize(("fields", "deadline"), [({}, at(30)), ({"scaleDownDelaySeconds": 5}, at(5))])
def test_promotion_keeps_the_old_stable_for_the_scale_down_delay(
    fields: dict[str, Any], deadline: Any
) -> None:
    plan = _promotion(**fields)
    assert plan.status.stable_rs == V2
    assert of_type(plan, AnnotateScaleDownDeadline) == [
        AnnotateScaleDownDeadline(name=f"web-{V1}", deadline=deadline)
    ]
    assert plan.wake_at == deadline
    assert not any(isinstance(a, ScaleReplicaSet) and a.replicas == 0 for a in plan.actions)


@pytest.mark.parametrize(("now", "scaled"), [(29, False), (30, True), (3600, True)])
def test_abort_delay_defaults_to_30_seconds_with_traffic_routing(now: float, scaled: bool) -> None:
    assert _aborted_canary_scaled_down(now=now) is scaled


@pytest.mark.parametrize("now", [30, 3600, 86400])
def test_abort_delay_zero_keeps_the_canary(now: float) -> None:
    assert _aborted_canary_scaled_down(now=now, abortScaleDownDelaySeconds=0) is False


def _aborted_canary_scaled_down(*, now: float, **fields: Any) -> bool:
    ro = canary_rollout(status=mid(1, abort=True, abortedAt=T0), **fields)
    plan = canary.decide(
        snapshot(
            ro,
            now=at(now),
            replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)),
            services=SERVICES_V2,
            router_canary_weight=0,
        )
    )
    shrink = ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=0, previous=2)
    return shrink in plan.actions


def test_basic_canary_abort_replaces_canary_pods_at_once_whatever_the_abort_delay() -> None:
    ro = canary_rollout(
        routed=False,
        abortScaleDownDelaySeconds=600,
        maxSurge=1,
        maxUnavailable=1,
        status=mid(1, abort=True, abortedAt=T0),
    )
    snap = snapshot(ro, now=at(1), replica_sets=(rs(V1, 8), rs(V2, 2, revision=2)), services=SERVICES_V2)
    for _ in range(3):
        plan = canary.decide(snap)
        assert plan.wake_at is None  # nothing waits for the 600 s
        snap = apply(snap, plan)
    assert {r.pod_template_hash: r.replicas for r in snap.replica_sets} == {V1: 10, V2: 0}
    assert snap.now == at(4)
