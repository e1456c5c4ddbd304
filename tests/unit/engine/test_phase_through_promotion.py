"""The phase through a promotion: Healthy once the new revision is stable and fully available, and
never back to Progressing while the previous revision waits out ``scaleDownDelaySeconds``.

A Healthy -> Progressing -> Healthy sequence without a spec change is what GitOps tools show as a
flapping health and what the controller records as extra Events, so these scenarios drive the
engine pass after pass over an obedient cluster (``scenario.apply``) and read the whole sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from rollouts.api.enums import RolloutPhase
from rollouts.api.rollout import Rollout
from rollouts.engine import canary, decide
from rollouts.engine.plan import Plan
from rollouts.engine.snapshot import Snapshot
from tests.unit.engine.scenario import (
    V1,
    V2,
    apply,
    bluegreen_rollout,
    canary_rollout,
    rs,
    snapshot,
    svc,
)

HEALTHY, PROGRESSING = RolloutPhase.HEALTHY, RolloutPhase.PROGRESSING


def _canary_from_v1(*, routed: bool) -> Snapshot:
    """A canary of 4 pods Healthy on V1 whose template is now V2 (two steps, 10 s pause)."""
    ro = canary_rollout(
        replicas=4,
        routed=routed,
        steps=[{"setWeight": 50}, {"pause": {"duration": "10s"}}],
        status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 2},
    )
    return snapshot(
        ro,
        replica_sets=(rs(V1, 4),),
        services=(svc("web-stable", V1), svc("web-canary", V1)),
        router_canary_weight=0 if routed else None,
    )


def _bluegreen_from_v1() -> Snapshot:
    """A blue-green of 3 pods Healthy on V1 whose template is now V2 (auto-promotion)."""
    ro = bluegreen_rollout(status={"currentPodHash": V1, "stableRS": V1, "blueGreen": {"activeSelector": V1}})
    return snapshot(ro, replica_sets=(rs(V1, 3),), services=(svc("web-active", V1), svc("web-preview", V1)))


def _deliver(snap: Snapshot, *, passes: int = 40, every: float = 2.0) -> tuple[list[Plan], Snapshot]:
    plans = []
    for _ in range(passes):
        plan = decide(snap)
        plans.append(plan)
        snap = apply(snap, plan, after=every)
    return plans, snap


def _pods_of(snap: Snapshot, pod_hash: str) -> int:
    return sum(r.actual for r in snap.replica_sets if r.pod_template_hash == pod_hash)


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(lambda: _canary_from_v1(routed=True), id="canary-with-traffic-routing"),
        pytest.param(lambda: _canary_from_v1(routed=False), id="basic-canary"),
        pytest.param(_bluegreen_from_v1, id="blue-green"),
    ],
)
def test_a_delivery_goes_healthy_once_and_stays_healthy_while_old_pods_wait(
    start: Callable[[], Snapshot],
) -> None:
    plans, end = _deliver(start())
    phases = [plan.status.phase for plan in plans]
    assert HEALTHY in phases, f"never Healthy: {phases}"
    first_healthy = phases.index(HEALTHY)
    assert plans[first_healthy].status.stable_rs == V2
    assert set(phases[first_healthy:]) == {HEALTHY}, f"phase went back after Healthy: {phases}"
    events = [event.reason for plan in plans for event in plan.events]
    assert events.count("RolloutCompleted") == 1
    assert _pods_of(end, V1) == 0 and _pods_of(end, V2) == end.rollout.spec.replicas


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(lambda: _canary_from_v1(routed=True), id="canary-with-traffic-routing"),
        pytest.param(_bluegreen_from_v1, id="blue-green"),
    ],
)
def test_healthy_while_the_previous_revision_waits_out_its_scale_down_delay(
    start: Callable[[], Snapshot],
) -> None:
    """Argo Rollouts' reading: the kept-warm previous revision takes no traffic and is no progress."""
    plans, _ = _deliver(start())
    promoted = next(i for i, plan in enumerate(plans) if plan.status.stable_rs == V2)
    assert plans[promoted].status.phase is HEALTHY
    waiting = [plan for plan in plans[promoted:] if plan.wake_at is not None]
    assert waiting, "the previous revision should wait out scaleDownDelaySeconds"
    assert all(plan.status.phase is HEALTHY for plan in waiting)


def _basic_canary_at_the_end() -> Rollout:
    return canary_rollout(
        routed=False,
        replicas=4,
        steps=[{"setWeight": 50}],
        status={"currentPodHash": V2, "stableRS": V1, "currentStepIndex": 1},
    )


@pytest.mark.parametrize(
    ("old_pods", "phase"),
    [
        (2, PROGRESSING),  # the promotion pass: the old stable's pods are still terminating
        (0, HEALTHY),
    ],
)
def test_basic_canary_is_healthy_only_once_the_replaced_stable_has_no_pod_left(
    old_pods: int, phase: RolloutPhase
) -> None:
    """Without traffic routing the update itself replaces the old pods: they are its progress."""
    ro = _basic_canary_at_the_end()
    old_stable = replace(rs(V1, 0), pods=old_pods)
    plan = canary.decide(
        snapshot(
            ro,
            replica_sets=(old_stable, rs(V2, 4, revision=2)),
            services=(svc("web-stable", V1), svc("web-canary", V2)),
        )
    )
    assert plan.status.stable_rs == V2
    assert plan.status.phase is phase


def test_basic_canary_promotion_never_reports_healthy_before_the_old_pods_are_gone() -> None:
    ro = _basic_canary_at_the_end()
    terminating = replace(rs(V1, 0), pods=2)
    promotion = canary.decide(
        snapshot(
            ro,
            replica_sets=(terminating, rs(V2, 4, revision=2)),
            services=(svc("web-stable", V1), svc("web-canary", V2)),
        )
    )
    after = ro.model_copy(update={"status": promotion.status})
    still = canary.decide(
        snapshot(
            after,
            replica_sets=(terminating, rs(V2, 4, revision=2)),
            services=(svc("web-stable", V2), svc("web-canary", V2)),
        )
    )
    gone = canary.decide(
        snapshot(
            after.model_copy(update={"status": still.status}),
            replica_sets=(rs(V1, 0), rs(V2, 4, revision=2)),
            services=(svc("web-stable", V2), svc("web-canary", V2)),
        )
    )
    assert [p.status.phase for p in (promotion, still, gone)] == [PROGRESSING, PROGRESSING, HEALTHY]
