"""Record the Rollout objects the Argo CD health-check tests read.

Run ``.venv/bin/python -m tests.unit.argocd.record_fixtures`` from the repository root.

Each fixture is a Rollout as the API server would serve it after the controller's status write: the
status is what the engine's ``decide`` (or ``decide_invalid_spec``) computes for a realistic cluster,
so the health script is tested against the exact phases, messages and conditions the controller
produces, not against statuses written by hand. Two are edits a user makes afterwards (a spec change
the controller has not seen yet; a brand-new object without status). Re-run this after a change to
the engine's status and review the diff of ``fixtures/``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from rollouts.api import Rollout
from rollouts.engine import bluegreen, canary, decide_invalid_spec
from rollouts.engine.plan import Plan
from tests.unit.engine.scenario import (
    SERVICES_V1,
    SERVICES_V2,
    T0,
    V1,
    V2,
    at,
    bluegreen_rollout,
    canary_rollout,
    mid,
    rs,
    snapshot,
    svc,
    with_spec,
)

FIXTURES = Path(__file__).parent / "fixtures"


def recorded(ro: Rollout, plan: Plan) -> dict[str, Any]:
    """The Rollout with the planned status, dumped as the API server serves it."""
    obj = ro.model_copy(update={"status": plan.status}).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    obj["metadata"].update(uid="7f3c1a9e-0000-4000-8000-000000000001", resourceVersion="4711")
    return obj


def healthy() -> dict[str, Any]:
    ro = canary_rollout(image="web:1", status={"currentPodHash": V1, "stableRS": V1, "currentStepIndex": 2})
    plan = canary.decide(
        snapshot(ro, replica_sets=(rs(V1, 10),), services=SERVICES_V1, router_canary_weight=0)
    )
    return recorded(ro, plan)


def progressing() -> dict[str, Any]:
    ro = canary_rollout(status=mid(0))
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 10), rs(V2, 2, available=0, revision=2)),
        services=SERVICES_V1,
        router_canary_weight=0,
    )
    return recorded(ro, canary.decide(snap))


def paused_step() -> dict[str, Any]:
    ro = canary_rollout(status=mid(1))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V2, router_canary_weight=20
    )
    return recorded(ro, canary.decide(snap))


def paused_by_user() -> dict[str, Any]:
    ro = with_spec(
        canary_rollout(steps=[{"setWeight": 20}, {"pause": {"duration": 10}}], status=mid(1)), paused=True
    )
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V2, router_canary_weight=20
    )
    return recorded(ro, canary.decide(snap))


def aborted() -> dict[str, Any]:
    ro = canary_rollout(status=mid(1, abort=True))
    snap = snapshot(
        ro, replica_sets=(rs(V1, 10), rs(V2, 2, revision=2)), services=SERVICES_V2, router_canary_weight=20
    )
    return recorded(ro, canary.decide(snap))


def progress_deadline_exceeded() -> dict[str, Any]:
    cond = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "lastUpdateTime": T0}
    counts = {"replicas": 12, "updatedReplicas": 2, "readyReplicas": 10, "availableReplicas": 10}
    ro = canary_rollout(status=mid(0, conditions=[cond], **counts))
    snap = snapshot(
        ro,
        now=at(600),
        replica_sets=(rs(V1, 10), rs(V2, 2, available=0, revision=2)),
        services=SERVICES_V1,
        router_canary_weight=0,
    )
    return recorded(ro, canary.decide(snap))


def invalid_spec() -> dict[str, Any]:
    obj = healthy()
    obj["metadata"]["generation"] = 3
    obj["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 120}]
    plan = decide_invalid_spec(obj, now=datetime(2024, 5, 1, 13, 0, tzinfo=UTC))
    obj["status"] = plan.status.model_dump(by_alias=True, exclude_none=True, mode="json")
    return obj


def bluegreen_awaiting_promotion() -> dict[str, Any]:
    status = {
        "currentPodHash": V2,
        "stableRS": V1,
        "blueGreen": {"activeSelector": V1, "previewSelector": V2},
    }
    ro = bluegreen_rollout(status=status, autoPromotionEnabled=False)
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 3), rs(V2, 3, revision=2)),
        services=(svc("web-active", V1), svc("web-preview", V2)),
    )
    return recorded(ro, bluegreen.decide(snap))


def spec_changed_not_yet_observed() -> dict[str, Any]:
    obj = healthy()
    obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"
    return obj


def just_created() -> dict[str, Any]:
    obj = healthy()
    del obj["status"]
    obj["metadata"]["generation"] = 1
    return obj


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "healthy": healthy,
    "progressing": progressing,
    "paused-step": paused_step,
    "paused-by-user": paused_by_user,
    "aborted": aborted,
    "progress-deadline-exceeded": progress_deadline_exceeded,
    "invalid-spec": invalid_spec,
    "bluegreen-awaiting-promotion": bluegreen_awaiting_promotion,
    "spec-changed-not-yet-observed": spec_changed_not_yet_observed,
    "just-created": just_created,
}


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    for name, build in SCENARIOS.items():
        text = yaml.safe_dump(build(), sort_keys=False)
        (FIXTURES / f"{name}.yaml").write_text(
            f"# Recorded by tests/unit/argocd/record_fixtures.py ({name}).\n{text}"
        )
        print(f"wrote {FIXTURES / name}.yaml")


if __name__ == "__main__":
    main()
