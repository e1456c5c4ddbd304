"""Job metrics in the pure engine: the Job's name and manifest, its verdict from its conditions,
which Jobs a run keeps, and how a measurement in progress is scheduled and dropped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from rollouts.api import AnalysisRun
from rollouts.api.analysis import AnalysisTemplateSpec, JobMetric
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import AnalysisRunStatus, Measurement, MetricResult
from rollouts.engine.analysis_args import ResolvedArgs, substitute_args
from rollouts.engine.analysis_jobs import (
    JOB_NAME_KEY,
    RUN_UID_LABEL,
    job_manifest,
    job_name,
    job_verdict,
    jobs_to_delete,
    next_job_index,
)
from rollouts.engine.analysis_schedule import advance, plan_measurements

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
POD = {
    "restartPolicy": "Never",
    "containers": [{"name": "smoke", "image": "curl:8", "args": ["{{args.url}}"]}],
}


def job_metric(name: str = "smoke", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": {"job": {"spec": {"backoffLimit": 0, "template": {"spec": POD}}}},
        **fields,
    }


def run(*metrics: dict[str, Any], status: dict[str, Any] | None = None) -> AnalysisRun:
    return AnalysisRun.model_validate(
        {
            "metadata": {"name": "web-7f9c-2", "namespace": "shop", "uid": "1234-abcd"},
            "spec": {"metrics": list(metrics), "args": [{"name": "url", "value": "http://web"}]},
            **({"status": status} if status else {}),
        }
    )


def running(job: str, *, resume: float = 30) -> Measurement:
    return Measurement(
        phase=AnalysisPhase.RUNNING,
        started_at=T0,
        metadata={JOB_NAME_KEY: job},
        resume_at=T0 + timedelta(seconds=resume),
    )


def finished(job: str, phase: AnalysisPhase = AnalysisPhase.SUCCESSFUL) -> Measurement:
    return Measurement(phase=phase, started_at=T0, finished_at=T0, metadata={JOB_NAME_KEY: job})


@pytest.mark.parametrize(
    ("run_name", "metric", "index", "pattern"),
    [
        ("web-7f9c-2", "smoke", 1, r"web-7f9c-2-smoke-1"),
        ("web-7f9c-2", "Smoke Test", 3, r"web-7f9c-2-smoke-test-[0-9a-f]{8}-3"),  # not a valid name as is
        ("a" * 60, "smoke", 12, r"a{51}-[0-9a-f]{8}-12"),  # shortened to 63 characters
    ],
)
def test_job_names_are_readable_valid_and_at_most_63_characters(
    run_name: str, metric: str, index: int, pattern: str
) -> None:
    name = job_name(run_name, metric, index)
    assert re.fullmatch(pattern, name), name
    assert len(name) <= 63


def test_metrics_that_differ_only_in_case_get_different_jobs() -> None:
    assert job_name("r", "smoke", 1) != job_name("r", "Smoke", 1)


def test_the_next_index_counts_every_finished_measurement_so_names_never_repeat() -> None:
    assert next_job_index(None) == 1
    assert next_job_index(MetricResult(name="smoke", phase=AnalysisPhase.RUNNING, count=2, error=1)) == 4


def test_the_manifest_is_owned_by_the_run_and_carries_the_users_metadata() -> None:
    metric = JobMetric.model_validate(
        {"metadata": {"labels": {"team": "web", RUN_UID_LABEL: "spoofed"}, "annotations": {"a": "b"}},
         "spec": {"backoffLimit": 0, "template": {"spec": POD}}}
    )  # fmt: skip
    manifest = job_manifest(run(job_metric()), "smoke", metric, 2)
    meta = manifest["metadata"]
    assert (manifest["apiVersion"], manifest["kind"], meta["namespace"]) == ("batch/v1", "Job", "shop")
    assert meta["name"] == "web-7f9c-2-smoke-2"
    assert meta["labels"] == {"team": "web", RUN_UID_LABEL: "1234-abcd"}  # the run's uid wins
    assert meta["annotations"]["a"] == "b" and meta["annotations"]["rollouts.dev/metric"] == "smoke"
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "AnalysisRun", "web-7f9c-2", "1234-abcd", True,
    )  # fmt: skip
    assert manifest["spec"]["backoffLimit"] == 0


def test_args_are_filled_into_the_job_spec() -> None:
    r = run(job_metric())
    resolved = substitute_args(
        r.spec.metrics[0], ResolvedArgs(values={"url": "http://web"}, problems={}).values
    )
    assert resolved.provider.job is not None
    assert resolved.provider.job.spec["template"]["spec"]["containers"][0]["args"] == ["http://web"]
    assert r.spec.metrics[0].provider.job.spec["template"]["spec"]["containers"][0]["args"] == [  # type: ignore[union-attr]
        "{{args.url}}"
    ]


def condition(kind: str, status: str = "True", reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([], None),
        ([condition("SuccessCriteriaMet", reason="CompletionsReached")], None),  # pods still stopping
        ([condition("FailureTarget", reason="BackoffLimitExceeded")], None),
        ([condition("Complete", "False")], None),
        (
            [condition("SuccessCriteriaMet"), condition("Complete", reason="CompletionsReached")],
            (AnalysisPhase.SUCCESSFUL, None),
        ),
        (
            [
                condition(
                    "Failed",
                    reason="BackoffLimitExceeded",
                    message="Job has reached the specified backoff limit",
                )
            ],
            (
                AnalysisPhase.FAILED,
                "Job j failed (BackoffLimitExceeded: Job has reached the specified backoff limit)",
            ),
        ),
        (
            [condition("Failed", reason="DeadlineExceeded")],
            (AnalysisPhase.FAILED, "Job j failed (DeadlineExceeded)"),
        ),
    ],
)
def test_only_the_terminal_conditions_decide(
    conditions: list[dict[str, str]], expected: tuple[AnalysisPhase, str | None] | None
) -> None:
    verdict = job_verdict({"metadata": {"name": "j"}, "status": {"conditions": conditions}})
    assert (None if verdict is None else (verdict.phase, verdict.message)) == expected


def job(name: str, *, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T12:00:00Z"
    return {"metadata": meta}


def status(phase: AnalysisPhase, *measurements: Measurement) -> AnalysisRunStatus:
    return AnalysisRunStatus(
        phase=phase, metric_results=[MetricResult(name="smoke", phase=phase, measurements=list(measurements))]
    )


@pytest.mark.parametrize(
    ("run_status", "expected"),
    [
        (None, ["j1", "j2", "j3"]),  # nothing recorded keeps nothing (the run's status was reset)
        (status(AnalysisPhase.RUNNING, finished("j2"), running("j3")), ["j1"]),  # j1 fell out of retention
        (status(AnalysisPhase.FAILED, finished("j2")), ["j1", "j3"]),  # j3 still ran when the run ended
        (status(AnalysisPhase.SUCCESSFUL, finished("j1"), finished("j2"), finished("j3")), []),
    ],
)
def test_jobs_the_status_no_longer_keeps_are_deleted(
    run_status: AnalysisRunStatus | None, expected: list[str]
) -> None:
    assert jobs_to_delete(run_status, [job("j1"), job("j2"), job("j3"), job("j0", deleting=True)]) == expected


def test_a_running_job_is_looked_at_on_every_pass_and_at_resume_at_at_the_latest() -> None:
    r = run(
        job_metric(),
        status=status(AnalysisPhase.RUNNING, running("web-7f9c-2-smoke-1")).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        | {"startedAt": "2026-12-01T12:00:00Z"},
    )
    early = plan_measurements(r, T0 + timedelta(seconds=10))
    assert early.due == () and [m.name for m in early.in_progress] == ["smoke"]  # a Job change wakes it
    assert early.wake_at == T0 + timedelta(seconds=30)
    assert [m.name for m in plan_measurements(r, T0 + timedelta(seconds=30)).due] == ["smoke"]


def test_finishing_the_job_replaces_the_running_measurement_and_counts_once() -> None:
    r = run(job_metric())
    r = r.model_copy(update={"status": advance(r, T0, {"smoke": running("j1")})})
    result = r.status.metric_results[0]  # type: ignore[union-attr,index]
    assert (result.phase, result.count, len(result.measurements or [])) == (AnalysisPhase.RUNNING, 0, 1)
    done = advance(r, T0 + timedelta(seconds=5), {"smoke": finished("j1")})
    result = done.metric_results[0]  # type: ignore[index]
    assert (done.phase, result.count, result.successful, len(result.measurements or [])) == (
        AnalysisPhase.SUCCESSFUL, 1, 1, 1,
    )  # fmt: skip


def test_a_run_decided_by_another_metric_drops_the_unfinished_job_measurement() -> None:
    failing = {
        "name": "rate",
        "successCondition": "result >= 0.95",
        "provider": {"prometheus": {"address": "http://prom:9090", "query": "q"}},
    }
    r = run(job_metric(), failing)
    r = r.model_copy(update={"status": advance(r, T0, {"smoke": running("j1")})})
    failed = Measurement(phase=AnalysisPhase.FAILED, started_at=T0, finished_at=T0, value="0.5")
    done = advance(r, T0 + timedelta(seconds=1), {"rate": failed})
    assert done.phase is AnalysisPhase.FAILED
    smoke = next(m for m in done.metric_results or [] if m.name == "smoke")
    assert smoke.measurements is None and smoke.phase.is_completed()
    assert jobs_to_delete(done, [job("j1")]) == ["j1"]


def test_terminating_a_run_with_a_running_job_completes_it() -> None:
    r = run(job_metric())
    r = r.model_copy(update={"status": advance(r, T0, {"smoke": running("j1")})})
    r = r.model_copy(update={"spec": r.spec.model_copy(update={"terminate": True})})
    done = advance(r, T0 + timedelta(seconds=1), {})
    assert done.phase is AnalysisPhase.SUCCESSFUL
    assert done.metric_results[0].message == "run terminated before the first measurement"  # type: ignore[index]
    assert jobs_to_delete(done, [job("j1")]) == ["j1"]


@pytest.mark.parametrize(
    ("pod", "message"),
    [
        ({"containers": [{"name": "c", "image": "x"}]}, "restartPolicy is not set"),
        (
            {"restartPolicy": "Always", "containers": [{"name": "c", "image": "x"}]},
            "restartPolicy is 'Always'",
        ),
        ({"restartPolicy": "Never", "containers": []}, "containers must list at least one container"),
        (
            {"restartPolicy": "Never", "containers": [{"name": "C_1", "image": "x"}]},
            "spec.template.spec.containers[0].name",
        ),
    ],
)
def test_a_job_its_pods_cannot_run_is_refused_naming_the_field(pod: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        JobMetric.model_validate({"spec": {"template": {"spec": pod}}})


def test_a_secret_is_never_pasted_into_a_job() -> None:
    with pytest.raises(ValidationError, match=r"Secret-backed argument.*'token'.*valueFrom.secretKeyRef"):
        AnalysisTemplateSpec.model_validate(
            {
                "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                "metrics": [job_metric(provider={"job": {"spec": {"template": {"spec": {
                    **POD, "containers": [{"name": "c", "image": "x", "args": ["{{args.token}}"]}]}}}}})],
            }
        )  # fmt: skip
