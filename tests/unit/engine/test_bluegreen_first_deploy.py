"""A first blue-green deploy goes active at once, whatever analysis the Rollout declares: there is
no older version to compare with or fall back to (as with a canary's first deploy)."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api.enums import RolloutPhase
from rollouts.engine import bluegreen
from rollouts.engine.plan import CreateAnalysisRun
from rollouts.engine.snapshot import Snapshot
from tests.unit.engine.scenario import apply, bluegreen_rollout, of_type, snapshot, svc

ANALYSIS = {"templates": [{"templateName": "success-rate"}]}


@pytest.mark.parametrize(
    "analysis",
    [{}, {"prePromotionAnalysis": ANALYSIS}, {"postPromotionAnalysis": ANALYSIS}],
    ids=["none", "pre", "post"],
)
def test_first_deploy_switches_active_and_becomes_healthy_without_analysis(analysis: dict[str, Any]) -> None:
    snap: Snapshot = snapshot(
        bluegreen_rollout(**analysis), services=(svc("web-active", None), svc("web-preview", None))
    )
    plans = []
    for _ in range(4):
        plan = bluegreen.decide(snap)
        plans.append(plan)
        snap = apply(snap, plan)
    active = snap.service("web-active")
    assert active is not None and active.pod_template_hash == snap.rollout.status.current_pod_hash  # type: ignore[union-attr]
    assert plans[-1].status.phase is RolloutPhase.HEALTHY
    assert all(of_type(plan, CreateAnalysisRun) == [] for plan in plans)
