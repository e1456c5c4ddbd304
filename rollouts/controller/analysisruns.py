"""The AnalysisRun controller: measure each run's metrics when they are due, record, judge, write status.

It runs beside the Rollout controller in the same process and on the same runner
(:mod:`~rollouts.controller.runner`: a work queue of ``(namespace, name)`` keys, a few workers,
backoff), so a run is never handled by two workers at once and changes coalesce. One pass over
one run is a straight list of steps:

1. read the run from the watch cache and parse it (a run that does not parse gets an Error
   status naming the problem, once);
2. ask the engine which metrics are due now (:func:`plan_measurements`, deadlines computed from
   the status: nothing is remembered in memory between passes);
3. read the Secrets the run's arguments name, resolve the arguments, and take the due
   measurements concurrently: Prometheus and web in worker threads (they are synchronous), job
   metrics on the event loop (:mod:`rollouts.metrics.job`: start the Job, or look at it again);
4. record and judge them (:func:`advance`), write the status through the status subresource with
   the resourceVersion as a precondition (a stale pass fails with Conflict instead of
   overwriting a newer status), and remember the answer in the cache;
5. delete the run's Jobs its new status no longer keeps (old measurements, or a Job still running
   when the run completed), then schedule the next pass at the next deadline.

A change to one of the run's Jobs (the Job cache selects them by the run-uid label) wakes the run.

A Conflict on the status write is no failure: a newer copy of the run is on its way from the
watch, so the pass is tried again shortly, without backoff. Other API errors are retried with
backoff; anything else is a bug, which the runner logs and retries with backoff.

A restart therefore loses nothing and repeats nothing: every deadline is read back from
``status.startedAt`` and the measurements' ``finishedAt``. A pass that crashed after measuring
but before its status write simply measures again; the lost measurement was never recorded.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from rollouts.api import AnalysisRun
from rollouts.api.common import GROUP_VERSION
from rollouts.api.enums import AnalysisPhase
from rollouts.api.measurement import Measurement as StatusMeasurement
from rollouts.api.measurement import MetricResult
from rollouts.controller.outcome import Outcome
from rollouts.controller.queue import WorkQueue
from rollouts.controller.runner import Runner
from rollouts.engine.analysis_args import ResolvedArgs, resolve_run_args, secret_names
from rollouts.engine.analysis_jobs import RUN_UID_LABEL, jobs_to_delete
from rollouts.engine.analysis_schedule import advance, plan_measurements
from rollouts.engine.analysis_ttl import expires_at
from rollouts.engine.shards import instance_selector
from rollouts.kube import Conflict, EventRecorder, Informer, Key, KubeClient, KubeError, KubeObject
from rollouts.metrics import Providers, ProviderSettings, take_measurement
from rollouts.metrics.job import JOB, JobProvider, in_progress_job
from rollouts.metrics.measuring import resolved_metric
from rollouts.metrics.provider import Measurement

__all__ = ["ANALYSIS_RUN", "AnalysisRunController", "AnalysisRunOptions"]

ANALYSIS_RUN = ("rollouts.dev/v1alpha1", "AnalysisRun")

log = logging.getLogger(__name__)

CONFLICT_REQUEUE_SECONDS = 0.05
"""After a Conflict: the watch event of the newer version arrives within this, usually."""

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class AnalysisRunOptions:
    """How to run: namespaces (``None``: all), the default Prometheus, and concurrency.

    ``prometheus_address`` is the controller's ``--prometheus-address`` (when ``None`` the
    Prometheus provider falls back to ``$PROMETHEUS_ADDRESS``). ``workers`` runs are handled at
    once; ``measure_threads`` measurements are in flight at once across all runs.
    """

    namespaces: Sequence[str] | None = None
    prometheus_address: str | None = None
    workers: int = 8
    measure_threads: int = 16
    instance_id: str | None = None
    """The shard (``engine/shards.py``) of the runs it watches itself (caches given: theirs)."""


@dataclass
class _Stats:
    """Counters for benchmarks and /metrics: measurements taken and status writes made."""

    measurements: int = 0
    status_writes: int = 0
    conflicts: int = 0
    by_phase: dict[str, int] = field(default_factory=dict)


class AnalysisRunController:
    """Measures AnalysisRuns until cancelled: ``await AnalysisRunController(client, options).run()``.

    ``informers``: AnalysisRun watch caches the process already runs (the Rollout controller's);
    this controller then adds its change handler to them instead of opening its own watches.
    """

    def __init__(
        self,
        client: KubeClient,
        options: AnalysisRunOptions | None = None,
        *,
        informers: Sequence[Informer] | None = None,
        providers: Providers | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self.options = options or AnalysisRunOptions()
        self.providers = providers or Providers(
            ProviderSettings(prometheus_address=self.options.prometheus_address)
        )
        self.runner = Runner(
            "AnalysisRun", self.reconcile, workers=self.options.workers, retry_log_level=logging.WARNING
        )
        self.queue: WorkQueue[Key] = self.runner.queue
        self.stats = _Stats()
        self._client = client
        self._clock = clock
        self._recorder = EventRecorder(client)
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, self.options.measure_threads), thread_name_prefix="measure"
        )
        self._own_informers = informers is None
        if informers is None:
            namespaces: list[str | None] = (
                list(self.options.namespaces) if self.options.namespaces is not None else [None]
            )
            informers = [
                Informer(
                    client,
                    *ANALYSIS_RUN,
                    namespace=ns,
                    label_selector=instance_selector(self.options.instance_id),
                    transform=_without_managed_fields,
                    optional=True,
                )
                for ns in namespaces
            ]
        self.informers = list(informers)
        for informer in self.informers:
            informer.add_handler(self._changed)
        self.job_informers = [
            Informer(
                client,
                *JOB,
                namespace=informer.namespace,
                label_selector=RUN_UID_LABEL,
                transform=_job_status_only,
                on_change=self._job_changed,
            )
            for informer in self.informers
        ]
        self.jobs = JobProvider(client, self._cached_job, clock)

    # -- wiring --------------------------------------------------------------------------------

    def _changed(self, old: KubeObject | None, new: KubeObject | None) -> None:
        obj = new if new is not None else old
        meta = (obj or {}).get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if new is None:
            self.queue.discard(key)
        else:
            self.queue.add(key)

    def _job_changed(self, old: KubeObject | None, new: KubeObject | None) -> None:
        meta = (new if new is not None else old or {}).get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == ANALYSIS_RUN[1] and ref.get("controller"):
                self.queue.add((str(meta.get("namespace") or ""), str(ref.get("name"))))

    def _cached_job(self, namespace: str, name: str) -> KubeObject | None:
        for informer in self.job_informers:
            if informer.namespace in (None, namespace) and (job := informer.get(namespace, name)):
                return job
        return None

    def _jobs_of(self, uid: str) -> list[KubeObject]:
        return [job for informer in self.job_informers for job in informer.owned_by(uid)]

    async def wait_synced(self) -> None:
        await asyncio.gather(*(informer.synced.wait() for informer in self.informers))

    async def run(self) -> None:
        """Watch (unless sharing the caller's caches) and work until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                if self._own_informers:
                    for informer in self.informers:
                        group.create_task(informer.run(), name=f"watch-analysisruns-{informer.namespace}")
                # Not waited for: until it is synced, a Job is read with a GET and none is deleted.
                for informer in self.job_informers:
                    group.create_task(informer.run(), name=f"watch-jobs-{informer.namespace}")
                await self.wait_synced()
                for informer in self.informers:
                    for obj in informer.list():
                        self._changed(None, obj)
                group.create_task(self.runner.run(), name="analysisrun-workers")
        finally:
            self.queue.shutdown()
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _cached(self, key: Key) -> tuple[Informer, KubeObject] | None:
        for informer in self.informers:
            if informer.namespace in (None, key[0]):
                obj = informer.get(*key)
                if obj is not None:
                    return informer, obj
        return None

    # -- one pass ------------------------------------------------------------------------------

    async def reconcile(self, key: Key) -> Outcome:
        """One pass over the run ``key``; ``requeue_after``: seconds until the next pass is due."""
        try:
            wake_in = await self._pass(key)
        except Conflict as exc:
            self.stats.conflicts += 1
            return Outcome(requeue_after=CONFLICT_REQUEUE_SECONDS, error=f"Conflict: {exc.message}")
        except KubeError as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc.message}", retry=True)
        return Outcome(requeue_after=wake_in)

    async def _pass(self, key: Key) -> float | None:
        """Seconds until the next pass is due (``None``: none); raises the API's errors."""
        cached = self._cached(key)
        if cached is None:
            return None
        informer, obj = cached
        try:
            run = AnalysisRun.model_validate(obj)
        except ValidationError as exc:
            await self._invalid(informer, obj, exc)
            return None
        now = self._clock()
        plan = plan_measurements(run, now)
        due = plan.due + plan.in_progress
        taken = await self._measure(key[0], run, due) if due else {}
        status = advance(run, now, taken)
        if _dump(status) != _dump(run.status):
            await self._write_status(informer, obj, status)
            if status.phase.is_completed() and (run.status is None or not run.status.phase.is_completed()):
                await self._completed(obj, status.phase, status.message)
        await self._delete_jobs(key[0], run, status)
        expiry = None if _owned_by_a_rollout(obj) else expires_at(run.spec, status)
        if expiry is not None and self._clock() >= expiry:
            log.info("AnalysisRun %s/%s: deleting it, its ttlStrategy has run out", key[0], key[1])
            await self._client.delete(*ANALYSIS_RUN, namespace=key[0], name=key[1], uid=run.metadata.uid)
            return None
        after = plan_measurements(run.model_copy(update={"status": status}), self._clock())
        wake_at = min((t for t in (after.wake_at, expiry) if t is not None), default=None)
        if wake_at is None:
            return None
        return max(0.0, (wake_at - self._clock()).total_seconds())

    async def _measure(
        self, namespace: str, run: AnalysisRun, due: Sequence[Any]
    ) -> dict[str, StatusMeasurement]:
        args = await self._resolve_args(namespace, run)
        loop = asyncio.get_running_loop()
        results = {r.name: r for r in (run.status.metric_results or [])} if run.status else {}

        async def one(metric: Any) -> tuple[str, StatusMeasurement]:
            started = self._clock()
            measured: Measurement
            running = in_progress_job(results.get(metric.name)) if metric.provider.job else None
            if metric.provider.job is not None:
                if running is not None and running[0].started_at is not None:
                    started = running[0].started_at
                measured = await self._measure_job(run, metric, args, results.get(metric.name))
            else:
                measured = await loop.run_in_executor(
                    self._executor, take_measurement, self.providers, metric, args
                )
            if running is None or measured.phase.is_completed():  # not each look at a running Job
                self.stats.measurements += 1
                phase = measured.phase.value
                self.stats.by_phase[phase] = self.stats.by_phase.get(phase, 0) + 1
            return metric.name, measured.to_status(started_at=started, finished_at=self._clock())

        return dict(await asyncio.gather(*(one(metric) for metric in due)))

    async def _measure_job(
        self, run: AnalysisRun, metric: Any, args: ResolvedArgs, result: MetricResult | None
    ) -> Measurement:
        resolved = resolved_metric(metric, args)
        if isinstance(resolved, Measurement):
            return resolved
        return await self.jobs.measure(run, resolved, result)

    async def _delete_jobs(self, namespace: str, run: AnalysisRun, status: Any) -> None:
        """Delete the run's Jobs ``status`` no longer keeps, with their pods."""
        uid = run.metadata.uid
        if not uid:
            return
        for name in jobs_to_delete(status, self._jobs_of(uid)):
            log.info("AnalysisRun %s/%s: deleting Job %s", namespace, run.metadata.name, name)
            await self._client.delete(*JOB, namespace=namespace, name=name, propagation="Background")

    async def _resolve_args(self, namespace: str, run: AnalysisRun) -> ResolvedArgs:
        """The run's args with Secret values read now (never stored in the run)."""
        secrets: dict[str, Mapping[str, str] | None] = {}
        for name in sorted(secret_names(run.spec.args)):
            secret = await self._client.get_or_none("v1", "Secret", namespace=namespace, name=name)
            secrets[name] = None if secret is None else _decoded(secret)
        return resolve_run_args(run.spec.args, secrets=secrets, namespace=namespace)

    async def _write_status(self, informer: Informer, obj: KubeObject, status: Any) -> None:
        meta = obj.get("metadata") or {}
        body = {
            "metadata": {"resourceVersion": meta.get("resourceVersion")},
            "status": status.model_dump(by_alias=True, exclude_none=True, mode="json"),
        }
        started = time.monotonic()
        written = await self._client.patch(
            *ANALYSIS_RUN,
            namespace=meta.get("namespace"),
            name=str(meta.get("name")),
            patch=body,
            subresource="status",
        )
        self.stats.status_writes += 1
        # notify: the Rollout controller shares this cache and must see the new phase (the watch
        # event of this version will be dropped as a replay).
        informer.remember(_without_managed_fields(written), notify=True)
        log.debug(
            "AnalysisRun %s/%s status written in %.3fs",
            meta.get("namespace"),
            meta.get("name"),
            time.monotonic() - started,
        )

    async def _completed(self, obj: KubeObject, phase: AnalysisPhase, message: str | None) -> None:
        meta = obj.get("metadata") or {}
        warning = phase is not AnalysisPhase.SUCCESSFUL
        text = f"AnalysisRun {meta.get('name')} {phase.value}" + (f": {message}" if message else "")
        log.log(logging.WARNING if warning else logging.INFO, "%s/%s", meta.get("namespace"), text)
        await self._recorder.record(
            obj, reason=f"AnalysisRun{phase.value}", message=text, type="Warning" if warning else "Normal"
        )

    async def _invalid(self, informer: Informer, obj: KubeObject, exc: ValidationError) -> None:
        """A run the API model rejects: Error status naming the fields, written once."""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'spec'}: {err['msg']}" for err in exc.errors()[:5]
        )
        message = (
            f"the AnalysisRun is invalid and will not be measured ({problems}); fix it and create it again"
        )
        status = (obj.get("status") or {}) if isinstance(obj.get("status"), dict) else {}
        if status.get("phase") == AnalysisPhase.ERROR.value and status.get("message") == message:
            return
        meta = obj.get("metadata") or {}
        written = await self._client.patch(
            *ANALYSIS_RUN,
            namespace=meta.get("namespace"),
            name=str(meta.get("name")),
            patch={"status": {"phase": AnalysisPhase.ERROR.value, "message": message}},
            subresource="status",
        )
        informer.remember(_without_managed_fields(written), notify=True)
        await self._completed(obj, AnalysisPhase.ERROR, message)


def _owned_by_a_rollout(obj: KubeObject) -> bool:
    """A Rollout's run: the Rollout's pass applies its ttlStrategy (``engine/runs.py``), once the
    Rollout's status holds the run's verdict."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("kind") == "Rollout" and ref.get("apiVersion") == GROUP_VERSION for ref in refs)


def _dump(status: Any) -> Any:
    return None if status is None else status.model_dump(by_alias=True, exclude_none=True, mode="json")


def _decoded(secret: KubeObject) -> dict[str, str]:
    data = {
        k: base64.b64decode(v).decode("utf-8", errors="replace")
        for k, v in (secret.get("data") or {}).items()
    }
    data.update({k: str(v) for k, v in (secret.get("stringData") or {}).items()})
    return data


def _job_status_only(job: KubeObject) -> KubeObject:
    """What the Job cache keeps: the metadata the lookups read and the status (no pod template).
    The resourceVersion too: the cache takes an event with the version it holds for a replay."""
    meta = job.get("metadata") or {}
    kept = {
        k: meta[k]
        for k in (
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "labels",
            "ownerReferences",
            "deletionTimestamp",
        )
        if k in meta
    }
    return {
        "apiVersion": job.get("apiVersion"),
        "kind": job.get("kind"),
        "metadata": kept,
        "status": job.get("status") or {},
    }


def _without_managed_fields(obj: KubeObject) -> KubeObject:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj
