"""The Job a ``job`` metric runs for each measurement: its name, its manifest, and its verdict.

Pure: the AnalysisRun controller (``rollouts.metrics.job``) does the I/O. A measurement of a job
metric is one Job. Creating it records the measurement as Running, with the Job's name in the
measurement's metadata. Later passes read that Job and record the verdict once it has one:
Successful when the Job completes, Failed when it fails (``backoffLimit`` or
``activeDeadlineSeconds`` spent). The metric's success and failure conditions do not apply:
the Job's exit decides, as in Argo Rollouts.

The name is derived from the run, the metric and the measurement's number, so a pass that
created the Job and then crashed before writing the status finds the same Job again (the create
answers AlreadyExists) instead of starting a second one.

Which Jobs are kept: those of the measurements the status still holds (``measurementRetention``
caps them), except a running one once the run is complete. Every other Job of the run is
deleted (:func:`jobs_to_delete`), so a terminated run stops its running Job, and old Jobs go the
way old measurements go.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from rollouts.api.analysis import AnalysisRun, JobMetric
from rollouts.api.common import GROUP_VERSION
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import AnalysisRunStatus, MetricResult

__all__ = [
    "JOB_NAME_KEY",
    "METRIC_ANNOTATION",
    "RUN_ANNOTATION",
    "RUN_UID_LABEL",
    "JobVerdict",
    "job_manifest",
    "job_name",
    "job_verdict",
    "jobs_to_delete",
    "next_job_index",
]

RUN_UID_LABEL: Final = "rollouts.dev/analysis-run-uid"
"""On every Job the controller creates: the uid of its AnalysisRun (the Job cache selects on it)."""
RUN_ANNOTATION: Final = "rollouts.dev/analysis-run"
METRIC_ANNOTATION: Final = "rollouts.dev/metric"
JOB_NAME_KEY: Final = "job-name"
"""The key of the Job's name in a measurement's metadata (Argo Rollouts uses the same one)."""

_MAX_NAME: Final = 63  # the Job's name becomes a label value on its pods
_NOT_IN_NAME: Final = re.compile(r"[^a-z0-9-]+")


def job_name(run_name: str, metric_name: str, index: int) -> str:
    """``<run>-<metric>-<index>``, lowercased; shortened with a digest when too long or when the
    metric's name had characters a Job name cannot hold (so two metrics never share a name)."""
    wanted = f"{run_name}-{metric_name}"
    readable = _NOT_IN_NAME.sub("-", wanted.lower()).strip("-")
    suffix = f"-{index}"
    if readable == wanted and len(readable) + len(suffix) <= _MAX_NAME:
        return readable + suffix
    digest = hashlib.sha256(f"{run_name}\0{metric_name}".encode()).hexdigest()[:8]
    room = _MAX_NAME - len(suffix) - len(digest) - 1
    return f"{readable[:room].rstrip('-') or 'job'}-{digest}{suffix}"


def next_job_index(result: MetricResult | None) -> int:
    """The number of the next measurement: one more than the measurements that finished (each
    finished one raised ``count`` or ``error`` by one), so numbers never repeat in a run."""
    if result is None:
        return 1
    return result.count + result.error + 1


def job_manifest(run: AnalysisRun, metric_name: str, job: JobMetric, index: int) -> dict[str, Any]:
    """The Job of measurement ``index`` of ``metric_name``, owned by ``run`` (the garbage
    collector deletes it with the run). ``job`` has the run's arguments filled in already."""
    meta = run.metadata
    if not meta.uid or not meta.name:
        raise ValueError("an AnalysisRun without metadata.name and metadata.uid cannot own a Job")
    user = job.metadata
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(meta.name, metric_name, index),
            "namespace": meta.namespace,
            "labels": {**((user and user.labels) or {}), RUN_UID_LABEL: meta.uid},
            "annotations": {
                **((user and user.annotations) or {}),
                RUN_ANNOTATION: meta.name,
                METRIC_ANNOTATION: metric_name,
            },
            "ownerReferences": [
                {
                    "apiVersion": GROUP_VERSION,
                    "kind": "AnalysisRun",
                    "name": meta.name,
                    "uid": meta.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": job.spec,
    }


@dataclass(frozen=True)
class JobVerdict:
    """A finished Job's measurement phase and, for a failure, why."""

    phase: AnalysisPhase
    message: str | None


def job_verdict(job: Mapping[str, Any]) -> JobVerdict | None:
    """The verdict of a Job from its terminal conditions; ``None`` while it runs.

    Only ``Complete`` and ``Failed`` count: ``SuccessCriteriaMet`` and ``FailureTarget`` come first
    while the Job controller still stops pods, and the Job is not done until those are gone.
    """
    name = (job.get("metadata") or {}).get("name")
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return JobVerdict(AnalysisPhase.SUCCESSFUL, None)
        if condition.get("type") == "Failed":
            why = ": ".join(str(part) for part in (condition.get("reason"), condition.get("message")) if part)
            return JobVerdict(AnalysisPhase.FAILED, f"Job {name} failed" + (f" ({why})" if why else ""))
    return None


def _kept(status: AnalysisRunStatus | None) -> set[str]:
    if status is None:
        return set()
    complete = status.phase.is_completed()
    kept: set[str] = set()
    for result in status.metric_results or []:
        for measurement in result.measurements or []:
            name = (measurement.metadata or {}).get(JOB_NAME_KEY)
            if name and (measurement.phase.is_completed() or not complete):
                kept.add(name)
    return kept


def jobs_to_delete(status: AnalysisRunStatus | None, jobs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the run's ``jobs`` its status no longer keeps, sorted. A Job being deleted
    already (``deletionTimestamp``) is left alone."""
    kept = _kept(status)
    doomed = []
    for job in jobs:
        meta = job.get("metadata") or {}
        if meta.get("name") not in kept and not meta.get("deletionTimestamp"):
            doomed.append(str(meta.get("name")))
    return sorted(doomed)
