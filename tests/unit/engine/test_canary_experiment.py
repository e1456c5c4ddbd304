"""The canary's experiment step: start the Experiment, wait for its verdict, act on it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rollouts.api.enums import AnalysisPhase, PauseReason, RolloutPhase
from rollouts.engine import decide
from rollouts.engine.plan import CreateExperiment, SetWeight, TerminateExperiment
from rollouts.engine.snapshot import ObservedExperiment, Snapshot
from tests.unit.engine.scenario import (
    CANARY_AT_20,
    T0,
    V2,
    apply,
    at,
    canary_rollout,
    mid,
    of_type,
    snapshot,
    with_spec,
)

BASELINE_VS_CANARY: dict[str, Any] = {
    "experiment": {
        "duration": "10m",
        "templates": [{"name": "baseline", "specRef": "stable"}, {"name": "canary", "specRef": "canary"}],
    }
}
STEPS = [{"setWeight": 20}, BASELINE_VS_CANARY, {"setWeight": 50}, {"pause": {}}]
NAME = f"web-{V2}-1-1"


def at_experiment(
    phase: AnalysisPhase | None = None, *, steps: list[dict[str, Any]] = STEPS, **status: Any
) -> Snapshot:
    ro = canary_rollout(steps=steps, status=mid(1, **status))
    experiments = ()
    if phase is not None:
        experiments = (
            ObservedExperiment(
                name=NAME, pod_template_hash=V2, step_index=1, phase=phase, message="it said so"
            ),
        )
    return snapshot(ro, experiments=experiments, **CANARY_AT_20)


def with_experiment(snap: Snapshot, phase: AnalysisPhase, **fields: Any) -> Snapshot:
    e = ObservedExperiment(name=NAME, pod_template_hash=V2, step_index=1, phase=phase, **fields)
    return replace(snap, experiments=(e,))


def test_reaching_the_step_starts_its_experiment_and_waits() -> None:
    plan = decide(at_experiment())
    [create] = of_type(plan, CreateExperiment)
    assert create == CreateExperiment(
        name=NAME, pod_template_hash=V2, stable_hash=plan.status.stable_rs or "", step_index=1
    )
    assert plan.status.current_step_index == 1
    assert plan.status.canary is not None and plan.status.canary.current_experiment is not None
    assert plan.status.canary.current_experiment.name == NAME
    assert "ExperimentCreated" in [e.reason for e in plan.events]
    again = decide(apply(at_experiment(), plan))
    assert not of_type(again, CreateExperiment) and again.status.current_step_index == 1


def test_a_successful_experiment_completes_the_step_and_the_next_weight_is_set_in_the_same_pass() -> None:
    first = decide(at_experiment())
    snap = with_experiment(apply(at_experiment(), first), AnalysisPhase.SUCCESSFUL)
    plan = decide(snap)
    assert plan.status.current_step_index == 2
    assert plan.status.canary is not None and plan.status.canary.current_experiment is None
    assert not of_type(plan, TerminateExperiment)


def test_a_failed_experiment_aborts_the_update_with_its_message() -> None:
    first = decide(at_experiment())
    plan = decide(
        with_experiment(apply(at_experiment(), first), AnalysisPhase.FAILED, message="canary worse")
    )
    assert plan.status.abort is True
    assert f"Experiment {NAME} Failed: canary worse" in (plan.status.message or "")


def test_an_inconclusive_experiment_pauses_for_a_human_and_a_promote_goes_on() -> None:
    first = decide(at_experiment())
    snap = with_experiment(apply(at_experiment(), first), AnalysisPhase.INCONCLUSIVE)
    paused = decide(snap)
    assert PauseReason.INCONCLUSIVE_EXPERIMENT in {c.reason for c in paused.status.pause_conditions or []}
    assert paused.status.current_step_index == 1
    still = decide(with_experiment(apply(snap, paused), AnalysisPhase.INCONCLUSIVE))
    assert still.status.current_step_index == 1
    promoted_status = still.status.model_copy(update={"pause_conditions": None})
    promoted = replace(
        with_experiment(apply(snap, still), AnalysisPhase.INCONCLUSIVE),
        rollout=snap.rollout.model_copy(update={"status": promoted_status}),
    )
    plan = decide(promoted)
    assert plan.status.current_step_index == 2 and not plan.status.pause_conditions


def test_an_open_ended_experiment_pauses_once_running_and_a_promote_terminates_it() -> None:
    steps = [
        {"setWeight": 20},
        {"experiment": {"templates": [{"name": "canary", "specRef": "canary"}]}},
        {"pause": {}},
    ]
    snap = at_experiment(
        AnalysisPhase.RUNNING, steps=steps, canary={"currentExperiment": {"name": NAME, "status": "Running"}}
    )
    paused = decide(snap)
    assert {c.reason for c in paused.status.pause_conditions or []} == {PauseReason.CANARY_PAUSE_STEP}
    assert paused.status.current_step_index == 1
    promoted_status = paused.status.model_copy(update={"pause_conditions": None})
    promoted = replace(
        apply(snap, paused), rollout=snap.rollout.model_copy(update={"status": promoted_status})
    )
    plan = decide(promoted)
    assert plan.status.current_step_index == 2
    follow = decide(apply(promoted, plan))
    assert of_type(follow, TerminateExperiment) == [TerminateExperiment(name=NAME)]


def test_an_abort_terminates_the_running_experiment() -> None:
    snap = at_experiment(
        AnalysisPhase.RUNNING, abort=True, canary={"currentExperiment": {"name": NAME, "status": "Running"}}
    )
    plan = decide(snap)
    assert of_type(plan, TerminateExperiment) == [TerminateExperiment(name=NAME)]


def test_a_retry_after_an_abort_starts_a_new_attempt() -> None:
    snap = at_experiment(AnalysisPhase.FAILED)
    snap = replace(snap, experiments=(replace(snap.experiments[0], terminating=True),))
    plan = decide(snap)
    [create] = of_type(plan, CreateExperiment)
    assert create.name == f"web-{V2}-1-2"


def test_an_experiment_created_by_a_pass_whose_status_was_lost_is_adopted() -> None:
    plan = decide(at_experiment(AnalysisPhase.RUNNING))
    assert not of_type(plan, CreateExperiment)
    assert plan.status.canary is not None and plan.status.canary.current_experiment is not None
    assert plan.status.canary.current_experiment.name == NAME


def test_the_experiment_step_is_exempt_from_the_progress_deadline() -> None:
    progressing = {
        "type": "Progressing",
        "status": "True",
        "reason": "ReplicaSetUpdated",
        "lastUpdateTime": T0,
        "lastTransitionTime": T0,
    }
    counts = {"replicas": 12, "updatedReplicas": 2, "readyReplicas": 12, "availableReplicas": 12}
    ro = canary_rollout(
        steps=STEPS,
        status=mid(
            1,
            conditions=[progressing],
            canary={"currentExperiment": {"name": NAME, "status": "Running"}},
            **counts,
        ),
    )
    experiment = ObservedExperiment(
        name=NAME, pod_template_hash=V2, step_index=1, phase=AnalysisPhase.RUNNING
    )
    snap = snapshot(
        with_spec(ro, progress_deadline_abort=True), now=at(3600), experiments=(experiment,), **CANARY_AT_20
    )
    plan = decide(snap)
    assert plan.status.phase is RolloutPhase.PROGRESSING and not plan.status.abort


WEIGHTED: dict[str, Any] = {
    "experiment": {
        "duration": "10m",
        "templates": [
            {"name": "baseline", "specRef": "stable", "weight": 5},
            {"name": "canary", "specRef": "canary", "weight": 5},
        ],
    }
}
TRAFFIC = [{"setWeight": 20}, WEIGHTED, {"setWeight": 50}, {"pause": {}}]


def weighted(available: bool, **snap: Any) -> Snapshot:
    ro = canary_rollout(
        steps=TRAFFIC, status=mid(1, canary={"currentExperiment": {"name": NAME, "status": "Running"}})
    )
    e = ObservedExperiment(
        name=NAME,
        pod_template_hash=V2,
        step_index=1,
        phase=AnalysisPhase.RUNNING,
        available=available,
        traffic_service=NAME,
    )
    observed = {**CANARY_AT_20, "router_canary_service": "web-canary", **snap}
    return snapshot(ro, experiments=(e,), **observed)


def test_weighted_templates_take_their_traffic_through_the_experiment_service_once_available() -> None:
    assert not of_type(decide(weighted(available=False)), SetWeight)  # the canary keeps its 20 meanwhile
    plan = decide(weighted(available=True))
    [weight] = of_type(plan, SetWeight)
    assert (weight.canary_weight, weight.canary_service) == (10, NAME)
    assert "Experiment Service" in " ".join(e.message for e in plan.events)
    settled = decide(weighted(available=True, router_canary_weight=10, router_canary_service=NAME))
    assert not of_type(settled, SetWeight)


def test_the_canary_gets_its_weight_back_when_the_experiment_is_done() -> None:
    snap = weighted(available=True, router_canary_weight=10, router_canary_service=NAME)
    done = replace(
        snap, experiments=(replace(snap.experiments[0], phase=AnalysisPhase.SUCCESSFUL, available=False),)
    )
    plan = decide(done)
    [weight] = of_type(plan, SetWeight)
    assert (weight.canary_weight, weight.canary_service) == (20, None)  # the step's weight, on the canary
    assert plan.status.current_step_index == 2


def test_an_abort_during_a_weighted_experiment_sends_everything_back_to_stable() -> None:
    snap = weighted(available=True, router_canary_weight=10, router_canary_service=NAME)
    aborted = replace(
        snap,
        rollout=snap.rollout.model_copy(
            update={"status": snap.rollout.status.model_copy(update={"abort": True})}
        ),
    )  # type: ignore[union-attr]
    [weight] = of_type(decide(aborted), SetWeight)
    assert (weight.canary_weight, weight.canary_service) == (0, None)
