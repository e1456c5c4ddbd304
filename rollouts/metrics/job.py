"""The job provider: each measurement runs a Kubernetes Job, and the Job's end is the verdict.

Prometheus and web answer within one call; a Job runs for seconds or minutes. So a measurement of
a job metric spans passes of the AnalysisRun controller: the first creates the Job and records the
measurement as Running (the Job's name in its metadata, ``resumeAt`` set); later passes read the
Job and record the verdict once it has one. The Job cache wakes the run whenever one of its Jobs
changes, and ``resumeAt`` is only the fallback. What the Job is called, how it is judged and which
Jobs are kept is pure (``rollouts.engine.analysis_jobs``); this module does the API calls.

It is asynchronous, unlike the other providers: it talks to the API server through the
controller's own client, on the event loop, instead of holding a worker thread per Job.

Whatever goes wrong is an Error measurement naming the Job and the reason, never a success: a
Job that cannot be created (RBAC, a quota, a spec the API server refuses), a Job someone deleted
before it finished, a name taken by a Job this run does not own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from rollouts.api.analysis import AnalysisRun, Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import Measurement as StatusMeasurement
from rollouts.api.measurement import MetricResult
from rollouts.engine.analysis_jobs import (
    JOB_NAME_KEY,
    RUN_UID_LABEL,
    job_manifest,
    job_verdict,
    next_job_index,
)
from rollouts.engine.analysis_schedule import unfinished_measurement
from rollouts.kube import AlreadyExists, KubeClient, KubeError, KubeObject
from rollouts.metrics.provider import Measurement, error

__all__ = ["JOB", "RESUME_AFTER", "JobProvider", "in_progress_job"]

JOB: Final = ("batch/v1", "Job")
RESUME_AFTER: Final = timedelta(seconds=30)
"""Look at a running Job again after this even without a change from the Job cache."""

log = logging.getLogger(__name__)

JobLookup = Callable[[str, str], KubeObject | None]
"""``(namespace, name)`` to the Job in the cache, or ``None``."""


def in_progress_job(result: MetricResult | None) -> tuple[StatusMeasurement, str] | None:
    """The metric's measurement still in progress and the name of its Job, if there is one."""
    unfinished = unfinished_measurement(result)
    name = None if unfinished is None else (unfinished.metadata or {}).get(JOB_NAME_KEY)
    return (unfinished, name) if unfinished is not None and name else None


class JobProvider:
    """Starts and follows the Jobs of job metrics."""

    def __init__(self, client: KubeClient, cached: JobLookup, clock: Callable[[], datetime]) -> None:
        self._client = client
        self._cached = cached
        self._clock = clock

    async def measure(self, run: AnalysisRun, metric: Metric, result: MetricResult | None) -> Measurement:
        """Start the metric's next Job, or look at the one in progress. Never raises."""
        running = in_progress_job(result)
        try:
            found = await (
                self._start(run, metric, result) if running is None else self._follow(run, metric, running[1])
            )
        except KubeError as exc:
            return error(f"metric {metric.name!r}: {exc}")
        if isinstance(found, Measurement):
            return found
        return self._judged(found, None if running is None else running[0].resume_at)

    async def _follow(self, run: AnalysisRun, metric: Metric, name: str) -> KubeObject | Measurement:
        job = await self._read(run.metadata.namespace or "", name)
        if job is None:
            return error(
                f"metric {metric.name!r}: Job {name} was deleted before it finished",
                metadata={JOB_NAME_KEY: name},
            )
        return job

    async def _read(self, namespace: str, name: str) -> KubeObject | None:
        return self._cached(namespace, name) or await self._client.get_or_none(
            *JOB, namespace=namespace, name=name
        )

    async def _start(
        self, run: AnalysisRun, metric: Metric, result: MetricResult | None
    ) -> KubeObject | Measurement:
        assert metric.provider.job is not None
        manifest = job_manifest(run, metric.name, metric.provider.job, next_job_index(result))
        name = manifest["metadata"]["name"]
        namespace = run.metadata.namespace or ""
        try:
            created = await self._client.create(manifest)
        except AlreadyExists:  # this pass's Job, made by a pass that stopped before its status write
            found = await self._read(namespace, name)
            labels = ((found or {}).get("metadata") or {}).get("labels") or {}
            if found is None or labels.get(RUN_UID_LABEL) != run.metadata.uid:
                return error(
                    f"metric {metric.name!r}: a Job named {name} exists in {namespace} and does not "
                    "belong to this AnalysisRun; delete or rename it",
                    metadata={JOB_NAME_KEY: name},
                )
            return found
        except KubeError as exc:
            return error(
                f"metric {metric.name!r}: could not create Job {name} ({exc.reason or exc.status}): "
                f"{exc.message}",
                metadata={JOB_NAME_KEY: name},
            )
        log.info(
            "AnalysisRun %s/%s: started Job %s for metric %r", namespace, run.metadata.name, name, metric.name
        )
        return created

    def _judged(self, job: KubeObject, resume_at: datetime | None) -> Measurement:
        """The Job's measurement; while it runs, the deadline to look again stays as it was until it
        passes, so a Job event that changes nothing writes no status."""
        name = str((job.get("metadata") or {}).get("name"))
        metadata = {JOB_NAME_KEY: name}
        verdict = job_verdict(job)
        if verdict is None:
            now = self._clock()
            if resume_at is None or resume_at <= now:
                resume_at = now + RESUME_AFTER
            return Measurement(phase=AnalysisPhase.RUNNING, metadata=metadata, resume_at=resume_at)
        status = job.get("status") or {}
        value = {"succeeded": int(status.get("succeeded") or 0), "failed": int(status.get("failed") or 0)}
        return Measurement(phase=verdict.phase, value=value, message=verdict.message, metadata=metadata)
