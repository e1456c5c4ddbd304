"""No Service of a Rollout ever selects a revision that has no available pod.

Walks whole updates pass by pass on an obedient simulated cluster and checks the Services at two
moments of every pass: right after the plan is applied (new pods not ready yet) and once the pods
became ready. This is what the integration test's TrafficWatch samples on the real cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from rollouts.engine import decide_bluegreen, decide_canary
from rollouts.engine.plan import Plan, ScaleReplicaSet, SwitchServiceSelector
from rollouts.engine.replicas import closest_canary_split, resolve_surge_and_unavailable
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

STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"pause": {"duration": "2s"}},
    {"setWeight": 50},
    {"pause": {"duration": "2s"}},
    {"setWeight": 75},
    {"pause": {"duration": "2s"}},
]
LIMITS = [
    pytest.param("25%", "25%", id="surge25%-unavailable25%"),
    pytest.param(0, 1, id="surge0-unavailable1"),
    pytest.param(1, 0, id="surge1-unavailable0"),
]


def empty_selections(snap: Snapshot) -> list[str]:
    """Services whose pod-template-hash selector picks a revision without an available pod."""
    available = {r.pod_template_hash: r.available for r in snap.replica_sets}
    return [
        f"{s.name} -> {s.pod_template_hash} ({available.get(s.pod_template_hash, 'no ReplicaSet')})"
        for s in snap.services
        if s.pod_template_hash is not None and available.get(s.pod_template_hash, 0) == 0
    ]


def ripen(snap: Snapshot, *, pods: int = 1_000) -> Snapshot:
    """The kubelet's turn: up to ``pods`` more pods of each ReplicaSet become available."""
    sets = tuple(
        replace(r, ready=a, available=a, pods=r.replicas)
        for r in snap.replica_sets
        for a in [min(r.replicas, r.available + pods)]
    )
    return replace(snap, replica_sets=sets)


def walk(
    snap: Snapshot,
    *,
    passes: int = 80,
    readiness: list[int] | None = None,
    decide: Callable[[Snapshot], Plan] = decide_canary,
) -> tuple[Snapshot, list[Plan]]:
    """Run ``passes`` passes; assert the Services after each plan and after the pods' turn.

    ``readiness`` cycles through how many more pods of each ReplicaSet get ready per pass.
    """
    plans: list[Plan] = []
    for index in range(passes):
        plan = decide(snap)
        plans.append(plan)
        snap = apply(snap, plan, ready=False)
        assert not empty_selections(snap), f"pass {index}, before pods are ready: {empty_selections(snap)}"
        snap = ripen(snap, pods=1_000 if readiness is None else readiness[index % len(readiness)])
        assert not empty_selections(snap), f"pass {index}, pods ready: {empty_selections(snap)}"
    return snap, plans


def sizes(snap: Snapshot) -> dict[str, int]:
    return {r.pod_template_hash: r.replicas for r in snap.replica_sets}


def basic_canary_from_v1(
    *, replicas: int, surge: int | str, unavailable: int | str, **extra: Any
) -> Snapshot:
    ro = canary_rollout(
        routed=False,
        replicas=replicas,
        steps=extra.pop("steps", STEPS),
        status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 6},
        maxSurge=surge,
        maxUnavailable=unavailable,
        **extra,
    )
    return snapshot(
        ro, replica_sets=(rs(V1, replicas),), services=(svc("web-stable", V1), svc("web-canary", V1))
    )


# --- basic canary through promotion ---------------------------------------------------------------


SIZES_AND_LIMITS = [
    pytest.param(replicas, *limits.values, id=f"{replicas}-{limits.id}")
    for replicas in (1, 2, 4, 10)
    for limits in LIMITS
    # One pod without surge room has no order that keeps a pod: tested on its own below.
    if not (replicas == 1 and limits.values[0] == 0)
]


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), SIZES_AND_LIMITS)
def test_basic_canary_promotion_never_leaves_a_service_on_a_revision_without_pods(
    replicas: int, surge: int | str, unavailable: int | str
) -> None:
    end, plans = walk(basic_canary_from_v1(replicas=replicas, surge=surge, unavailable=unavailable))
    assert sizes(end) == {V1: 0, V2: replicas}
    assert end.rollout.status is not None and end.rollout.status.stable_rs == V2
    assert {s.name: s.pod_template_hash for s in end.services} == {"web-stable": V2, "web-canary": V2}
    switch = next(
        i
        for i, p in enumerate(plans)
        if SwitchServiceSelector(service="web-stable", pod_template_hash=V2) in p.actions
    )
    shrunk_to_zero = next(
        i
        for i, p in enumerate(plans)
        for a in p.actions
        if isinstance(a, ScaleReplicaSet) and a.pod_template_hash == V1 and a.replicas == 0
    )
    assert switch <= shrunk_to_zero, "the stable Service moves before the old stable loses its last pod"


@pytest.mark.parametrize(("surge", "unavailable"), LIMITS)
@pytest.mark.parametrize("replicas", [2, 4, 10])
def test_basic_canary_steps_keep_argo_pod_counts(
    replicas: int, surge: int | str, unavailable: int | str
) -> None:
    """The one-stable-pod rule is for weight 100 only: every step below it keeps Argo's split."""
    snap = basic_canary_from_v1(replicas=replicas, surge=surge, unavailable=unavailable)
    resolved_surge, _ = resolve_surge_and_unavailable(
        replicas=replicas, max_surge=surge, max_unavailable=unavailable
    )
    seen: dict[int, dict[str, int]] = {}
    for _ in range(80):
        plan = decide_canary(snap)
        snap = ripen(apply(snap, plan, ready=False))
        index = snap.rollout.status.current_step_index if snap.rollout.status else None
        if index in (1, 3, 5):  # a pause right after setWeight 25/50/75: the counts were reached
            seen.setdefault(index, sizes(snap))
    for index, weight in ((1, 25), (3, 50), (5, 75)):
        want = closest_canary_split(replicas=replicas, weight=weight, max_surge=resolved_surge)
        assert seen[index] == {V1: want.stable, V2: want.canary}, f"setWeight {weight}"


def test_basic_canary_without_surge_promotes_beside_the_last_stable_pod() -> None:
    """maxSurge 0: the canary waits at replicas - 1 beside one stable pod, is promoted, then grows."""
    snap = basic_canary_from_v1(replicas=4, surge=0, unavailable=1, steps=[{"setWeight": 50}])
    states = []
    for _ in range(20):
        plan = decide_canary(snap)
        snap = ripen(apply(snap, plan, ready=False))
        assert snap.rollout.status is not None
        states.append((sizes(snap)[V1], sizes(snap)[V2], snap.rollout.status.stable_rs == V2))
    assert (1, 3, False) in states and (0, 3, True) in states and states[-1] == (0, 4, True)
    assert all(total <= 4 for v1, v2, _ in states for total in [v1 + v2])


def test_one_pod_without_surge_switches_services_on_the_first_pass_that_sees_the_new_pod() -> None:
    """replicas 1, maxSurge 0: no order keeps a pod (maxUnavailable is 100%), so the Services select
    the old, empty revision from the moment its only pod goes; the first pass that sees the
    replacement ready switches them."""
    snap = basic_canary_from_v1(replicas=1, surge=0, unavailable=1, steps=[{"setWeight": 25}])
    for _ in range(20):
        plan = decide_canary(snap)
        if empty_selections(snap) and any(r.available for r in snap.replica_sets):
            switched = {a.service for a in plan.actions if isinstance(a, SwitchServiceSelector)}
            assert switched == {s.name for s in snap.services if s.pod_template_hash == V1}
        snap = ripen(apply(snap, plan, ready=False))
    assert sizes(snap) == {V1: 0, V2: 1}
    assert {s.pod_template_hash for s in snap.services} == {V2}


def test_a_set_weight_100_step_keeps_one_stable_pod_for_the_stable_service() -> None:
    steps = [{"setWeight": 100}, {"pause": {}}]
    snap = basic_canary_from_v1(replicas=4, surge=1, unavailable=1, steps=steps)
    end, _ = walk(snap, passes=20)
    assert end.rollout.status is not None and end.rollout.status.current_step_index == 1
    assert sizes(end) == {V1: 1, V2: 4}
    assert {s.name: s.pod_template_hash for s in end.services} == {"web-stable": V1, "web-canary": V2}


# --- aborts ---------------------------------------------------------------------------------------


def aborted(snap: Snapshot) -> Snapshot:
    status = snap.rollout.status
    assert status is not None
    ro = snap.rollout.model_copy(update={"status": status.model_copy(update={"abort": True})})
    return replace(snap, rollout=ro)


@pytest.mark.parametrize(("surge", "unavailable"), LIMITS)
@pytest.mark.parametrize(("replicas", "passes_before_abort"), [(2, 3), (4, 3), (4, 12), (10, 6), (10, 25)])
def test_basic_canary_abort_moves_both_services_back_before_the_canary_loses_its_pods(
    replicas: int, passes_before_abort: int, surge: int | str, unavailable: int | str
) -> None:
    snap = basic_canary_from_v1(
        replicas=replicas,
        surge=surge,
        unavailable=unavailable,
        steps=[
            {"setWeight": 50},
            {"pause": {}},
            {"setWeight": 100},
            {"pause": {}},
        ],
    )
    snap, _ = walk(snap, passes=passes_before_abort)
    end, _ = walk(aborted(snap), passes=30)
    assert sizes(end) == {V1: replicas, V2: 0}
    assert {s.name: s.pod_template_hash for s in end.services} == {"web-stable": V1, "web-canary": V1}


@pytest.mark.parametrize("delay", [None, 0])
def test_traffic_routed_abort_moves_the_canary_service_to_stable_before_scaling_down(
    delay: int | None,
) -> None:
    extra = {} if delay is None else {"abortScaleDownDelaySeconds": delay}
    ro = canary_rollout(
        replicas=4,
        status={"currentPodHash": V2, "stableRS": V1, "currentStepIndex": 1, "abort": True},
        **extra,
    )
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 4), rs(V2, 1, revision=2)),
        services=(svc("web-stable", V1), svc("web-canary", V2)),
        router_canary_weight=20,
    )
    end, _ = walk(snap, passes=40, decide=decide_canary)
    if delay == 0:  # 0 keeps the canary, and its Service with it
        assert sizes(end) == {V1: 4, V2: 1}
    else:
        assert sizes(end) == {V1: 4, V2: 0}
        assert {s.name: s.pod_template_hash for s in end.services} == {"web-stable": V1, "web-canary": V1}


def test_bluegreen_abort_moves_the_preview_service_to_stable_before_scaling_the_new_revision_down() -> None:
    status = {"currentPodHash": V2, "stableRS": V1, "abort": True, "blueGreen": {"activeSelector": V1}}
    ro = bluegreen_rollout(status=status, abortScaleDownDelaySeconds=5)
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 3), rs(V2, 3, revision=2)),
        services=(svc("web-active", V1), svc("web-preview", V2)),
    )
    end, plans = walk(snap, passes=15, decide=decide_bluegreen)
    assert sizes(end) == {V1: 3, V2: 0}
    assert {s.name: s.pod_template_hash for s in end.services} == {"web-active": V1, "web-preview": V1}
    both = next(
        p for p in plans if SwitchServiceSelector(service="web-preview", pod_template_hash=V1) in p.actions
    )
    assert both.actions.index(
        SwitchServiceSelector(service="web-preview", pod_template_hash=V1)
    ) < both.actions.index(ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=0, previous=3))


def test_bluegreen_update_and_promotion_never_leave_a_service_without_pods() -> None:
    status = {"currentPodHash": V1, "stableRS": V1, "blueGreen": {"activeSelector": V1}}
    ro = bluegreen_rollout(status=status, previewReplicaCount=1, scaleDownDelaySeconds=3)
    snap = snapshot(ro, replica_sets=(rs(V1, 3),), services=(svc("web-active", V1), svc("web-preview", V1)))
    end, _ = walk(snap, passes=20, decide=decide_bluegreen, readiness=[0, 1, 2])
    assert sizes(end) == {V1: 0, V2: 3}
    assert {s.pod_template_hash for s in end.services} == {V2}


# --- property -------------------------------------------------------------------------------------


def _settled(snap: Snapshot, replicas: int) -> bool:
    """Promoted with the old revision gone, or aborted with the canary gone."""
    status = snap.rollout.status
    if status is not None and status.stable_rs == V2:
        return sizes(snap) == {V1: 0, V2: replicas}
    return bool(status and status.abort) and sizes(snap) == {V1: replicas, V2: 0}


limit = st.one_of(st.integers(0, 3), st.sampled_from(["0%", "10%", "25%", "50%"]))
step = st.one_of(
    st.builds(lambda w: {"setWeight": w}, st.integers(0, 100)),
    st.just({"pause": {"duration": "1s"}}),
)


@given(
    replicas=st.integers(1, 12),
    surge=limit,
    unavailable=st.one_of(
        st.integers(1, 3), st.sampled_from(["10%", "25%", "50%"])
    ),  # the API rejects 0 and 0
    steps=st.lists(step, min_size=1, max_size=5),
    readiness=st.lists(st.integers(0, 3), min_size=1, max_size=8).map(lambda ready: [*ready, 1]),
    abort_at=st.one_of(st.none(), st.integers(0, 30)),
)
@example(  # a slow one: 12 pods moved one at a time, each ready only every fourth pass
    replicas=12,
    surge=0,
    unavailable=1,
    steps=[{"setWeight": 46}, {"setWeight": 0}],
    readiness=[0, 0, 0, 1],
    abort_at=None,
)
@settings(max_examples=120, deadline=None)
def test_no_service_ever_selects_a_revision_without_pods(
    replicas: int,
    surge: int | str,
    unavailable: int | str,
    steps: list[dict[str, Any]],
    readiness: list[int],
    abort_at: int | None,
) -> None:
    """Random sizes, limits, steps, pod readiness and an abort at a random pass: at no moment does a
    Service select a revision without an available pod, and the update always finishes."""
    resolved_surge, _ = resolve_surge_and_unavailable(
        replicas=replicas, max_surge=surge, max_unavailable=unavailable
    )
    assume(not (replicas == 1 and resolved_surge == 0))  # no order can keep a pod (test above)
    snap = basic_canary_from_v1(replicas=replicas, surge=surge, unavailable=unavailable, steps=steps)
    if abort_at is not None:
        snap, _ = walk(snap, passes=abort_at, readiness=readiness)
        snap = aborted(snap)
    # Slow readiness with a surge of 0 moves one pod per few passes: walk until the update settles
    # (bounded), so a long but finite rollout is not mistaken for a stuck one.
    for _ in range(40):
        snap, _ = walk(snap, passes=30, readiness=readiness)
        if _settled(snap, replicas):
            break
    end = sizes(snap)
    status = snap.rollout.status
    assert status is not None
    if status.stable_rs == V2:
        assert end == {V1: 0, V2: replicas}
    else:
        assert abort_at is not None and end == {V1: replicas, V2: 0}
