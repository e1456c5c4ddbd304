"""``spec.workloadRef.scaleDown``: the Deployment gives up pods only as the Rollout's become
available, and gets them back if the migration is aborted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rollouts.api import Rollout, parse_rollout
from rollouts.engine import decide
from rollouts.engine.plan import ScaleReplicaSet, ScaleWorkload
from rollouts.engine.snapshot import ObservedWorkload, Snapshot
from rollouts.engine.workload import workload_replicas
from tests.unit.engine.scenario import T0, V1, of_type, rs, snapshot, template


@pytest.mark.parametrize(
    ("scale_down", "current", "available", "migrated", "aborted", "expected"),
    [
        ("never", 4, 4, True, False, 4),
        ("onsuccess", 4, 3, False, False, 4),  # not yet: every pod stays
        ("onsuccess", 4, 4, True, False, 0),
        ("progressively", 4, 1, False, False, 3),  # one Rollout pod available: one Deployment pod goes
        ("progressively", 3, 3, False, False, 1),
        ("progressively", 1, 6, False, False, 0),  # never below 0
        ("progressively", 2, 2, False, True, 4),  # aborted before migrating: all back
        ("progressively", 0, 0, True, True, 0),  # migrated: the Deployment's template is the rejected one
    ],
)
def test_workload_replicas(
    scale_down: Any, current: int, available: int, migrated: bool, aborted: bool, expected: int
) -> None:
    got = workload_replicas(
        scale_down=scale_down,
        original=4,
        current=current,
        rollout_available=available,
        migrated=migrated,
        aborted=aborted,
    )
    assert got == expected


def _referencing(scale_down: str, *, status: dict[str, Any] | None = None) -> Rollout:
    body: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "web"}},
            "workloadRef": {"name": "web", "scaleDown": scale_down},
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
        },
    }
    if status is not None:
        body["status"] = status
    ro = parse_rollout(body)
    return ro.model_copy(update={"spec": ro.spec.with_template(template("web:1"))})


def test_progressively_never_leaves_fewer_available_pods_than_the_deployment_had() -> None:
    # The Deployment runs 4 pods; the Rollout's pods become available one per pass.
    ro = _referencing("progressively")
    deployment = ObservedWorkload(name="web", replicas=4, available=4)
    snap = snapshot(ro, workload=deployment)
    available = 0
    for _ in range(12):
        plan = decide(snap)
        for action in of_type(plan, ScaleWorkload):
            assert action.original == 4
            deployment = replace(deployment, replicas=action.replicas, available=action.replicas, original=4)
        sets = {r.name: r for r in snap.replica_sets}
        for action in plan.actions:
            if isinstance(action, ScaleReplicaSet):
                sets[action.name] = replace(sets[action.name], replicas=action.replicas)
        if not sets:
            sets = {f"web-{V1}": rs(V1, 4, available=0)}
        (rollout_rs,) = sets.values()
        assert deployment.available + rollout_rs.available >= 4, (deployment, rollout_rs)
        available = min(rollout_rs.replicas, rollout_rs.available + 1)
        snap = Snapshot(
            rollout=ro.model_copy(update={"status": plan.status}),
            now=snap.now,
            replica_sets=(replace(rollout_rs, available=available, ready=available),),
            workload=deployment,
        )
    assert (deployment.replicas, available) == (0, 4)


def test_onsuccess_waits_for_the_whole_rollout_then_scales_to_zero() -> None:
    ro = _referencing("onsuccess", status={"stableRS": V1, "currentPodHash": V1})
    half = snapshot(
        ro, replica_sets=(rs(V1, 4, available=3),), workload=ObservedWorkload(name="web", replicas=4)
    )
    assert of_type(decide(half), ScaleWorkload) == []
    full = replace(half, replica_sets=(rs(V1, 4),))
    plan = decide(full)
    assert of_type(plan, ScaleWorkload) == [ScaleWorkload(name="web", replicas=0, previous=4, original=4)]
    assert any(e.reason == "WorkloadScaled" for e in plan.events)


def test_a_gitops_re_apply_of_the_deployments_replicas_is_undone_and_raises_what_it_gets_back() -> None:
    ro = _referencing("progressively", status={"stableRS": V1, "currentPodHash": V1})
    reapplied = ObservedWorkload(name="web", replicas=5, available=0, original=4)  # Git now says 5
    plan = decide(snapshot(ro, now=T0, replica_sets=(rs(V1, 4),), workload=reapplied))
    assert of_type(plan, ScaleWorkload) == [ScaleWorkload(name="web", replicas=0, previous=5, original=5)]


def test_never_leaves_the_deployment_alone() -> None:
    ro = _referencing("never", status={"stableRS": V1, "currentPodHash": V1})
    plan = decide(snapshot(ro, replica_sets=(rs(V1, 4),), workload=ObservedWorkload(name="web", replicas=4)))
    assert of_type(plan, ScaleWorkload) == []
