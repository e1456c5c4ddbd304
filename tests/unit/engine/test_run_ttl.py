"""AnalysisRun ttlStrategy: which seconds apply to which phase, and a Rollout deleting its runs only
once its status holds their verdict."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rollouts.api.analysis import AnalysisRunSpec
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import AnalysisRunStatus
from rollouts.engine import canary
from rollouts.engine.analysis_ttl import expires_at
from rollouts.engine.plan import DeleteAnalysisRun
from rollouts.engine.snapshot import AnalysisRunKind, ObservedAnalysisRun
from tests.unit.engine.scenario import CANARY_AT_20, T0, V1, V2, at, canary_rollout, mid, of_type, snapshot

P = AnalysisPhase
PROVIDER = {"prometheus": {"address": "http://prometheus:9090", "query": "up"}}


def spec(ttl: dict[str, int] | None) -> AnalysisRunSpec:
    body: dict[str, Any] = {"metrics": [{"name": "m", "provider": PROVIDER}]}
    if ttl is not None:
        body["ttlStrategy"] = ttl
    return AnalysisRunSpec.model_validate(body)


ALL = {"secondsAfterCompletion": 60, "secondsAfterFailure": 600, "secondsAfterSuccess": 6}


@pytest.mark.parametrize(
    ("ttl", "phase", "completed", "expected"),
    [
        (ALL, P.SUCCESSFUL, True, 6),
        (ALL, P.FAILED, True, 600),
        (ALL, P.ERROR, True, 600),
        (ALL, P.INCONCLUSIVE, True, 60),  # no field of its own
        ({"secondsAfterCompletion": 60}, P.SUCCESSFUL, True, 60),  # the fallback
        ({"secondsAfterSuccess": 6}, P.FAILED, True, None),  # nothing for a failure
        ({"secondsAfterFailure": 0}, P.ERROR, True, 0),
        (ALL, P.RUNNING, False, None),  # still going
        (ALL, P.SUCCESSFUL, False, None),  # finished before completedAt was recorded
        (None, P.SUCCESSFUL, True, None),
    ],
)
def test_expires_at(
    ttl: dict[str, int] | None, phase: AnalysisPhase, completed: bool, expected: int | None
) -> None:
    status = AnalysisRunStatus(phase=phase, completed_at=T0 if completed else None)
    got = expires_at(spec(ttl), status)
    assert got == (None if expected is None else T0 + timedelta(seconds=expected))


def run(name: str, phase: AnalysisPhase, expires: float | None, pod_hash: str = V1) -> ObservedAnalysisRun:
    return ObservedAnalysisRun(
        name=name, kind=AnalysisRunKind.STEP, phase=phase, pod_template_hash=pod_hash, step_index=1,
        created=at(-100), expires=None if expires is None else at(expires),
    )  # fmt: skip


def test_expired_runs_are_deleted_and_the_pass_wakes_for_the_next_one() -> None:
    ro = canary_rollout(status=mid(0))
    runs = (run("old-ok", P.SUCCESSFUL, -1), run("old-later", P.FAILED, 30), run("old-kept", P.FAILED, None))
    plan = canary.decide(snapshot(ro, **CANARY_AT_20, analysis_runs=runs))
    assert [a.name for a in of_type(plan, DeleteAnalysisRun)] == ["old-ok"]
    assert plan.requeue_after is not None and plan.requeue_after <= timedelta(seconds=30)


def test_a_run_the_status_still_shows_unfinished_is_kept_until_its_verdict_is_recorded() -> None:
    steps = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}]
    name = f"web-{V2}-step-1-1"
    running_ref = {"canary": {"currentStepAnalysisRunStatus": {"name": name, "status": "Running"}}}
    finished = (run(name, P.SUCCESSFUL, -1, V2),)
    first = canary.decide(snapshot(canary_rollout(steps=steps, status=mid(1, **running_ref)), **CANARY_AT_20,
                                   analysis_runs=finished))  # fmt: skip
    assert of_type(first, DeleteAnalysisRun) == []  # this pass reads the verdict; its write may fail
    assert first.status.current_step_index == 2
    recorded = {"canary": {"currentStepAnalysisRunStatus": {"name": name, "status": "Successful"}}}
    later = canary.decide(snapshot(canary_rollout(steps=steps, status=mid(1, **recorded)), **CANARY_AT_20,
                                   analysis_runs=finished))  # fmt: skip
    assert [a.name for a in of_type(later, DeleteAnalysisRun)] == [name]
