"""Canary analysis: step runs gate their step, the background run watches the whole update;
Failed/Error aborts, Inconclusive pauses for a human, and a promote starts a fresh run."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api.enums import AnalysisPhase, PauseReason, RolloutPhase
from rollouts.engine import canary
from rollouts.engine.plan import CreateAnalysisRun, SetWeight, TerminateAnalysisRun
from rollouts.engine.snapshot import AnalysisRunKind
from tests.unit.engine.scenario import (
    CANARY_AT_20,
    SERVICES_V2,
    T0,
    V1,
    V2,
    at,
    canary_rollout,
    mid,
    of_type,
    rs,
    snapshot,
    step_run,
    with_spec,
)

RATE = {"templates": [{"templateName": "rate"}]}
LATENCY = {"templates": [{"templateName": "latency"}]}


def test_failed_step_analysis_aborts_with_its_message() -> None:
    steps = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]
    name = f"web-{V2}-step-1-1"
    ro = canary_rollout(
        steps=steps,
        status=mid(1, canary={"currentStepAnalysisRunStatus": {"name": name, "status": "Running"}}),
    )
    snap = snapshot(
        ro,
        **CANARY_AT_20,
        analysis_runs=(step_run(name, AnalysisPhase.FAILED),),
    )
    plan = canary.decide(snap)
    assert plan.status.abort and plan.status.phase is RolloutPhase.DEGRADED
    assert "err rate 9%" in (plan.status.message or "")
    assert plan.actions[0] == SetWeight(canary_weight=0, canary_hash=V2, stable_hash=V1)
    assert any(e.reason == "RolloutAborted" and e.type == "Warning" for e in plan.events)


@pytest.mark.parametrize(
    ("phase", "index_after", "rollout_phase"),
    [
        (AnalysisPhase.RUNNING, 1, RolloutPhase.PROGRESSING),
        (AnalysisPhase.SUCCESSFUL, 2, RolloutPhase.PAUSED),  # the next step, a pause, starts in the same pass
        (AnalysisPhase.INCONCLUSIVE, 1, RolloutPhase.PAUSED),
        (AnalysisPhase.ERROR, 0, RolloutPhase.DEGRADED),
    ],
)
def test_step_analysis_outcomes(phase: AnalysisPhase, index_after: int, rollout_phase: RolloutPhase) -> None:
    steps = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}, {"pause": {}}]
    name = f"web-{V2}-step-1-1"
    ro = canary_rollout(
        steps=steps,
        status=mid(1, canary={"currentStepAnalysisRunStatus": {"name": name, "status": "Running"}}),
    )
    snap = snapshot(
        ro,
        **CANARY_AT_20,
        analysis_runs=(step_run(name, phase),),
    )
    plan = canary.decide(snap)
    assert plan.status.current_step_index == index_after
    assert plan.status.phase is rollout_phase
    if phase is AnalysisPhase.INCONCLUSIVE:
        assert [p.reason for p in plan.status.pause_conditions or []] == [
            PauseReason.INCONCLUSIVE_ANALYSIS_RUN
        ]


def test_analysis_step_starts_a_run_and_background_analysis_starts_at_its_step() -> None:
    steps = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]
    background = {"templates": [{"templateName": "latency"}], "startingStep": 1}
    ro = canary_rollout(steps=steps, analysis=background, status=mid(1))
    plan = canary.decide(
        snapshot(
            ro,
            **CANARY_AT_20,
        )
    )
    created = of_type(plan, CreateAnalysisRun)
    assert [(r.kind, r.step_index) for r in created] == [
        (AnalysisRunKind.STEP, 1),
        (AnalysisRunKind.BACKGROUND, None),
    ]
    before = canary_rollout(steps=steps, analysis=background, status=mid(0))
    plan = canary.decide(
        snapshot(
            before,
            replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)),
            services=SERVICES_V2,
            router_canary_weight=0,
        )
    )
    assert of_type(plan, CreateAnalysisRun) == []


BACKGROUND = f"web-{V2}-background-1"
STEP_PAUSE = str(PauseReason.CANARY_PAUSE_STEP)


def _with_background(phase: AnalysisPhase, **status: Any) -> Any:
    ro = canary_rollout(
        steps=[{"setWeight": 20}, {"pause": {"duration": 60}}, {"setWeight": 50}],
        analysis=LATENCY,
        status=mid(
            1,
            canary={"currentBackgroundAnalysisRunStatus": {"name": BACKGROUND, "status": "Running"}},
            **status,
        ),
    )
    return canary.decide(
        snapshot(
            ro,
            now=at(10),
            **CANARY_AT_20,
            analysis_runs=(step_run(BACKGROUND, phase, kind=AnalysisRunKind.BACKGROUND, step=None),),
        )
    )


@pytest.mark.parametrize(
    ("phase", "rollout_phase", "aborted", "pauses"),
    [
        (AnalysisPhase.RUNNING, RolloutPhase.PAUSED, False, [STEP_PAUSE]),
        (AnalysisPhase.SUCCESSFUL, RolloutPhase.PAUSED, False, [STEP_PAUSE]),
        (AnalysisPhase.FAILED, RolloutPhase.DEGRADED, True, []),
        (AnalysisPhase.ERROR, RolloutPhase.DEGRADED, True, []),
        # held for a human: the pause step's timer does not start, the step is not skipped
        (AnalysisPhase.INCONCLUSIVE, RolloutPhase.PAUSED, False, ["InconclusiveAnalysisRun"]),
    ],
)
def test_background_analysis_outcomes(
    phase: AnalysisPhase, rollout_phase: RolloutPhase, aborted: bool, pauses: list[str]
) -> None:
    plan = _with_background(phase)
    assert plan.status.current_step_index == (0 if aborted else 1)
    assert plan.status.phase is rollout_phase
    assert bool(plan.status.abort) is aborted
    assert sorted(str(p.reason) for p in plan.status.pause_conditions or []) == pauses
    if aborted:
        assert plan.actions[0] == SetWeight(canary_weight=0, canary_hash=V2, stable_hash=V1)
        assert BACKGROUND in (plan.status.message or "")


def test_promote_after_an_inconclusive_run_starts_a_fresh_one() -> None:
    name = f"web-{V2}-step-1-1"
    ro = canary_rollout(
        steps=[{"setWeight": 20}, {"analysis": RATE}, {"pause": {}}],
        # the user promoted: the InconclusiveAnalysisRun pause condition is gone, controllerPause stays
        status=mid(
            1,
            controllerPause=True,
            canary={"currentStepAnalysisRunStatus": {"name": name, "status": "Inconclusive"}},
        ),
    )
    plan = canary.decide(
        snapshot(
            ro,
            **CANARY_AT_20,
            analysis_runs=(step_run(name, AnalysisPhase.INCONCLUSIVE),),
        )
    )
    assert [r.name for r in of_type(plan, CreateAnalysisRun)] == [f"web-{V2}-step-1-2"]
    assert plan.status.current_step_index == 1 and plan.status.phase is RolloutPhase.PROGRESSING


def test_promote_full_terminates_running_analysis() -> None:
    name = f"web-{V2}-step-1-1"
    ro = canary_rollout(
        steps=[{"setWeight": 20}, {"analysis": RATE}],
        status=mid(
            1, promoteFull=True, canary={"currentStepAnalysisRunStatus": {"name": name, "status": "Running"}}
        ),
    )
    plan = canary.decide(
        snapshot(
            ro,
            **CANARY_AT_20,
            analysis_runs=(step_run(name, AnalysisPhase.RUNNING),),
        )
    )
    assert of_type(plan, TerminateAnalysisRun) == [TerminateAnalysisRun(name=name)]
    assert plan.status.canary is not None and plan.status.canary.current_step_analysis_run_status is None


def test_a_long_analysis_step_is_not_a_missed_progress_deadline() -> None:
    name = f"web-{V2}-step-1-1"
    progressing = {
        "type": "Progressing",
        "status": "True",
        "reason": "ReplicaSetUpdated",
        "lastUpdateTime": T0,
        "lastTransitionTime": T0,
    }
    counts = {"replicas": 12, "updatedReplicas": 2, "readyReplicas": 12, "availableReplicas": 12}
    ro = canary_rollout(
        steps=[{"setWeight": 20}, {"analysis": RATE}],
        status=mid(
            1,
            conditions=[progressing],
            canary={"currentStepAnalysisRunStatus": {"name": name, "status": "Running"}},
            **counts,
        ),
    )
    plan = canary.decide(
        snapshot(
            with_spec(ro, progress_deadline_abort=True),
            now=at(3600),
            **CANARY_AT_20,
            analysis_runs=(step_run(name, AnalysisPhase.RUNNING),),
        )
    )
    assert plan.status.phase is RolloutPhase.PROGRESSING and not plan.status.abort
