"""Replica arithmetic. The basic-canary tables are Argo Rollouts' test cases, carried over as data
(utils/replicaset/canary_test.go), so a migrated Rollout sees the same pod counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.engine.replicas import (
    CanarySplit,
    ReplicaSetCounts,
    basic_canary_counts,
    bluegreen_new_replicas,
    closest_canary_split,
    dynamic_stable_replicas,
    lowest_weight_stable_covers,
    old_replicaset_targets,
    resolve_surge_and_unavailable,
    traffic_routed_canary_counts,
    weight_to_replicas,
)

# --- int-or-percent ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (10, None, None, (3, 2)),  # Argo's 25%/25% defaults
        (4, None, None, (1, 1)),
        (1, None, None, (1, 0)),
        (10, "0%", "0%", (0, 1)),  # both zero: unavailability becomes 1 so the rollout can move
        (5, 0, "10%", (0, 1)),  # 10% of 5 rounds down to 0
        (3, 0, 5, (0, 3)),  # never more unavailable than there are pods
        (0, 1, 1, (1, 0)),  # a Rollout at zero has nothing to make unavailable
        (10, 2, 0, (2, 0)),
    ],
)
def test_resolve_surge_and_unavailable(
    replicas: int, surge: int | str | None, unavailable: int | str | None, expected: tuple[int, int]
) -> None:
    got = resolve_surge_and_unavailable(replicas=replicas, max_surge=surge, max_unavailable=unavailable)
    assert got == expected


# --- canary with traffic routing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "weight", "expected"),
    [(10, 0, 0), (10, 20, 2), (10, 25, 3), (10, 33, 4), (10, 99, 10), (10, 100, 10), (3, 1, 1), (0, 50, 0)],
)
def test_weight_to_replicas_rounds_up(replicas: int, weight: int, expected: int) -> None:
    assert weight_to_replicas(replicas=replicas, weight=weight) == expected


@pytest.mark.parametrize(
    ("replicas", "weight", "total", "expected"),
    [(10, 5, 1000, 1), (100, 5, 1000, 1), (100, 15, 1000, 2), (10, 500, 1000, 5), (10, 1000, 1000, 10)],
)
def test_weight_to_replicas_out_of_max_traffic_weight(
    replicas: int, weight: int, total: int, expected: int
) -> None:
    # 0.5% of 10 or 100 pods still gets one pod; 1.5% of 100 rounds up to 2.
    assert weight_to_replicas(replicas=replicas, weight=weight, total=total) == expected


def test_dynamic_stable_scale_and_its_floor_count_out_of_max_traffic_weight() -> None:
    # 250/1000 on the canary leaves 75% to the stable: 8 of 10 pods (rounded up).
    assert dynamic_stable_replicas(replicas=10, canary_weight=250, total=1000) == 8
    # 6 of 10 stable pods serve 60%: the canary must keep at least 400/1000.
    assert lowest_weight_stable_covers(replicas=10, stable_available=6, total=1000) == 400
    assert traffic_routed_canary_counts(replicas=10, weight=5, total=1000) == CanarySplit(canary=1, stable=10)


@pytest.mark.parametrize(
    ("name", "replicas", "weight", "scale_replicas", "scale_weight", "min_pods", "expected"),
    [
        ("canary sized from the weight, stable kept full", 10, 10, None, None, None, CanarySplit(1, 10)),
        ("setCanaryScale.replicas wins over setWeight", 1, 100, 9, None, None, CanarySplit(9, 1)),
        ("setCanaryScale.weight wins over setWeight", 4, 100, None, 200, None, CanarySplit(8, 4)),
        ("replicas win over weight when both given", 10, 50, 3, 90, None, CanarySplit(3, 10)),
        ("matchTrafficWeight: neither passed, weight rules", 10, 20, None, None, None, CanarySplit(2, 10)),
        ("aborted, canary scale dropped: weight 0", 1, 0, None, None, None, CanarySplit(0, 1)),
        ("aborted with abortScaleDownDelaySeconds 0 keeps the scale", 1, 0, 1, None, None, CanarySplit(1, 1)),
        ("a setCanaryScale of zero is honoured", 10, 50, 0, None, None, CanarySplit(0, 10)),
        ("a 1% weight still gets a pod", 10, 1, None, None, None, CanarySplit(1, 10)),
        # minPodsPerReplicaSet: a canary taking traffic gets at least that many pods
        ("min 2: a 10% weight of 10 gets 2 pods, not 1", 10, 10, None, None, 2, CanarySplit(2, 10)),
        ("min 2: a weight already above it is unchanged", 10, 50, None, None, 2, CanarySplit(5, 10)),
        ("min 2: weight 0 (aborted, first step): no pods", 10, 0, None, None, 2, CanarySplit(0, 10)),
        ("min 2: setCanaryScale.weight counts like a weight", 10, 50, None, 5, 2, CanarySplit(2, 10)),
        ("min 2: setCanaryScale.replicas taken as written", 10, 50, 1, None, 2, CanarySplit(1, 10)),
        ("min 2: more than the Rollout's replicas", 1, 20, None, None, 2, CanarySplit(2, 1)),
    ],
)
def test_traffic_routed_canary_counts(
    name: str,
    replicas: int,
    weight: int,
    scale_replicas: int | None,
    scale_weight: int | None,
    min_pods: int | None,
    expected: CanarySplit,
) -> None:
    got = traffic_routed_canary_counts(
        replicas=replicas,
        weight=weight,
        canary_scale_replicas=scale_replicas,
        canary_scale_weight=scale_weight,
        min_pods=min_pods,
    )
    assert got == expected, name


@pytest.mark.parametrize(
    ("name", "replicas", "canary_weight", "min_pods", "expected"),
    [
        ("no canary traffic: the stable keeps all", 10, 0, None, 10),
        ("20% to the canary: 8 of 10 stay", 10, 20, None, 8),
        ("the stable's share rounds up", 3, 50, None, 2),
        ("all traffic on the canary: one pod kept for the stable Service", 10, 100, None, 1),
        ("minPodsPerReplicaSet holds for the stable too", 10, 90, 2, 2),
        ("never more than the Rollout's replicas", 1, 0, 2, 1),
    ],
)
def test_dynamic_stable_replicas(
    name: str, replicas: int, canary_weight: int, min_pods: int | None, expected: int
) -> None:
    got = dynamic_stable_replicas(replicas=replicas, canary_weight=canary_weight, min_pods=min_pods)
    assert got == expected, name


@pytest.mark.parametrize(
    ("replicas", "stable_available", "expected"),
    [(10, 10, 0), (10, 6, 40), (10, 0, 100), (3, 1, 67), (3, 2, 34), (0, 0, 0)],
)
def test_lowest_weight_stable_covers(replicas: int, stable_available: int, expected: int) -> None:
    weight = lowest_weight_stable_covers(replicas=replicas, stable_available=stable_available)
    assert weight == expected
    if replicas:  # the stable's share at that weight needs no more pods than it has
        assert weight_to_replicas(replicas=replicas, weight=100 - weight) <= stable_available


# --- basic canary: the closest split ---------------------------------------------------------------

# (replicas, weight, maxSurge, canary, stable), from Argo's TestApproximateWeightedNewStableReplicaCounts.
CLOSEST_SPLIT_CASES = [
    (0, 0, 0, 0, 0),
    (0, 50, 0, 0, 0),
    (0, 100, 0, 0, 0),
    (0, 0, 1, 0, 0),
    (0, 50, 1, 0, 0),
    (0, 100, 1, 0, 0),
    (1, 0, 0, 0, 1),
    (1, 1, 0, 0, 1),
    (1, 49, 0, 0, 1),
    (1, 50, 0, 1, 0),
    (1, 99, 0, 1, 0),
    (1, 100, 0, 1, 0),
    (1, 0, 1, 0, 1),
    (1, 1, 1, 1, 1),
    (1, 49, 1, 1, 1),
    (1, 50, 1, 1, 1),
    (1, 99, 1, 1, 1),
    (1, 100, 1, 1, 0),
    (2, 0, 0, 0, 2),
    (2, 1, 0, 1, 1),
    (2, 50, 0, 1, 1),
    (2, 99, 0, 1, 1),
    (2, 100, 0, 2, 0),
    (2, 0, 1, 0, 2),
    (2, 1, 1, 1, 2),
    (2, 50, 1, 1, 1),
    (2, 99, 1, 2, 1),
    (2, 100, 1, 2, 0),
    (3, 10, 0, 1, 2),
    (3, 25, 0, 1, 2),
    (3, 33, 0, 1, 2),
    (3, 34, 0, 1, 2),
    (3, 49, 0, 1, 2),
    (3, 50, 0, 2, 1),
    (3, 10, 1, 1, 3),
    (3, 25, 1, 1, 3),
    (3, 33, 1, 1, 2),
    (3, 34, 1, 1, 2),
    (3, 49, 1, 2, 2),
    (3, 50, 1, 2, 2),
    (10, 0, 1, 0, 10),
    (10, 1, 0, 1, 9),
    (10, 14, 0, 1, 9),
    (10, 15, 0, 2, 8),
    (10, 16, 0, 2, 8),
    (10, 99, 0, 9, 1),
    (10, 100, 1, 10, 0),
    (10, 1, 1, 1, 10),
    (10, 18, 1, 2, 9),
    (10, 19, 1, 2, 9),
    (10, 20, 1, 2, 8),
    (10, 23, 1, 2, 8),
    (10, 24, 1, 3, 8),
    (10, 25, 1, 3, 8),
    (10, 99, 1, 10, 1),
    (10, 100, 1, 10, 0),
]


@pytest.mark.parametrize(("replicas", "weight", "surge", "canary", "stable"), CLOSEST_SPLIT_CASES)
def test_closest_canary_split(replicas: int, weight: int, surge: int, canary: int, stable: int) -> None:
    assert closest_canary_split(replicas=replicas, weight=weight, max_surge=surge) == CanarySplit(
        canary, stable
    )


@given(
    replicas=st.integers(1, 200),
    weight=st.integers(1, 99),
    surge=st.integers(0, 5),
)
def test_weights_1_to_99_never_round_a_side_to_zero(replicas: int, weight: int, surge: int) -> None:
    split = closest_canary_split(replicas=replicas, weight=weight, max_surge=surge)
    total = split.canary + split.stable
    assert total in ((replicas, replicas + 1) if surge else (replicas,))
    if replicas >= 2 or surge > 0:  # with one pod and no surge room there is no two-sided split
        assert split.canary >= 1
        assert split.stable >= 1


@given(replicas=st.integers(0, 200), surge=st.integers(0, 5))
def test_weights_0_and_100_are_exact(replicas: int, surge: int) -> None:
    assert closest_canary_split(replicas=replicas, weight=0, max_surge=surge) == CanarySplit(0, replicas)
    assert closest_canary_split(replicas=replicas, weight=100, max_surge=surge) == CanarySplit(replicas, 0)


# --- basic canary: one reconcile step ---------------------------------------------------------------

# Argo's TestCalculateReplicaCountsForCanary (basic-canary rows) as data:
# (name, replicas, weight, maxSurge, maxUnavailable, stable spec/available, canary spec/available,
#  older spec, expected stable, expected canary). A "promote full" row carries weight 100.
BASIC_CANARY_CASES = [
    ("spec below available does not count the extra pods", 10, 100, 3, 0, (7, 8), (6, 3), 0, 7, 6),
    ("max surge int scales up the canary", 10, 20, 2, 0, (10, 10), (0, 0), 0, 10, 2),
    ("max surge percent scales up the canary", 10, 20, "20%", 0, (10, 10), (0, 0), 0, 10, 2),
    ("extra stable replicas are scaled down", 10, 20, "20%", 0, (10, 10), (2, 2), 0, 8, 2),
    ("never past max surge", 10, 30, 2, 0, (10, 10), (0, 0), 0, 10, 2),
    ("max unavailable int scales down the stable", 10, 20, 0, 2, (10, 10), (0, 0), 0, 8, 0),
    ("max unavailable percent scales down the stable", 10, 20, 0, "20%", (10, 10), (0, 0), 0, 8, 0),
    ("never past max unavailable", 10, 30, 0, 2, (10, 10), (0, 0), 0, 8, 0),
    ("surge and unavailable together", 10, 50, 2, 1, (10, 10), (0, 0), 0, 9, 2),
    ("weight 0 scales the canary to zero", 10, 0, 1, 1, (10, 10), (1, 1), 0, 10, 0),
    ("weight 100 scales the stable to zero", 10, 100, 1, 1, (1, 1), (10, 10), 0, 0, 10),
    ("a single pod: canary not left at zero at 20%", 1, 20, 1, 0, (1, 1), (0, 0), 0, 1, 1),
    ("a single pod: canary not left at zero at 90%", 1, 90, 1, 0, (1, 1), (0, 0), 0, 1, 1),
    ("the stable scales up before the canary", 10, 30, 1, 0, (1, 1), (0, 0), 3, 7, 1),
    ("canary and stable scale down together", 10, 30, 0, 3, (8, 5), (4, 4), 0, 7, 3),
    ("stable and canary with partial availability", 10, 100, 1, 0, (10, 2), (10, 8), 0, 2, 9),
    ("older ReplicaSets are drained first", 10, 30, 0, 1, (8, 6), (4, 2), 3, 8, 4),
    ("uneven weight never rounds past surge", 10, 5, 0, 1, (10, 10), (0, 0), 0, 9, 0),
    ("uneven weight never rounds past surge, part 2", 10, 5, 0, 1, (9, 9), (0, 0), 0, 9, 1),
    ("both limits resolve to zero: one pod may go", 10, 10, "0%", "0%", (10, 10), (0, 0), 0, 9, 0),
    ("setCanaryScale does not apply: plain weight", 10, 20, "20%", 0, (10, 10), (0, 0), 0, 10, 2),
    ("surge honoured while the stable is unavailable", 4, 100, 1, 0, (4, 1), (0, 0), 0, 4, 1),
    ("down to max unavailable without passing surge", 3, 99, 0, 2, (3, 3), (0, 0), 0, 1, 0),
    ("down to max unavailable without passing surge, part 2", 3, 99, 0, 2, (1, 1), (0, 0), 0, 1, 2),
    ("max unavailable honoured with an unavailable stable", 4, 100, 1, 0, (4, 1), (1, 1), 0, 3, 1),
    ("abort: the stable surges back first", 4, 0, 1, 0, (0, 0), (4, 4), 0, 1, 4),
    ("abort: the canary waits for stable availability", 4, 0, 1, 0, (1, 0), (4, 4), 0, 1, 4),
    ("abort: then the canary shrinks by one", 4, 0, 1, 0, (1, 1), (4, 4), 0, 1, 3),
    ("promote full ignores the step weight", 4, 100, 4, 4, (4, 4), (0, 0), 0, 0, 4),
    ("promote full still honours the limits", 4, 100, 3, 0, (4, 4), (0, 0), 0, 4, 3),
]


@pytest.mark.parametrize(
    "name,replicas,weight,surge,unavailable,stable,canary,older,exp_stable,exp_canary",
    BASIC_CANARY_CASES,
    ids=[case[0] for case in BASIC_CANARY_CASES],
)
def test_basic_canary_counts(
    name: str,
    replicas: int,
    weight: int,
    surge: int | str,
    unavailable: int | str,
    stable: tuple[int, int],
    canary: tuple[int, int],
    older: int,
    exp_stable: int,
    exp_canary: int,
) -> None:
    got = basic_canary_counts(
        replicas=replicas,
        weight=weight,
        max_surge=surge,
        max_unavailable=unavailable,
        canary=ReplicaSetCounts(*canary),
        stable=ReplicaSetCounts(*stable),
        older=[ReplicaSetCounts(older, older)] if older else [],
    )
    assert got == CanarySplit(canary=exp_canary, stable=exp_stable)


@pytest.mark.parametrize(
    ("canary", "expected"),
    [
        (ReplicaSetCounts(10, 0), CanarySplit(10, 0)),  # first deployment: the new RS is the stable one
        (ReplicaSetCounts(9, 9), CanarySplit(10, 0)),  # no stable: drive the new RS to full size
        (None, CanarySplit(0, 0)),  # nothing exists yet: the caller creates the RS first
    ],
)
def test_basic_canary_without_a_stable_goes_to_full_size(
    canary: ReplicaSetCounts | None, expected: CanarySplit
) -> None:
    got = basic_canary_counts(
        replicas=10, weight=10, max_surge=0, max_unavailable=1, canary=canary, stable=None
    )
    assert got == expected


# --- basic canary: invariants over whole rollouts ---------------------------------------------------


@st.composite
def _rollout_story(draw: st.DrawFn) -> tuple[int, int | str, int | str, list[int], list[int]]:
    replicas = draw(st.integers(1, 20))
    surge: int | str = draw(st.one_of(st.integers(0, 4), st.sampled_from(["0%", "10%", "25%", "50%"])))
    unavailable: int | str = draw(st.one_of(st.integers(0, 4), st.sampled_from(["0%", "10%", "25%", "50%"])))
    weights = draw(st.lists(st.integers(0, 100), min_size=1, max_size=6))
    readiness = draw(st.lists(st.integers(0, 3), min_size=60, max_size=60))
    return replicas, surge, unavailable, weights, readiness


@settings(max_examples=300, deadline=None)
@given(_rollout_story())
def test_basic_canary_stays_within_surge_and_availability(
    story: tuple[int, int | str, int | str, list[int], list[int]],
) -> None:
    """Walk a rollout through its weights with pods becoming ready at random; at every moment the
    pods never exceed replicas + maxSurge and the available pods never fall below
    replicas - maxUnavailable; with every pod ready, each weight converges to the closest split."""
    replicas, surge_in, unavailable_in, weights, readiness = story
    surge, unavailable = resolve_surge_and_unavailable(
        replicas=replicas, max_surge=surge_in, max_unavailable=unavailable_in
    )
    stable = ReplicaSetCounts(replicas, replicas)
    canary = ReplicaSetCounts(0, 0)
    ticks = iter(readiness)
    for weight in weights:
        for tick in range(200):
            split = basic_canary_counts(
                replicas=replicas,
                weight=weight,
                max_surge=surge_in,
                max_unavailable=unavailable_in,
                canary=canary,
                stable=stable,
            )
            # Scaling down removes not-ready pods first, so availability is capped by the new size.
            canary = ReplicaSetCounts(split.canary, min(canary.available_replicas, split.canary))
            stable = ReplicaSetCounts(split.stable, min(stable.available_replicas, split.stable))
            assert canary.spec_replicas + stable.spec_replicas <= replicas + surge
            assert canary.available_replicas + stable.available_replicas >= replicas - unavailable
            ready = next(ticks, 3) if tick < 60 else 1_000
            canary = ReplicaSetCounts(
                canary.spec_replicas, min(canary.spec_replicas, canary.available_replicas + ready)
            )
            stable = ReplicaSetCounts(
                stable.spec_replicas, min(stable.spec_replicas, stable.available_replicas + ready)
            )
        want = closest_canary_split(replicas=replicas, weight=weight, max_surge=surge)
        assert (canary.spec_replicas, stable.spec_replicas) == (want.canary, want.stable)


# --- old ReplicaSets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total_available", "older", "expected"),
    [
        # 10 replicas, maxUnavailable 2: 8 must stay available.
        (13, [(3, 3)], (0,)),  # 5 spare: the old RS goes entirely
        (10, [(3, 3)], (1,)),  # 2 spare: two pods go
        (8, [(3, 3)], (3,)),  # no spare: nothing goes
        (8, [(3, 1)], (1,)),  # but its unavailable pods always go
        (12, [(2, 2), (3, 3)], (0, 1)),  # in the order given
        (20, [(0, 0)], (0,)),
    ],
)
def test_old_replicaset_targets(
    total_available: int, older: list[tuple[int, int]], expected: tuple[int, ...]
) -> None:
    got = old_replicaset_targets(
        replicas=10,
        max_surge=1,
        max_unavailable=2,
        total_available=total_available,
        older=[ReplicaSetCounts(*rs) for rs in older],
    )
    assert got == expected


# --- blue-green -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preview", "promoted", "expected"),
    [(None, False, 10), (2, False, 2), (2, True, 10), (0, False, 0), (50, False, 10), (None, True, 10)],
)
def test_bluegreen_new_replicas(preview: int | None, promoted: bool, expected: int) -> None:
    assert bluegreen_new_replicas(replicas=10, preview_replica_count=preview, promoted=promoted) == expected


def test_a_tie_without_room_for_the_larger_canary_takes_the_smaller_one() -> None:
    """2 pods at 75% without surge: 2 canary pods would leave no stable, so 1 of 2, never 0 of 2."""
    assert closest_canary_split(replicas=2, weight=75, max_surge=0) == CanarySplit(canary=1, stable=1)
