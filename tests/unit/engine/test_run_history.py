"""AnalysisRun history: finished runs of earlier revisions beyond spec.analysis's limits are deleted,
the oldest first; runs of the revision being delivered are kept; attempt numbers never repeat."""

from __future__ import annotations

from typing import Any

from rollouts.api.enums import AnalysisPhase
from rollouts.api.rollout_analysis import AnalysisRunHistory
from rollouts.engine import bluegreen, canary
from rollouts.engine.plan import CreateAnalysisRun, DeleteAnalysisRun
from rollouts.engine.snapshot import AnalysisRunKind, ObservedAnalysisRun
from tests.unit.engine.scenario import (
    CANARY_AT_20,
    V1,
    V2,
    V3,
    at,
    bluegreen_rollout,
    canary_rollout,
    mid,
    of_type,
    snapshot,
    with_spec,
)

OK, FAILED = AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED


def old_run(index: int, phase: AnalysisPhase, pod_hash: str = V1) -> ObservedAnalysisRun:
    """A finished step run of an earlier revision, created ``index`` seconds after T0."""
    return ObservedAnalysisRun(
        name=f"web-{pod_hash}-step-1-{index}", kind=AnalysisRunKind.STEP, phase=phase,
        pod_template_hash=pod_hash, step_index=1, created=at(index),
    )  # fmt: skip


def deleted(runs: tuple[ObservedAnalysisRun, ...], **spec: Any) -> list[str]:
    ro = with_spec(canary_rollout(status=mid(0)), **spec)
    plan = canary.decide(snapshot(ro, **CANARY_AT_20, analysis_runs=runs))
    return [a.name for a in of_type(plan, DeleteAnalysisRun)]


def test_beyond_five_of_each_the_oldest_finished_runs_of_earlier_revisions_are_deleted() -> None:
    runs = tuple(old_run(i, OK) for i in range(1, 8)) + tuple(old_run(i, FAILED, V3) for i in range(10, 13))
    assert deleted(runs) == [f"web-{V1}-step-1-1", f"web-{V1}-step-1-2"]


def test_the_limits_are_per_outcome_and_zero_keeps_none() -> None:
    runs = (old_run(1, OK), old_run(2, OK), old_run(3, FAILED), old_run(4, AnalysisPhase.ERROR))
    history = AnalysisRunHistory(successful_run_history_limit=1, unsuccessful_run_history_limit=0)
    assert deleted(runs, analysis=history) == [
        f"web-{V1}-step-1-1",
        f"web-{V1}-step-1-3",
        f"web-{V1}-step-1-4",
    ]


def test_runs_of_the_revision_being_delivered_and_unfinished_runs_are_kept() -> None:
    current = tuple(old_run(i, OK, V2) for i in range(1, 9))
    unfinished = ObservedAnalysisRun(
        name=f"web-{V1}-step-1-9", kind=AnalysisRunKind.STEP, phase=AnalysisPhase.RUNNING,
        pod_template_hash=V1, step_index=1, created=at(0), terminating=True,
    )  # fmt: skip
    assert deleted((*current, unfinished)) == []


def test_a_new_attempt_is_numbered_after_the_highest_so_a_deleted_name_is_never_reused() -> None:
    steps = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]
    ro = canary_rollout(steps=steps, status=mid(1))
    survivors = (old_run(3, FAILED, V2), old_run(7, FAILED, V2))  # attempts 1, 2, 4-6 were deleted
    plan = canary.decide(snapshot(ro, **CANARY_AT_20, analysis_runs=survivors))
    (created,) = of_type(plan, CreateAnalysisRun)
    assert created.name == f"web-{V2}-step-1-8"


def test_blue_green_prunes_the_same_way() -> None:
    runs = tuple(old_run(i, OK, V3) for i in range(1, 8))
    plan = bluegreen.decide(snapshot(bluegreen_rollout(), analysis_runs=runs))
    assert [a.name for a in of_type(plan, DeleteAnalysisRun)] == [f"web-{V3}-step-1-1", f"web-{V3}-step-1-2"]
