"""The Experiment's pure decisions: templates up, analyses started, duration, verdicts, wind-down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollouts.api import AnalysisTemplate, Experiment
from rollouts.api.enums import AnalysisPhase
from rollouts.engine.analysis_errors import AnalysisRunError
from rollouts.engine.analysis_runs import EXPERIMENT_ANALYSIS_LABEL
from rollouts.engine.experiment import (
    CreateAnalysisRunOf,
    CreateTemplateReplicaSet,
    CreateTemplateService,
    DeleteTemplateService,
    ExperimentPlan,
    ExperimentSnapshot,
    ObservedExperimentRun,
    decide_experiment,
)
from rollouts.engine.hashing import pod_template_hash
from rollouts.engine.plan import EventType, ScaleReplicaSet, TerminateAnalysisRun
from rollouts.engine.snapshot import ObservedReplicaSet

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def pods(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}


def experiment(**spec: Any) -> Experiment:
    body = {
        "templates": [
            {"name": "baseline", "selector": {"matchLabels": {"app": "web"}}, "template": pods("web:1")},
            {
                "name": "canary",
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": pods("web:2"),
            },
        ],
        **spec,
    }
    return Experiment.model_validate(
        {"metadata": {"name": "exp", "namespace": "ns", "uid": "u-1", "generation": 1}, "spec": body}
    )


JUDGE = AnalysisTemplate.model_validate(
    {
        "metadata": {"name": "judge", "namespace": "ns"},
        "spec": {
            "args": [{"name": "canary-hash"}],
            "metrics": [
                {
                    "name": "errors",
                    "successCondition": "result[0] < 0.01",
                    "provider": {
                        "prometheus": {"address": "http://p", "query": "q{h='{{args.canary-hash}}'}"}
                    },
                }
            ],
        },
    }
)


def rs(name: str, *, replicas: int, available: int, pod_hash: str = "h") -> ObservedReplicaSet:
    return ObservedReplicaSet(
        name=name,
        pod_template_hash=pod_hash,
        replicas=replicas,
        revision=1,
        created=T0,
        available=available,
        ready=available,
        pods=replicas,
    )


def up(*, baseline: int = 1, canary: int = 2) -> dict[str, ObservedReplicaSet]:
    return {
        "baseline": rs("exp-baseline", replicas=1, available=baseline),
        "canary": rs("exp-canary", replicas=2, available=canary),
    }


def step(exp: Experiment, now: datetime, **observed: Any) -> tuple[Experiment, ExperimentPlan]:
    """Decide, and return the experiment with the plan's status written back."""
    plan = decide_experiment(ExperimentSnapshot(experiment=exp, now=now, templates=[JUDGE], **observed))
    return exp.model_copy(update={"status": plan.status}), plan


def of_type(plan: ExperimentPlan, kind: type) -> list[Any]:
    return [a for a in plan.actions if isinstance(a, kind)]


def test_a_new_experiment_creates_one_replica_set_per_template_and_is_pending() -> None:
    _, plan = step(experiment(duration="5m"), T0)
    created = of_type(plan, CreateTemplateReplicaSet)
    assert [(c.template, c.name, c.replicas) for c in created] == [
        ("baseline", "exp-baseline", 1),
        ("canary", "exp-canary", 2),
    ]
    assert plan.status.phase is AnalysisPhase.PENDING
    assert [t.status for t in plan.status.template_statuses or []] == ["Progressing", "Progressing"]
    assert plan.wake_at == T0 + timedelta(seconds=600)  # the progress deadline


def test_template_hashes_differ_from_the_bare_template_and_between_experiments() -> None:
    _, plan = step(experiment(), T0)
    other = experiment().model_copy(
        update={"metadata": experiment().metadata.model_copy(update={"name": "exp2"})}
    )
    _, plan2 = step(other, T0)
    first = {c.template: c.pod_template_hash for c in of_type(plan, CreateTemplateReplicaSet)}
    second = {c.template: c.pod_template_hash for c in of_type(plan2, CreateTemplateReplicaSet)}
    assert first["baseline"] != pod_template_hash(pods("web:1"))
    assert first["baseline"] != second["baseline"] and first["baseline"] != first["canary"]


def test_running_once_every_template_is_available_then_analyses_start() -> None:
    exp, _ = step(
        experiment(
            duration="5m",
            analyses=[
                {"name": "judge", "templateName": "judge", "args": [{"name": "canary-hash", "value": "abc"}]}
            ],
        ),
        T0,
    )
    exp, plan = step(exp, T0 + timedelta(seconds=5), replica_sets=up(canary=1))
    assert plan.status.phase is AnalysisPhase.PENDING and not of_type(plan, CreateAnalysisRunOf)
    now = T0 + timedelta(seconds=10)
    exp, plan = step(exp, now, replica_sets=up())
    assert plan.status.phase is AnalysisPhase.RUNNING and plan.status.available_at == now
    [create] = of_type(plan, CreateAnalysisRunOf)
    assert create.name == "exp-judge" and create.run.metadata.labels == {EXPERIMENT_ANALYSIS_LABEL: "judge"}
    owner = create.run.model_dump(by_alias=True)["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Experiment", "u-1", True)
    assert [(a.name, a.value) for a in create.run.spec.args or []] == [("canary-hash", "abc")]
    assert plan.wake_at == now + timedelta(minutes=5)
    assert [e.reason for e in plan.events] == ["ExperimentRunning"]


def run(phase: AnalysisPhase, **kw: Any) -> dict[str, ObservedExperimentRun]:
    return {"judge": ObservedExperimentRun(name="exp-judge", phase=phase, **kw)}


def running(**spec: Any) -> Experiment:
    exp, _ = step(experiment(**spec), T0)
    exp, _ = step(exp, T0, replica_sets=up())
    return exp


ANALYSIS = [{"name": "judge", "templateName": "judge", "args": [{"name": "canary-hash", "value": "abc"}]}]


def test_duration_ends_it_successfully_then_runs_stop_and_pods_go_after_the_delay() -> None:
    exp = running(duration="5m", analyses=ANALYSIS)
    end = T0 + timedelta(minutes=5)
    exp, plan = step(exp, end - timedelta(seconds=1), replica_sets=up(), runs=run(AnalysisPhase.RUNNING))
    assert plan.status.phase is AnalysisPhase.RUNNING and plan.wake_at == end
    exp, plan = step(exp, end, replica_sets=up(), runs=run(AnalysisPhase.RUNNING))
    assert plan.status.phase is AnalysisPhase.SUCCESSFUL and plan.status.completed_at == end
    assert of_type(plan, TerminateAnalysisRun) == [TerminateAnalysisRun(name="exp-judge")]
    assert not of_type(plan, ScaleReplicaSet) and plan.wake_at == end + timedelta(seconds=30)
    assert [t.status for t in plan.status.template_statuses or []] == ["Successful", "Successful"]
    later = end + timedelta(seconds=30)
    exp, plan = step(exp, later, replica_sets=up(), runs=run(AnalysisPhase.SUCCESSFUL, terminating=True))
    assert sorted((s.name, s.replicas) for s in of_type(plan, ScaleReplicaSet)) == [
        ("exp-baseline", 0),
        ("exp-canary", 0),
    ]
    assert plan.status.phase is AnalysisPhase.SUCCESSFUL and plan.status.completed_at == end
    assert not plan.events


@pytest.mark.parametrize("phase", [AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE])
def test_an_unsuccessful_run_ends_the_experiment_with_its_phase(phase: AnalysisPhase) -> None:
    exp = running(duration="1h", analyses=ANALYSIS)
    _, plan = step(
        exp, T0 + timedelta(minutes=1), replica_sets=up(), runs=run(phase, message="canary is worse")
    )
    assert plan.status.phase is phase
    assert "analysis 'judge' (AnalysisRun exp-judge)" in (plan.status.message or "")
    assert "canary is worse" in (plan.status.message or "")
    assert [(e.reason, e.type) for e in plan.events] == [(f"Experiment{phase.value}", EventType.WARNING)]


def test_a_required_analysis_holds_it_past_its_duration_until_it_succeeds() -> None:
    exp = running(duration="1m", analyses=[{**ANALYSIS[0], "requiredForCompletion": True}])
    late = T0 + timedelta(minutes=3)
    exp, plan = step(exp, late, replica_sets=up(), runs=run(AnalysisPhase.RUNNING))
    assert plan.status.phase is AnalysisPhase.RUNNING and "['judge']" in (plan.status.message or "")
    _, plan = step(exp, late, replica_sets=up(), runs=run(AnalysisPhase.SUCCESSFUL))
    assert plan.status.phase is AnalysisPhase.SUCCESSFUL


def test_without_duration_or_required_analysis_it_runs_until_terminated() -> None:
    exp = running()
    exp, plan = step(exp, T0 + timedelta(days=3), replica_sets=up())
    assert plan.status.phase is AnalysisPhase.RUNNING and plan.wake_at is None
    stopped = exp.model_copy(update={"spec": exp.spec.model_copy(update={"terminate": True})})
    _, plan = step(stopped, T0 + timedelta(days=3), replica_sets=up())
    assert plan.status.phase is AnalysisPhase.SUCCESSFUL and "terminate" in (plan.status.message or "")


def test_a_template_that_never_becomes_available_fails_it_at_the_progress_deadline() -> None:
    exp, _ = step(experiment(progressDeadlineSeconds=60), T0)
    exp, plan = step(exp, T0 + timedelta(seconds=59), replica_sets=up(canary=1))
    assert plan.status.phase is AnalysisPhase.PENDING and plan.wake_at == T0 + timedelta(seconds=60)
    _, plan = step(exp, T0 + timedelta(seconds=60), replica_sets=up(canary=1))
    assert plan.status.phase is AnalysisPhase.FAILED
    assert plan.status.message is not None and plan.status.message.startswith(
        "template 'canary': 1 of 2 pods available after progressDeadlineSeconds (60s)"
    )


def test_a_template_that_loses_its_pods_while_running_gets_the_deadline_again() -> None:
    exp = running(duration="1h", progressDeadlineSeconds=60)
    t1 = T0 + timedelta(minutes=10)
    exp, plan = step(exp, t1, replica_sets=up(baseline=0))
    assert plan.status.phase is AnalysisPhase.RUNNING
    _, plan = step(exp, t1 + timedelta(seconds=60), replica_sets=up(baseline=0))
    assert plan.status.phase is AnalysisPhase.FAILED and "template 'baseline'" in (plan.status.message or "")


def test_a_completed_run_that_was_deleted_is_not_started_again() -> None:
    exp = running(duration="1h", analyses=ANALYSIS)
    exp, _ = step(exp, T0 + timedelta(minutes=1), replica_sets=up(), runs=run(AnalysisPhase.SUCCESSFUL))
    _, plan = step(exp, T0 + timedelta(minutes=2), replica_sets=up())
    assert not of_type(plan, CreateAnalysisRunOf)
    assert [r.phase for r in plan.status.analysis_runs or []] == [AnalysisPhase.SUCCESSFUL]


def test_services_are_created_for_templates_that_ask_and_removed_at_scale_down() -> None:
    exp = experiment(duration="1m")
    spec = exp.spec.model_dump(by_alias=True, exclude_none=True)
    spec["templates"][1]["service"] = {}
    spec["templates"][0]["service"] = {"name": "base"}
    for t in spec["templates"]:
        t["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    exp = Experiment.model_validate(
        {"metadata": exp.metadata.model_dump(by_alias=True, exclude_none=True), "spec": spec}
    )
    exp, plan = step(exp, T0)
    assert sorted(s.name for s in of_type(plan, CreateTemplateService)) == ["base", "exp-canary"]
    exp, plan = step(exp, T0, replica_sets=up(), services=frozenset({"base", "exp-canary"}))
    assert not of_type(plan, CreateTemplateService)
    exp, _ = step(
        exp, T0 + timedelta(minutes=1), replica_sets=up(), services=frozenset({"base", "exp-canary"})
    )
    _, plan = step(
        exp, T0 + timedelta(minutes=2), replica_sets=up(), services=frozenset({"base", "exp-canary"})
    )
    assert sorted(d.name for d in of_type(plan, DeleteTemplateService)) == ["base", "exp-canary"]


def test_a_missing_analysis_template_is_an_error_naming_the_experiment() -> None:
    exp = running(duration="1m")
    broken = exp.model_copy(
        update={
            "spec": exp.spec.model_copy(
                update={
                    "analyses": experiment(analyses=[{"name": "judge", "templateName": "nope"}]).spec.analyses
                }
            )
        }
    )
    with pytest.raises(AnalysisRunError, match=r"Experiment 'exp' analysis 'judge'.*'nope' does not exist"):
        step(broken, T0, replica_sets=up())


def test_a_user_scaling_a_template_is_followed() -> None:
    exp = running()
    _, plan = step(exp, T0, replica_sets={**up(), "canary": rs("exp-canary", replicas=3, available=3)})
    assert [(s.name, s.replicas, s.previous) for s in of_type(plan, ScaleReplicaSet)] == [
        ("exp-canary", 2, 3)
    ]
