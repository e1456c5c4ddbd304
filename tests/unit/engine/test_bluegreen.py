"""Blue-green scenarios: preview, gates before the switch, the switch itself, and after."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api.enums import AnalysisPhase, RolloutPhase
from rollouts.engine import bluegreen
from rollouts.engine.plan import (
    AnnotateScaleDownDeadline,
    CreateAnalysisRun,
    Plan,
    RestartPod,
    ScaleReplicaSet,
    SwitchServiceSelector,
    TerminateAnalysisRun,
)
from rollouts.engine.snapshot import AnalysisRunKind, ObservedAnalysisRun, ObservedPod, Snapshot
from tests.unit.engine.scenario import (
    T0,
    V1,
    V2,
    apply,
    at,
    bluegreen_rollout,
    of_type,
    rs,
    snapshot,
    svc,
    with_spec,
)

UPDATING = {"currentPodHash": V2, "stableRS": V1, "blueGreen": {"activeSelector": V1}}


def start(**spec: Any) -> Snapshot:
    ro = bluegreen_rollout(status={"currentPodHash": V1, "stableRS": V1}, **spec)
    return snapshot(ro, replica_sets=(rs(V1, 3),), services=(svc("web-active", V1), svc("web-preview", V1)))


def run_passes(snap: Snapshot, passes: int, *, promote_at: int | None = None) -> tuple[Snapshot, list[Plan]]:
    plans = []
    for i in range(passes):
        plan = bluegreen.decide(snap)
        if i == promote_at:
            plan = Plan(
                actions=plan.actions, status=plan.status.model_copy(update={"pause_conditions": None})
            )
        plans.append(plan)
        snap = apply(snap, plan)
    return snap, plans


def active(snap: Snapshot) -> str | None:
    service = snap.service("web-active")
    return service.pod_template_hash if service else None


def test_auto_promotion_switches_active_once_new_revision_is_fully_available() -> None:
    snap, plans = run_passes(start(), 3)
    assert of_type(plans[0], SwitchServiceSelector) == []  # new pods not up yet
    assert active(snap) == V2
    assert snap.rollout.status is not None and snap.rollout.status.stable_rs == V2
    assert AnnotateScaleDownDeadline(name=f"web-{V1}", deadline=at(31)) in plans[1].actions


def test_preview_replica_count_then_manual_promotion_scales_up_before_switching() -> None:
    snap, plans = run_passes(start(autoPromotionEnabled=False, previewReplicaCount=1), 4)
    assert plans[0].actions[0].replicas == 1  # type: ignore[union-attr]
    assert snap.service("web-preview") is not None and snap.service("web-preview").pod_template_hash == V2  # type: ignore[union-attr]
    assert active(snap) == V1 and snap.rollout.status.phase is RolloutPhase.PAUSED  # type: ignore[union-attr]
    snap, plans = run_passes(snap, 3, promote_at=0)
    assert of_type(plans[1], ScaleReplicaSet)[0].replicas == 3
    assert of_type(plans[1], SwitchServiceSelector) == []  # not before the 3 pods are available
    assert active(snap) == V2


@pytest.mark.parametrize(("now", "switched"), [(59, False), (60, True)])
def test_auto_promotion_seconds(now: float, switched: bool) -> None:
    status = UPDATING | {
        "pauseConditions": [{"reason": "BlueGreenPause", "startTime": T0}],
        "controllerPause": True,
    }
    ro = bluegreen_rollout(autoPromotionSeconds=60, status=status)
    snap = snapshot(
        ro,
        now=at(now),
        replica_sets=(rs(V1, 3), rs(V2, 3, revision=2)),
        services=(svc("web-active", V1), svc("web-preview", V2)),
    )
    plan = bluegreen.decide(snap)
    assert (SwitchServiceSelector(service="web-active", pod_template_hash=V2) in plan.actions) is switched
    if not switched:
        assert plan.wake_at == at(60)


def _with_run(kind: AnalysisRunKind, phase: AnalysisPhase, active_hash: str) -> Plan:
    key = "prePromotionAnalysis" if kind is AnalysisRunKind.PRE else "postPromotionAnalysis"
    field = (
        "prePromotionAnalysisRunStatus" if kind is AnalysisRunKind.PRE else "postPromotionAnalysisRunStatus"
    )
    name = f"web-{V2}-{kind.value}-1"
    status = UPDATING | {
        "blueGreen": {"activeSelector": active_hash, field: {"name": name, "status": "Running"}}
    }
    ro = bluegreen_rollout(status=status, **{key: {"templates": [{"templateName": "smoke"}]}})
    observed = ObservedAnalysisRun(name=name, kind=kind, phase=phase, pod_template_hash=V2, message="5xx")
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 3), rs(V2, 3, revision=2)),
        services=(svc("web-active", active_hash), svc("web-preview", V2)),
        analysis_runs=(observed,),
    )
    return bluegreen.decide(snap)


@pytest.mark.parametrize(
    ("phase", "switched", "rollout_phase"),
    [
        (AnalysisPhase.RUNNING, False, RolloutPhase.PROGRESSING),
        (AnalysisPhase.SUCCESSFUL, True, RolloutPhase.HEALTHY),
        (AnalysisPhase.FAILED, False, RolloutPhase.DEGRADED),
        (AnalysisPhase.INCONCLUSIVE, False, RolloutPhase.PAUSED),
    ],
)
def test_pre_promotion_analysis_gates_the_switch(
    phase: AnalysisPhase, switched: bool, rollout_phase: RolloutPhase
) -> None:
    plan = _with_run(AnalysisRunKind.PRE, phase, V1)
    assert (SwitchServiceSelector(service="web-active", pod_template_hash=V2) in plan.actions) is switched
    assert plan.status.phase is rollout_phase


def test_pre_promotion_analysis_starts_when_preview_is_ready() -> None:
    ro = bluegreen_rollout(status=UPDATING, prePromotionAnalysis={"templates": [{"templateName": "smoke"}]})
    snap = snapshot(
        ro,
        replica_sets=(rs(V1, 3), rs(V2, 3, revision=2)),
        services=(svc("web-active", V1), svc("web-preview", V2)),
    )
    plan = bluegreen.decide(snap)
    assert [r.kind for r in of_type(plan, CreateAnalysisRun)] == [AnalysisRunKind.PRE]
    assert of_type(plan, SwitchServiceSelector) == []


def test_failed_post_promotion_analysis_switches_active_back_to_stable() -> None:
    plan = _with_run(AnalysisRunKind.POST, AnalysisPhase.FAILED, V2)
    assert plan.actions[0] == SwitchServiceSelector(service="web-active", pod_template_hash=V1)
    assert plan.status.abort and plan.status.phase is RolloutPhase.DEGRADED
    assert plan.status.stable_rs == V1


def test_successful_post_promotion_analysis_makes_new_revision_stable() -> None:
    plan = _with_run(AnalysisRunKind.POST, AnalysisPhase.SUCCESSFUL, V2)
    assert plan.status.stable_rs == V2


@pytest.mark.parametrize(("now", "scaled"), [(29, False), (30, True)])
def test_old_active_scaled_down_after_scale_down_delay(now: float, scaled: bool) -> None:
    ro = bluegreen_rollout(status={"currentPodHash": V2, "stableRS": V2, "blueGreen": {"activeSelector": V2}})
    snap = snapshot(
        ro,
        now=at(now),
        replica_sets=(rs(V1, 3, deadline=at(30)), rs(V2, 3, revision=2)),
        services=(svc("web-active", V2), svc("web-preview", V2)),
    )
    plan = bluegreen.decide(snap)
    assert (
        ScaleReplicaSet(name=f"web-{V1}", pod_template_hash=V1, replicas=0, previous=3) in plan.actions
    ) is scaled
    # The old active waiting out scaleDownDelaySeconds takes no traffic: Healthy throughout.
    assert plan.status.phase is RolloutPhase.HEALTHY


def test_abort_before_switch_keeps_active_and_scales_preview_down_after_delay() -> None:
    ro = bluegreen_rollout(status=UPDATING | {"abort": True, "abortedAt": T0})
    base = dict(
        replica_sets=(rs(V1, 3), rs(V2, 3, revision=2)),
        services=(svc("web-active", V1), svc("web-preview", V2)),
    )
    early = bluegreen.decide(snapshot(ro, now=at(10), **base))
    assert of_type(early, ScaleReplicaSet) == [] and early.wake_at == at(30)
    assert early.status.phase is RolloutPhase.DEGRADED
    late = bluegreen.decide(snapshot(ro, now=at(30), **base))
    assert ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=0, previous=3) in late.actions


# --- spec.paused, progress deadline, retry, promote-full, rollback --------------------------------

READY_BEHIND_PREVIEW = dict(
    replica_sets=(rs(V1, 3), rs(V2, 3, revision=2)),
    services=(svc("web-active", V1), svc("web-preview", V2)),
)
SWITCH = SwitchServiceSelector(service="web-active", pod_template_hash=V2)


def test_spec_paused_holds_the_switch_until_unpaused() -> None:
    ro = with_spec(bluegreen_rollout(status=UPDATING), paused=True)
    held = bluegreen.decide(snapshot(ro, **READY_BEHIND_PREVIEW))
    assert SWITCH not in held.actions
    assert held.status.phase is RolloutPhase.PAUSED
    assert held.status.message == "Rollout is paused by the user (spec.paused)"
    resumed = bluegreen.decide(snapshot(with_spec(ro, paused=False), **READY_BEHIND_PREVIEW))
    assert SWITCH in resumed.actions


def _stuck(*, now: float, abort: bool = False, status: dict[str, Any] | None = None, **spec: Any) -> Plan:
    progressing = {
        "type": "Progressing",
        "status": "True",
        "reason": "ReplicaSetUpdated",
        "lastUpdateTime": T0,
        "lastTransitionTime": T0,
    }
    counts = {"replicas": 6, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    ro = bluegreen_rollout(status=UPDATING | counts | {"conditions": [progressing]} | (status or {}), **spec)
    ro = with_spec(ro, progress_deadline_abort=abort)
    snap = snapshot(
        ro,
        now=at(now),
        replica_sets=(rs(V1, 3), rs(V2, 3, available=0, revision=2)),
        services=(svc("web-active", V1), svc("web-preview", V1)),
    )
    return bluegreen.decide(snap)


def test_progress_deadline_marks_a_stuck_update_degraded_and_aborts_only_when_asked() -> None:
    early = _stuck(now=599)
    assert early.status.phase is RolloutPhase.PROGRESSING and early.wake_at == at(600)
    late = _stuck(now=600)
    assert late.status.phase is RolloutPhase.DEGRADED and not late.status.abort
    assert (late.status.message or "").startswith("ProgressDeadlineExceeded")
    assert any(e.reason == "ProgressDeadlineExceeded" and e.type == "Warning" for e in late.events)
    aborted = _stuck(now=600, abort=True)
    assert aborted.status.abort and aborted.status.phase is RolloutPhase.DEGRADED
    assert of_type(aborted, SwitchServiceSelector) == []  # active never left the stable revision


def test_progress_deadline_waits_for_a_running_analysis() -> None:
    run_status = {"prePromotionAnalysisRunStatus": {"name": f"web-{V2}-pre-1", "status": "Running"}}
    plan = _stuck(
        now=900,
        status={"blueGreen": {"activeSelector": V1, **run_status}},
        prePromotionAnalysis={"templates": [{"templateName": "smoke"}]},
    )
    assert plan.status.phase is RolloutPhase.PROGRESSING


def test_retry_after_abort_starts_over_with_a_fresh_pre_promotion_run() -> None:
    name = f"web-{V2}-pre-1"
    failed = ObservedAnalysisRun(
        name=name, kind=AnalysisRunKind.PRE, phase=AnalysisPhase.FAILED, pod_template_hash=V2
    )
    status = UPDATING | {
        "abortedAt": T0,
        "blueGreen": {
            "activeSelector": V1,
            "prePromotionAnalysisRunStatus": {"name": name, "status": "Failed"},
        },
    }
    ro = bluegreen_rollout(status=status, prePromotionAnalysis={"templates": [{"templateName": "smoke"}]})
    plan = bluegreen.decide(snapshot(ro, analysis_runs=(failed,), **READY_BEHIND_PREVIEW))
    assert [r.name for r in of_type(plan, CreateAnalysisRun)] == [f"web-{V2}-pre-2"]
    assert not plan.status.abort and plan.status.aborted_at is None
    assert plan.status.phase is RolloutPhase.PROGRESSING
    assert any(e.reason == "RolloutRetried" for e in plan.events)
    assert SWITCH not in plan.actions


def test_promote_full_skips_the_pause_and_pre_promotion_analysis() -> None:
    name = f"web-{V2}-pre-1"
    running = ObservedAnalysisRun(
        name=name, kind=AnalysisRunKind.PRE, phase=AnalysisPhase.RUNNING, pod_template_hash=V2
    )
    status = UPDATING | {
        "promoteFull": True,
        "blueGreen": {
            "activeSelector": V1,
            "prePromotionAnalysisRunStatus": {"name": name, "status": "Running"},
        },
    }
    ro = bluegreen_rollout(
        status=status,
        autoPromotionEnabled=False,
        prePromotionAnalysis={"templates": [{"templateName": "smoke"}]},
    )
    plan = bluegreen.decide(snapshot(ro, analysis_runs=(running,), **READY_BEHIND_PREVIEW))
    assert plan.actions[0] == SWITCH
    assert TerminateAnalysisRun(name=name) in plan.actions
    assert plan.status.stable_rs == V2 and not plan.status.promote_full


def test_rollback_to_the_stable_template_keeps_active_and_retires_the_preview_revision() -> None:
    ro = bluegreen_rollout(image="web:1", status=UPDATING)
    plan = bluegreen.decide(snapshot(ro, **READY_BEHIND_PREVIEW))
    assert SwitchServiceSelector(service="web-preview", pod_template_hash=V1) in plan.actions
    assert SWITCH not in plan.actions
    preview_back = plan.actions.index(SwitchServiceSelector(service="web-preview", pod_template_hash=V1))
    shrink = plan.actions.index(
        ScaleReplicaSet(name=f"web-{V2}", pod_template_hash=V2, replicas=0, previous=3)
    )
    assert preview_back < shrink
    assert plan.status.stable_rs == V1 and plan.status.phase is not RolloutPhase.DEGRADED


@pytest.mark.parametrize(
    ("max_unavailable", "restarted"),
    [
        (None, ["p0"]),
        (2, ["p0", "p1"]),
        ("50%", ["p0", "p1"]),
        ("10%", ["p0"]),
        (9, ["p0", "p1", "p2", "p3"]),
    ],
)
def test_restart_at_restarts_max_unavailable_pods_at_a_time_then_records_it(
    max_unavailable: int | str | None, restarted: list[str]
) -> None:
    # Default 25% of 4 pods is 1; a percent rounds down but never below one pod.
    healthy = {"currentPodHash": V2, "stableRS": V2, "blueGreen": {"activeSelector": V2}}
    extra = {} if max_unavailable is None else {"maxUnavailable": max_unavailable}
    ro = with_spec(bluegreen_rollout(status=healthy, replicas=4, **extra), restart_at=at(0))
    base = dict(
        now=at(10),
        replica_sets=(rs(V2, 4, revision=2),),
        services=(svc("web-active", V2), svc("web-preview", V2)),
    )
    old_pods = tuple(ObservedPod(name=f"p{i}", pod_template_hash=V2, created=at(-100 + i)) for i in range(4))
    plan = bluegreen.decide(snapshot(ro, pods=old_pods, **base))
    assert [a.name for a in of_type(plan, RestartPod)] == restarted
    assert plan.status.restarted_at is None
    fresh = tuple(ObservedPod(name=f"q{i}", pod_template_hash=V2, created=at(5)) for i in range(4))
    done = bluegreen.decide(snapshot(ro, pods=fresh, **base))
    assert of_type(done, RestartPod) == [] and done.status.restarted_at == at(0)


def test_inconclusive_pre_promotion_analysis_pauses_with_an_event_saying_why() -> None:
    plan = _with_run(AnalysisRunKind.PRE, AnalysisPhase.INCONCLUSIVE, V1)
    assert [str(p.reason) for p in plan.status.pause_conditions or []] == ["InconclusiveAnalysisRun"]
    assert any(e.reason == "RolloutPaused" and "inconclusive" in e.message for e in plan.events)


@pytest.mark.parametrize(
    ("limit", "scaled_now"),
    [(None, set()), (2, {"web-v0"}), (1, {"web-v0", "web-v1"}), (0, {"web-v0", "web-v1", "web-v2"})],
)
def test_scale_down_delay_revision_limit_keeps_only_the_newest_old_revisions_waiting(
    limit: int | None, scaled_now: set[str]
) -> None:
    # Three old actives, each still inside its scale-down delay; the limit keeps the newest ones
    # (revision order) and scales the rest down now instead of at their deadlines.
    extra = {} if limit is None else {"scaleDownDelayRevisionLimit": limit}
    ro = bluegreen_rollout(
        status={"currentPodHash": V2, "stableRS": V2, "blueGreen": {"activeSelector": V2}}, **extra
    )
    old = tuple(rs(f"v{n}", 3, revision=n + 1, deadline=at(30 + n)) for n in range(3))  # web-v0..2
    snap = snapshot(
        ro,
        now=at(10),
        replica_sets=(*old, rs(V2, 3, revision=4)),
        services=(svc("web-active", V2), svc("web-preview", V2)),
    )
    plan = bluegreen.decide(snap)
    assert {a.name for a in of_type(plan, ScaleReplicaSet) if a.replicas == 0} == scaled_now
    assert plan.status.phase is RolloutPhase.HEALTHY


def test_a_rollback_within_the_window_switches_without_the_pause_or_analysis() -> None:
    from rollouts.api.rollout import RollbackWindow

    stable_v2 = {"currentPodHash": V2, "stableRS": V2, "blueGreen": {"activeSelector": V2}}
    ro = bluegreen_rollout(
        image="web:1",
        status=stable_v2,
        autoPromotionEnabled=False,
        prePromotionAnalysis={"templates": [{"templateName": "smoke"}]},
    )
    cluster = {
        "replica_sets": (rs(V1, 3, revision=1), rs(V2, 3, revision=2)),  # V1 kept warm, fully available
        "services": (svc("web-active", V2), svc("web-preview", V1)),
    }
    held = bluegreen.decide(snapshot(ro, **cluster))
    assert SwitchServiceSelector(service="web-active", pod_template_hash=V1) not in held.actions
    fast = bluegreen.decide(snapshot(with_spec(ro, rollback_window=RollbackWindow(revisions=1)), **cluster))
    assert SwitchServiceSelector(service="web-active", pod_template_hash=V1) in fast.actions
    assert of_type(fast, CreateAnalysisRun) == [] and fast.status.stable_rs == V1
