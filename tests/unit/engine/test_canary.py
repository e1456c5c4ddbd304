"""Canary scenarios: a snapshot and a moment in, the actions and status a user would notice out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rollouts.api.enums import PauseReason, RolloutPhase
from rollouts.engine import canary
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.plan import (
    AnnotateScaleDownDeadline,
    CreateReplicaSet,
    DeleteReplicaSet,
    RestartPod,
    ScaleReplicaSet,
    SetWeight,
    SwitchServiceSelector,
    TerminateAnalysisRun,
)
from rollouts.engine.replicas import weight_to_replicas
from rollouts.engine.snapshot import ObservedPod, Snapshot
from tests.unit.engine.scenario import (
    CANARY_AT_20,
    SERVICES_V1,
    SERVICES_V2,
    V1,
    V2,
    V3,
    apply,
    at,
    canary_rollout,
    kinds,
    mid,
    of_type,
    rs,
    snapshot,
    svc,
    with_spec,
)

# --- setWeight ------------------------------------------------------------------------------------


def test_new_revision_creates_canary_sized_for_first_weight_and_keeps_traffic_on_stable() -> None:
    ro = canary_rollout(status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 2})
    plan = canary.decide(
        snapshot(ro, replica_sets=(rs(V1, 10),), services=SERVICES_V1, router_canary_weight=0)
    )
    assert of_type(plan, CreateReplicaSet) == [
        CreateReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=2, revision=2)
    ]
    assert of_type(plan, SetWeight) == []
    assert plan.status.current_step_index == 0
    assert plan.status.phase is RolloutPhase.PROGRESSING


@pytest.mark.parametrize(
    ("canary_available", "router", "expected_weight_actions", "index_after"),
    [
        (0, 0, [], 0),  # canary pods not up: no traffic to them
        (1, 0, [], 0),  # partly up: still none
        (2, 0, [20], 0),  # fully available: weight 20 planned, step waits for the router to show it
        (2, 20, [], 1),  # router shows 20: the step completes
    ],
)
def test_set_weight_moves_traffic_only_onto_a_fully_available_canary(
    canary_available: int, router: int, expected_weight_actions: list[int], index_after: int
) -> None:
    ro = canary_rollout(status=mid(0))
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 10), rs(V2, 2, available=canary_available, revision=2)),
        services=SERVICES_V2 if canary_available == 2 else SERVICES_V1,
        router_canary_weight=router,
    )
    plan = canary.decide(snap)
    assert [a.canary_weight for a in of_type(plan, SetWeight)] == expected_weight_actions
    assert plan.status.current_step_index == index_after


@pytest.mark.parametrize(("canary_available", "expected_weight_actions"), [(1, []), (2, [10])])
def test_min_pods_per_replica_set_gives_a_small_weight_two_pods_before_any_traffic(
    canary_available: int, expected_weight_actions: list[int]
) -> None:
    ro = canary_rollout(steps=[{"setWeight": 10}, {"pause": {}}], minPodsPerReplicaSet=2, status=mid(0))
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 10), rs(V2, 1, available=1, revision=2)),
        services=SERVICES_V2,
        router_canary_weight=0,
    )
    plan = canary.decide(snap)
    assert ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=2, previous=1) in plan.actions
    assert of_type(plan, SetWeight) == []  # one pod of the two: no traffic yet
    grown = snapshot(
        ro,
        replica_sets=(rs(V1, 10), rs(V2, 2, available=canary_available, revision=2)),
        services=SERVICES_V2,
        router_canary_weight=0,
    )
    assert [a.canary_weight for a in of_type(canary.decide(grown), SetWeight)] == expected_weight_actions


def test_canary_service_switches_to_the_canary_before_weight_is_set() -> None:
    ro = canary_rollout(status=mid(0))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V1, router_canary_weight=0
    )
    plan = canary.decide(snap)
    assert kinds(plan) == ["SwitchServiceSelector", "SetWeight"]
    assert plan.actions[0] == SwitchServiceSelector(service="web-canary", pod_template_hash=V2)


def test_weight_held_while_canary_grows_for_the_next_step() -> None:
    ro = canary_rollout(steps=[{"setWeight": 20}, {"setWeight": 50}], status=mid(1))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V2, router_canary_weight=20
    )
    plan = canary.decide(snap)
    assert of_type(plan, ScaleReplicaSet)[0].replicas == 5
    assert of_type(plan, SetWeight) == []
    assert plan.status.canary is not None and plan.status.canary.weights is not None
    assert plan.status.canary.weights.canary.weight == 20


def test_set_canary_scale_sizes_canary_without_moving_traffic() -> None:
    steps = [{"setCanaryScale": {"replicas": 4}}, {"setWeight": 10}, {"pause": {}}]
    ro = canary_rollout(steps=steps, status=mid(0))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 0, revision=2)), services=SERVICES_V1, router_canary_weight=0
    )
    plan = canary.decide(snap)
    assert of_type(plan, ScaleReplicaSet)[0].replicas == 4
    assert of_type(plan, SetWeight) == []


@pytest.mark.parametrize(
    ("index", "canary_pods"),
    [
        (0, 4),  # setCanaryScale replicas: 4
        (1, 4),  # setWeight 10 keeps the explicit scale in force
        (2, 5),  # setCanaryScale weight: 50 -> half of 10 pods
        (3, 1),  # matchTrafficWeight: back to the 10% weight's size
        (4, 1),
    ],
)
def test_set_canary_scale_in_force_until_match_traffic_weight(index: int, canary_pods: int) -> None:
    steps = [
        {"setCanaryScale": {"replicas": 4}},
        {"setWeight": 10},
        {"setCanaryScale": {"weight": 50}},
        {"setCanaryScale": {"matchTrafficWeight": True}},
        {"pause": {}},
    ]
    ro = canary_rollout(steps=steps, status=mid(index))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 3, revision=2)), services=SERVICES_V2, router_canary_weight=0
    )
    plan = canary.decide(snap)
    assert of_type(plan, ScaleReplicaSet)[0].replicas == canary_pods
    assert plan.status.current_step_index == index  # the canary is not at its size yet


# --- pause ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "pause_start", "index_after", "paused", "wake"),
    [
        (0, None, 1, True, at(60)),  # reaching the pause: condition added, wake at its end
        (30, 0, 1, True, at(60)),
        (60, 0, 2, False, None),  # now == start + duration: the pause is over
        (90, 0, 2, False, None),
    ],
)
def test_pause_with_duration(
    now: float, pause_start: float | None, index_after: int, paused: bool, wake: Any
) -> None:
    status = mid(1)
    if pause_start is not None:
        status |= {
            "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": at(pause_start)}],
            "controllerPause": True,
        }
    ro = canary_rollout(
        steps=[{"setWeight": 20}, {"pause": {"duration": "1m"}}, {"setWeight": 50}], status=status
    )
    snap = snapshot(
        ro,
        now=at(now),
        **CANARY_AT_20,
    )
    plan = canary.decide(snap)
    assert plan.status.current_step_index == index_after
    assert (plan.status.phase is RolloutPhase.PAUSED) is paused
    if wake is not None:
        assert plan.wake_at == wake


def test_pause_without_duration_waits_for_promote() -> None:
    ro = canary_rollout(status=mid(1))
    base = dict(
        replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V2, router_canary_weight=20
    )
    paused = canary.decide(snapshot(ro, now=at(0), **base))
    assert paused.status.phase is RolloutPhase.PAUSED and paused.wake_at is None
    assert [p.reason for p in paused.status.pause_conditions or []] == [PauseReason.CANARY_PAUSE_STEP]
    still = canary.decide(snapshot(ro.model_copy(update={"status": paused.status}), now=at(3600), **base))
    assert still.status.current_step_index == 1
    promoted_status = paused.status.model_copy(update={"pause_conditions": None})
    promoted = canary.decide(
        snapshot(ro.model_copy(update={"status": promoted_status}), now=at(3601), **base)
    )
    assert promoted.status.current_step_index == 2
    assert not promoted.status.controller_pause


def test_spec_paused_holds_the_step() -> None:
    ro = with_spec(
        canary_rollout(steps=[{"setWeight": 20}, {"pause": {"duration": 10}}], status=mid(1)), paused=True
    )
    plan = canary.decide(
        snapshot(
            ro,
            **CANARY_AT_20,
        )
    )
    assert plan.status.current_step_index == 1 and plan.status.phase is RolloutPhase.PAUSED


# --- promotion, promote-full, scale-down of the old stable ----------------------------------------


def test_after_last_step_canary_goes_full_then_promotes_and_keeps_old_stable_for_the_delay() -> None:
    ro = canary_rollout(status=mid(2))
    growing = canary.decide(
        snapshot(
            ro,
            **CANARY_AT_20,
        )
    )
    assert of_type(growing, ScaleReplicaSet)[0].replicas == 10
    assert growing.status.stable_rs == V1
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 10, revision=2)), services=SERVICES_V2, router_canary_weight=100
    )
    done = canary.decide(snap)
    assert done.status.stable_rs == V2
    assert SwitchServiceSelector(service="web-stable", pod_template_hash=V2) in done.actions
    assert SetWeight(canary_weight=0, canary_hash=V2, stable_hash=V2) in done.actions
    assert AnnotateScaleDownDeadline(name=f"web-{V1}", deadline=at(30)) in done.actions
    assert not any(isinstance(a, ScaleReplicaSet) and a.replicas == 0 for a in done.actions)


@pytest.mark.parametrize(("now", "scaled"), [(29, False), (30, True)])
def test_old_stable_scaled_down_once_its_deadline_passes(now: float, scaled: bool) -> None:
    ro = canary_rollout(status={"currentPodHash": V2, "stableRS": V2, "currentStepIndex": 2})
    snap = snapshot(
        ro,
        now=at(now),
        replica_sets=(rs(V1, 10, deadline=at(30)), rs(V2, 10, revision=2)),
        services=(svc("web-stable", V2), svc("web-canary", V2)),
        router_canary_weight=0,
    )
    plan = canary.decide(snap)
    assert (
        ScaleReplicaSet(name=f"web-{V1}", pod_template_hash=V1, replicas=0, previous=10) in plan.actions
    ) is scaled
    # The previous stable waiting out scaleDownDelaySeconds takes no traffic: Healthy throughout.
    assert plan.status.phase is RolloutPhase.HEALTHY
    if not scaled:
        assert plan.wake_at == at(30)


def test_scale_down_delay_revision_limit_scales_down_the_oldest_waiting_stables_now() -> None:
    # Two previous stables inside their delay; a limit of 1 keeps the newer one until its deadline.
    ro = canary_rollout(
        status={"currentPodHash": V2, "stableRS": V2, "currentStepIndex": 2}, scaleDownDelayRevisionLimit=1
    )
    snap = snapshot(
        ro,
        now=at(10),
        replica_sets=(
            rs("v0", 10, deadline=at(30)),
            rs("v1", 10, revision=2, deadline=at(31)),
            rs(V2, 10, revision=3),
        ),
        services=(svc("web-stable", V2), svc("web-canary", V2)),
        router_canary_weight=0,
    )
    plan = canary.decide(snap)
    assert [a.name for a in of_type(plan, ScaleReplicaSet) if a.replicas == 0] == ["web-v0"]
    assert plan.wake_at == at(31)


def test_promote_full_skips_remaining_steps() -> None:
    ro = canary_rollout(
        steps=[{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}], status=mid(1, promoteFull=True)
    )
    plan = canary.decide(
        snapshot(
            ro,
            **CANARY_AT_20,
        )
    )
    assert plan.status.current_step_index == 3
    assert of_type(plan, ScaleReplicaSet)[0].replicas == 10
    assert plan.status.phase is RolloutPhase.PROGRESSING


def test_first_deploy_is_stable_at_once() -> None:
    ro = canary_rollout(image="web:1", status=None)
    plan = canary.decide(snapshot(ro))
    assert of_type(plan, CreateReplicaSet)[0].replicas == 10
    assert plan.status.stable_rs == V1 and plan.status.current_step_index == 2


# --- basic canary, history, restart ---------------------------------------------------------------


def test_basic_canary_approximates_weight_with_pods() -> None:
    ro = canary_rollout(
        routed=False, steps=[{"setWeight": 20}, {"pause": {}}], status=mid(0), maxSurge=1, maxUnavailable=0
    )
    snap = snapshot(ro, replica_sets=(rs(V1, 10), rs(V2, 0, revision=2)), services=SERVICES_V1)
    plans = []
    for _ in range(8):
        plan = canary.decide(snap)
        plans.append(plan)
        snap = apply(snap, plan)
    sizes = {r.pod_template_hash: r.replicas for r in snap.replica_sets}
    assert sizes == {V1: 8, V2: 2}
    assert snap.rollout.status is not None and snap.rollout.status.current_step_index == 1
    assert all(of_type(p, SetWeight) == [] for p in plans)


def test_revision_history_limit_deletes_oldest_empty_replica_sets() -> None:
    ro = with_spec(
        canary_rollout(status={"currentPodHash": V2, "stableRS": V2, "currentStepIndex": 2}),
        revision_history_limit=1,
    )
    old = (rs("old1", 0, revision=1), rs("old2", 0, revision=2), rs(V1, 0, revision=3))
    snap = snapshot(
        ro,
        replica_sets=(*old, rs(V2, 10, revision=4)),
        services=(svc("web-stable", V2), svc("web-canary", V2)),
        router_canary_weight=0,
    )
    plan = canary.decide(snap)
    assert of_type(plan, DeleteReplicaSet) == [
        DeleteReplicaSet(name="web-old1"),
        DeleteReplicaSet(name="web-old2"),
    ]


def test_restart_at_restarts_old_pods_a_few_at_a_time() -> None:
    ro = with_spec(
        canary_rollout(
            status={"currentPodHash": V2, "stableRS": V2, "currentStepIndex": 2}, replicas=4, maxUnavailable=1
        ),
        restart_at=at(0),
    )
    pods = tuple(ObservedPod(name=f"p{i}", pod_template_hash=V2, created=at(-100 + i)) for i in range(4))
    snap = snapshot(
        ro,
        now=at(10),
        replica_sets=(rs(V2, 4, revision=2),),
        services=(svc("web-stable", V2), svc("web-canary", V2)),
        router_canary_weight=0,
        pods=pods,
    )
    plan = canary.decide(snap)
    assert of_type(plan, RestartPod) == [RestartPod(name="p0", pod_template_hash=V2)]
    assert plan.status.restarted_at is None
    fresh = tuple(ObservedPod(name=f"q{i}", pod_template_hash=V2, created=at(5)) for i in range(4))
    done = canary.decide(
        snapshot(
            ro,
            now=at(10),
            replica_sets=snap.replica_sets,
            services=snap.services,
            router_canary_weight=0,
            pods=fresh,
        )
    )
    assert of_type(done, RestartPod) == [] and done.status.restarted_at == at(0)


@pytest.mark.parametrize(
    "replacement",
    [
        (ObservedPod(name="q0", pod_template_hash=V2, created=at(5), ready=False),),
        (),  # the deleted pod has left the cache before its replacement arrived
    ],
    ids=["replacement-not-ready", "replacement-not-seen"],
)
def test_restart_at_waits_for_the_replacement_even_when_the_replica_set_status_lags(
    replacement: tuple[ObservedPod, ...],
) -> None:
    """Seen on the real control plane: one pass after the first restart, the ReplicaSet's status
    still counted 4 available, and a second pod was restarted before the first replacement was
    Ready (2 of 4 serving with maxUnavailable 1)."""
    ro = with_spec(
        canary_rollout(
            status={"currentPodHash": V2, "stableRS": V2, "currentStepIndex": 2}, replicas=4, maxUnavailable=1
        ),
        restart_at=at(0),
    )
    old = tuple(ObservedPod(name=f"p{i}", pod_template_hash=V2, created=at(-100 + i)) for i in range(1, 4))
    plan = canary.decide(
        snapshot(
            ro,
            now=at(10),
            replica_sets=(rs(V2, 4, revision=2),),
            services=(svc("web-stable", V2), svc("web-canary", V2)),
            router_canary_weight=0,
            pods=old + replacement,
        )
    )
    assert of_type(plan, RestartPod) == []
    assert plan.status.restarted_at is None


def test_full_canary_run_to_healthy() -> None:
    ro = canary_rollout(
        steps=[{"setWeight": 20}, {"pause": {"duration": 5}}, {"setWeight": 60}],
        status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 3},
    )
    snap = snapshot(ro, replica_sets=(rs(V1, 10),), services=SERVICES_V1, router_canary_weight=0)
    for _ in range(20):
        plan = canary.decide(snap)
        snap = apply(
            snap,
            plan,
            after=max(
                1.0, (plan.requeue_after.total_seconds() if plan.requeue_after and not plan.actions else 1.0)
            ),
        )
    assert snap.rollout.status is not None
    assert snap.rollout.status.phase is RolloutPhase.HEALTHY
    assert snap.rollout.status.stable_rs == V2
    assert {r.pod_template_hash: r.replicas for r in snap.replica_sets} == {V1: 0, V2: 10}
    assert of_type(plan, TerminateAnalysisRun) == []


def test_min_pods_per_replica_set_needs_a_router() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="minPodsPerReplicaSet needs trafficRouting"):
        canary_rollout(routed=False, minPodsPerReplicaSet=2)


# --- dynamicStableScale ---------------------------------------------------------------------------


def _settled(snap: Snapshot) -> Snapshot:
    """The same cluster once every pod of every ReplicaSet is available."""
    sets = tuple(
        replace(r, ready=r.replicas, available=r.replicas, pods=r.replicas) for r in snap.replica_sets
    )
    return replace(snap, replica_sets=sets)


def _serving(snap: Snapshot) -> tuple[int, int, int]:
    """(canary weight, available pods behind the stable Service, and behind the canary Service)."""
    available = {r.pod_template_hash: r.available for r in snap.replica_sets}
    selects = {s.name: s.selector.get(POD_TEMPLATE_HASH_LABEL) for s in snap.services}
    behind = {name: available.get(pod_hash or "", 0) for name, pod_hash in selects.items()}
    return snap.router_canary_weight or 0, behind["web-stable"], behind["web-canary"]


def _drive(snap: Snapshot, passes: int, *, abort_at_weight: int | None = None) -> tuple[Snapshot, int]:
    """Run passes where new pods become available only on the pass after they were asked for, and
    check after every pass that each revision has the available pods for the traffic it is shown
    to serve. Returns the last snapshot and the most pods that ever ran at once."""
    peak = 0
    for _ in range(passes):
        if abort_at_weight is not None and (snap.router_canary_weight or 0) == abort_at_weight:
            status = snap.rollout.status
            assert status is not None
            snap = replace(
                snap,
                rollout=snap.rollout.model_copy(update={"status": status.model_copy(update={"abort": True})}),
            )
            abort_at_weight = None
        plan = canary.decide(snap)
        snap = apply(snap, plan, after=1.0, ready=False)
        weight, stable, canary_pods = _serving(snap)
        assert stable >= weight_to_replicas(replicas=10, weight=100 - weight), (weight, stable)
        assert canary_pods >= weight_to_replicas(replicas=10, weight=weight), (weight, canary_pods)
        peak = max(peak, sum(r.replicas for r in snap.replica_sets))
        snap = _settled(snap)
    return snap, peak


@pytest.mark.parametrize(("dynamic", "expected_peak"), [(True, 13), (False, 20)])
def test_dynamic_stable_scale_runs_the_update_with_fewer_pods_and_never_short_of_pods_for_traffic(
    dynamic: bool, expected_peak: int
) -> None:
    ro = canary_rollout(
        steps=[{"setWeight": 20}, {"setWeight": 50}, {"setWeight": 80}],
        dynamicStableScale=dynamic,
        scaleDownDelaySeconds=0,
        status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 3},
    )
    start = snapshot(ro, replica_sets=(rs(V1, 10),), services=SERVICES_V1, router_canary_weight=0)
    end, peak = _drive(start, 40)
    assert end.rollout.status is not None and end.rollout.status.phase is RolloutPhase.HEALTHY
    assert {r.pod_template_hash: r.replicas for r in end.replica_sets} == {V1: 0, V2: 10}
    assert peak == expected_peak


def test_dynamic_stable_scale_stable_shrinks_only_after_the_router_shows_the_weight() -> None:
    ro = canary_rollout(steps=[{"setWeight": 40}, {"pause": {}}], dynamicStableScale=True, status=mid(0))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 4, revision=2)), services=SERVICES_V2, router_canary_weight=0
    )
    plan = canary.decide(snap)
    assert [a.canary_weight for a in of_type(plan, SetWeight)] == [40]
    assert of_type(plan, ScaleReplicaSet) == []  # the router has not moved the traffic yet
    shown = canary.decide(replace(snap, router_canary_weight=40))
    assert of_type(shown, ScaleReplicaSet) == [
        ScaleReplicaSet(name=f"web-{V1}", pod_template_hash=V1, replicas=6, previous=10)
    ]
    assert shown.status.current_step_index == 0  # the step completes once the stable has shrunk


def test_dynamic_stable_scale_abort_moves_traffic_back_as_the_stable_grows_and_shrinks_the_canary() -> None:
    ro = canary_rollout(
        steps=[{"setWeight": 60}, {"pause": {}}], dynamicStableScale=True, status=mid(1, abort=True)
    )
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 4), rs(V2, 6, revision=2)),
        services=SERVICES_V2,
        router_canary_weight=60,
    )
    plan = canary.decide(snap)
    assert ScaleReplicaSet(name=f"web-{V1}", pod_template_hash=V1, replicas=10, previous=4) in plan.actions
    assert of_type(plan, SetWeight) == []  # 4 stable pods serve 40% and no more
    growing = replace(snap, replica_sets=(rs(V1, 10, available=7), rs(V2, 6, revision=2)))
    plan = canary.decide(growing)
    assert [a.canary_weight for a in of_type(plan, SetWeight)] == [30]
    assert of_type(plan, ScaleReplicaSet) == []  # the canary keeps its pods until the router shows 30
    shown = canary.decide(replace(growing, router_canary_weight=30))
    assert ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=3, previous=6) in shown.actions


def test_dynamic_stable_scale_abort_never_short_of_pods_and_ends_on_the_stable() -> None:
    ro = canary_rollout(
        steps=[{"setWeight": 30}, {"setWeight": 70}, {"pause": {}}],
        dynamicStableScale=True,
        status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 3},
    )
    start = snapshot(ro, replica_sets=(rs(V1, 10),), services=SERVICES_V1, router_canary_weight=0)
    end, _ = _drive(start, 40, abort_at_weight=70)
    assert end.rollout.status is not None and end.rollout.status.phase is RolloutPhase.DEGRADED
    assert end.router_canary_weight == 0
    assert {r.pod_template_hash: r.replicas for r in end.replica_sets} == {V1: 10, V2: 0}


def test_dynamic_stable_scale_needs_a_router() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="dynamicStableScale needs trafficRouting"):
        canary_rollout(routed=False, dynamicStableScale=True)


# --- rollbackWindow -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "skips"),
    [(None, False), (0, False), (1, False), (2, True)],  # V1 is the second revision before stable V3
)
def test_rollback_within_the_window_skips_the_steps(window: int | None, skips: bool) -> None:
    from rollouts.api.rollout import RollbackWindow

    ro = canary_rollout(image="web:1", status={"currentPodHash": V3, "stableRS": V3, "currentStepIndex": 2})
    if window is not None:
        ro = with_spec(ro, rollback_window=RollbackWindow(revisions=window))
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 0, revision=1), rs(V2, 0, revision=2), rs(V3, 10, revision=3)),
        services=(svc("web-stable", V3), svc("web-canary", V3)),
        router_canary_weight=0,
    )
    plan = canary.decide(snap)
    assert plan.status.promote_full is (True if skips else None)
    assert plan.status.current_step_index == (2 if skips else 0)
    assert ("RollbackWithinWindow" in [e.reason for e in plan.events]) is skips
    assert ScaleReplicaSet(
        name=f"web-{V1}", pod_template_hash=V1, replicas=10 if skips else 2, previous=0
    ) in (plan.actions)


# --- replicaProgressThreshold -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "available", "weights", "index_after"),
    [
        (None, 3, [], 0),  # every pod of the 4 must be available
        ({"type": "Percent", "value": 75}, 2, [], 0),  # 3 of 4 needed
        ({"type": "Percent", "value": 75}, 3, [40], 0),  # reached: the weight is set
        ({"type": "Pod", "value": 2}, 2, [40], 0),
    ],
)
def test_replica_progress_threshold_reaches_a_step_before_the_last_canary_pods(
    threshold: dict[str, Any] | None, available: int, weights: list[int], index_after: int
) -> None:
    extra = {} if threshold is None else {"replicaProgressThreshold": threshold}
    ro = canary_rollout(steps=[{"setWeight": 40}, {"pause": {}}], status=mid(0), **extra)
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 10), rs(V2, 4, available=available, revision=2)),
        services=SERVICES_V2,
        router_canary_weight=0,
    )
    plan = canary.decide(snap)
    assert [a.canary_weight for a in of_type(plan, SetWeight)] == weights
    assert plan.status.current_step_index == index_after
    if weights:  # the router shows the weight: the step is done with the pods available so far
        shown = canary.decide(replace(snap, router_canary_weight=weights[0]))
        assert shown.status.current_step_index == 1


def test_replica_progress_threshold_percent_is_at_most_100() -> None:
    with pytest.raises(ValueError, match="value is 120% but a percent is at most 100"):
        canary_rollout(replicaProgressThreshold={"type": "Percent", "value": 120})


# --- antiAffinity ---------------------------------------------------------------------------------


def test_anti_affinity_sends_the_canary_away_from_stable_pods_and_is_dropped_once_stable() -> None:
    from rollouts.engine.plan import InjectedAntiAffinity, RemoveAntiAffinity

    preferred = {"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 50}}
    ro = canary_rollout(
        antiAffinity=preferred, status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 2}
    )
    plan = canary.decide(
        snapshot(ro, replica_sets=(rs(V1, 10),), services=SERVICES_V1, router_canary_weight=0)
    )
    (created,) = of_type(plan, CreateReplicaSet)
    assert created.anti_affinity == InjectedAntiAffinity(stable_hash=V1, weight=50)
    first = canary.decide(snapshot(canary_rollout(antiAffinity=preferred), replica_sets=()))
    assert of_type(first, CreateReplicaSet)[0].anti_affinity is None  # nothing to keep away from
    stable_v2 = {"currentPodHash": V2, "stableRS": V2, "currentStepIndex": 2}
    promoted = replace(rs(V2, 10, revision=2), anti_affinity_to=V1)
    later = canary.decide(
        snapshot(
            canary_rollout(antiAffinity=preferred, status=stable_v2),
            replica_sets=(rs(V1, 0), promoted),
            services=(svc("web-stable", V2), svc("web-canary", V2)),
            router_canary_weight=0,
        )
    )
    assert RemoveAntiAffinity(name=f"web-{V2}") in later.actions


# --- canaryMetadata / stableMetadata ------------------------------------------------------------


def test_side_metadata_goes_on_each_side_and_moves_with_the_promotion() -> None:
    from rollouts.engine.context import pod_metadata_key
    from rollouts.engine.plan import SetPodMetadata

    sides = {
        "canaryMetadata": {"labels": {"role": "canary"}},
        "stableMetadata": {"labels": {"role": "stable"}},
    }
    canary_key, stable_key = '{"labels":{"role":"canary"}}', '{"labels":{"role":"stable"}}'
    ro = canary_rollout(status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 2}, **sides)
    stable = replace(rs(V1, 10), pod_metadata=stable_key)
    plan = canary.decide(snapshot(ro, replica_sets=(stable,), services=SERVICES_V1, router_canary_weight=0))
    (created,) = of_type(plan, CreateReplicaSet)
    assert created.pod_metadata == canary_key and of_type(plan, SetPodMetadata) == []
    # A stable created before the field was set gets it; once V2 is stable, it trades sides in place.
    bare = canary.decide(
        snapshot(ro, replica_sets=(rs(V1, 10),), services=SERVICES_V1, router_canary_weight=0)
    )
    assert (
        SetPodMetadata(name=f"web-{V1}", pod_template_hash=V1, wanted=stable_key, previous=None)
        in bare.actions
    )
    promoted = canary.decide(
        snapshot(
            canary_rollout(status={"currentPodHash": V2, "stableRS": V2, "currentStepIndex": 2}, **sides),
            replica_sets=(
                replace(rs(V1, 0), pod_metadata=stable_key),
                replace(rs(V2, 10, revision=2), pod_metadata=canary_key),
            ),
            services=(svc("web-stable", V2), svc("web-canary", V2)),
            router_canary_weight=0,
        )
    )
    assert of_type(promoted, SetPodMetadata) == [
        SetPodMetadata(name=f"web-{V2}", pod_template_hash=V2, wanted=stable_key, previous=canary_key)
    ]
    assert pod_metadata_key(None) is None


def test_max_traffic_weight_sizes_and_routes_a_half_percent_step() -> None:
    # maxTrafficWeight 1000: setWeight 5 is 0.5%. One canary pod of 100, weight 5 written,
    # the status and the Event count out of 1000; once every step is done the weight is 1000.
    steps = [{"setWeight": 5}, {"pause": {}}, {"setWeight": 500}]
    routing = {"nginx": {"stableIngress": "web"}, "maxTrafficWeight": 1000}
    ro = canary_rollout(replicas=100, steps=steps, trafficRouting=routing, status=mid(0))
    growing = canary.decide(
        snapshot(ro, replica_sets=(rs(V1, 100), rs(V2, 0, revision=2)), services=SERVICES_V1)
    )
    assert ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=1, previous=0) in growing.actions
    ready = snapshot(
        ro, replica_sets=(rs(V1, 100), rs(V2, 1, revision=2)), services=SERVICES_V2, router_canary_weight=0
    )
    plan = canary.decide(ready)
    assert [a.canary_weight for a in of_type(plan, SetWeight)] == [5]
    assert any(e.message == "Canary weight set to 5/1000 = 0.5% (stable 995/1000)" for e in plan.events)
    weights = plan.status.canary.weights if plan.status.canary else None
    assert weights is not None and (weights.canary.weight, weights.stable.weight) == (5, 995)
    shown = canary.decide(replace(ready, router_canary_weight=5))
    assert shown.status.current_step_index == 1


def test_a_step_that_completes_with_nothing_to_change_goes_on_to_the_next_in_the_same_pass() -> None:
    """Fewer writes per step (issue 15): a pause that ends and the setWeight after it are one pass
    with one status write and one router write; the weight read back and the next pause, one more
    pass with one status write."""
    ro = canary_rollout(
        replicas=1,
        steps=[{"setWeight": 20}, {"pause": {"duration": 2}}, {"setWeight": 50}, {"pause": {"duration": 2}}],
        status=mid(1, pauseConditions=[{"reason": "CanaryPauseStep", "startTime": at(0).isoformat()}]),
    )
    snap = snapshot(ro, now=at(3), replica_sets=(rs(V1, 1), rs(V2, 1, revision=2)), services=SERVICES_V2)
    snap = replace(snap, router_canary_weight=20)
    first = canary.decide(snap)
    assert first.status.current_step_index == 2 and of_type(first, SetWeight) == [
        SetWeight(canary_weight=50, canary_hash=V2, stable_hash=V1)
    ]
    assert [e.reason for e in first.events] == ["RolloutStepCompleted", "TrafficWeightUpdated"]
    second = canary.decide(apply(snap, first, after=0.1))
    assert second.actions == () and second.status.current_step_index == 3
    assert [p.reason for p in second.status.pause_conditions or []] == [PauseReason.CANARY_PAUSE_STEP]
    third = canary.decide(apply(apply(snap, first, after=0.1), second, after=0.1))
    assert third.actions == () and third.status == second.status
