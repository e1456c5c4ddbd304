"""The Experiment controller: observe -> decide (``engine.experiment``) -> act -> write status.

It runs in the controller process beside the Rollout and AnalysisRun controllers, on a runner of
its own (a work queue of ``(namespace, name)`` keys, workers, backoff), and reads everything from
the Rollout controller's watch caches (no watch of its own): the Experiments (which the Rollouts
that start them read too), and the ReplicaSets, Services and AnalysisRuns whose controller
ownerReference is an Experiment's uid, which wake it. A change of an AnalysisTemplate is seen at
the experiment's next pass.

One pass: parse the Experiment (an invalid one gets phase Error naming the fields, once), read
what it owns from the caches, decide, apply the actions in plan order (the first failure stops
the pass; it is retried with backoff), then write the status through the status subresource with
the resourceVersion decided from (a concurrent edit makes it a 409 and the pass runs again), record
the plan's Events, and sleep until its wake-up. An analysis that cannot be built (a missing
AnalysisTemplate or argument) changes nothing: the status message and a Warning Event say what
is missing, and the pass is retried with backoff, so creating the template later is enough.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from rollouts.api import InvalidObjectError
from rollouts.api.common import parse_timestamp
from rollouts.api.enums import AnalysisPhase
from rollouts.api.experiment import Experiment, ExperimentStatus
from rollouts.api.validation import parse_as
from rollouts.controller import caches as kinds
from rollouts.controller.caches import Caches, ParsedByVersion
from rollouts.controller.experiment_objects import template_replica_set, template_service, traffic_service
from rollouts.controller.outcome import Outcome
from rollouts.controller.queue import WorkQueue
from rollouts.controller.runner import Runner
from rollouts.controller.shards import claim
from rollouts.engine.analysis_errors import AnalysisRunError
from rollouts.engine.analysis_runs import EXPERIMENT_ANALYSIS_LABEL
from rollouts.engine.experiment import (
    EXPERIMENT_TEMPLATE_LABEL,
    CreateAnalysisRunOf,
    CreateTemplateReplicaSet,
    CreateTemplateService,
    CreateTrafficService,
    DeleteTemplateService,
    ExperimentAction,
    ExperimentPlan,
    ExperimentSnapshot,
    ObservedExperimentRun,
    decide_experiment,
)
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.engine.plan import ScaleReplicaSet, TerminateAnalysisRun
from rollouts.engine.snapshot import ObservedReplicaSet, Template
from rollouts.kube import (
    AlreadyExists,
    Conflict,
    EventRecorder,
    Informer,
    Invalid,
    Key,
    KubeClient,
    KubeError,
    KubeObject,
    NotFound,
    controller_of,
    meta,
)

__all__ = ["EXPERIMENT", "ExperimentController"]

EXPERIMENT = ("rollouts.dev/v1alpha1", "Experiment")

log = logging.getLogger(__name__)

CONFLICT_REQUEUE_SECONDS = 0.05

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _parse(raw: KubeObject) -> Experiment:
    return parse_as(Experiment, raw)


class ExperimentController:
    """Runs Experiments until cancelled: ``await ExperimentController(client, caches, ...).run()``."""

    def __init__(
        self,
        client: KubeClient,
        caches: Caches,
        *,
        recorder: EventRecorder | None = None,
        workers: int = 2,
        clock: Clock = _utc_now,
    ) -> None:
        self.runner = Runner("Experiment", self.reconcile, workers=workers, retry_log_level=logging.WARNING)
        self.queue: WorkQueue[Key] = self.runner.queue
        self._client = client
        self._caches = caches
        self._clock = clock
        self._recorder = recorder or EventRecorder(client)
        self._parsed: ParsedByVersion[Experiment] = ParsedByVersion(_parse)
        self._keys: dict[str, Key] = {}
        self.informers = caches.informers[kinds.EXPERIMENT]
        for informer in self.informers:
            informer.add_handler(self._changed)
        for watched in (kinds.REPLICA_SET, kinds.SERVICE, kinds.ANALYSIS_RUN):
            for informer in caches.informers.get(watched, []):
                informer.add_handler(self._owned_changed)

    # -- wiring --------------------------------------------------------------------------------

    def _changed(self, old: KubeObject | None, new: KubeObject | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        m = meta(obj)
        key = (str(m.get("namespace") or ""), str(m.get("name") or ""))
        uid = str(m.get("uid"))
        if new is None:
            self._keys.pop(uid, None)
            self._parsed.forget(uid)
            self.queue.discard(key)
        else:
            self._keys[uid] = key
            self.queue.add(key)

    def _owned_changed(self, old: KubeObject | None, new: KubeObject | None) -> None:
        for obj in (new, old):
            ref = controller_of(obj) if obj is not None else None
            if ref is not None and ref.get("kind") == EXPERIMENT[1]:
                key = self._keys.get(str(ref.get("uid")))
                if key is not None:
                    self.queue.add(key)
                return

    async def run(self) -> None:
        """Work until cancelled; the caller runs the shared caches (and waits for them first)."""
        try:
            await self._caches.wait_synced()
            for informer in self.informers:
                for obj in informer.list():
                    self._changed(None, obj)
            await self.runner.run()
        finally:
            self.queue.shutdown()

    def _cached(self, key: Key) -> tuple[Informer, KubeObject] | None:
        for informer in self.informers:
            if informer.namespace in (None, key[0]) and (obj := informer.get(*key)) is not None:
                return informer, obj
        return None

    # -- one pass ------------------------------------------------------------------------------

    async def reconcile(self, key: Key) -> Outcome:
        cached = self._cached(key)
        if cached is None:
            return Outcome()
        informer, raw = cached
        try:
            experiment = self._parsed.parse(raw)
        except (InvalidObjectError, ValidationError) as exc:
            await self._invalid(informer, raw, exc)
            return Outcome()
        try:
            plan = decide_experiment(self._observe(key[0], experiment))
        except AnalysisRunError as exc:
            await self._blocked(informer, raw, experiment, str(exc))
            return Outcome(error=f"AnalysisRunError: {exc}", retry=True)
        try:
            for action in plan.actions:
                await self._apply(raw, experiment, action)
            await self._write_status(informer, raw, experiment, plan.status)
        except _ForeignObject as exc:
            await self._blocked(informer, raw, experiment, str(exc))
            return Outcome(error=str(exc), retry=True)
        except Conflict as exc:
            return Outcome(requeue_after=CONFLICT_REQUEUE_SECONDS, error=f"Conflict: {exc.message}")
        except KubeError as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc.message}", retry=True)
        await self._record(raw, plan)
        if plan.wake_at is None:
            return Outcome()
        return Outcome(requeue_after=max(0.0, (plan.wake_at - self._clock()).total_seconds()))

    def _observe(self, namespace: str, experiment: Experiment) -> ExperimentSnapshot:
        uid = experiment.metadata.uid or ""
        replica_sets: dict[str, ObservedReplicaSet] = {}
        for rs in self._caches.owned_by(kinds.REPLICA_SET, namespace, uid):
            template = (meta(rs).get("labels") or {}).get(EXPERIMENT_TEMPLATE_LABEL)
            if template:
                replica_sets[template] = _observed_replica_set(rs)
        services = frozenset(
            str(meta(s).get("name")) for s in self._caches.owned_by(kinds.SERVICE, namespace, uid)
        )
        runs: dict[str, ObservedExperimentRun] = {}
        for run in self._caches.owned_by(kinds.ANALYSIS_RUN, namespace, uid):
            analysis = (meta(run).get("labels") or {}).get(EXPERIMENT_ANALYSIS_LABEL)
            if analysis:
                status = run.get("status") or {}
                runs[analysis] = ObservedExperimentRun(
                    name=str(meta(run).get("name")),
                    phase=AnalysisPhase(status.get("phase") or AnalysisPhase.PENDING.value),
                    message=str(status.get("message") or ""),
                    terminating=bool((run.get("spec") or {}).get("terminate")),
                )
        return ExperimentSnapshot(
            experiment=experiment,
            now=self._clock(),
            replica_sets=replica_sets,
            services=services,
            runs=runs,
            templates=self._templates(namespace, experiment),
        )

    def _templates(self, namespace: str, experiment: Experiment) -> list[Template]:
        """The AnalysisTemplates the experiment's analyses name, parsed (an invalid one is left
        out, so building the run says it is missing; lint and the webhook say why)."""
        found: list[Template] = []
        for analysis in experiment.spec.analyses or []:
            if analysis.cluster_scope:
                raw = self._caches.get(kinds.CLUSTER_ANALYSIS_TEMPLATE, "", analysis.template_name)
            else:
                raw = self._caches.get(kinds.ANALYSIS_TEMPLATE, namespace, analysis.template_name)
            if raw is None:
                continue
            try:
                found.append(self._caches.parsed_templates.parse(raw))
            except InvalidObjectError:
                continue
        return found

    async def _apply(self, raw: KubeObject, experiment: Experiment, action: ExperimentAction) -> None:
        namespace, name = str(meta(raw)["namespace"]), str(meta(raw)["name"])
        templates = {t.name: t for t in experiment.spec.templates}
        match action:
            case CreateTemplateReplicaSet():
                replica_set = template_replica_set(raw, experiment.spec, templates[action.template], action)
                await self._create(raw, replica_set)
            case CreateTemplateService():
                await self._create(raw, template_service(raw, templates[action.template], action))
            case ScaleReplicaSet():
                answer = await self._client.patch(
                    *kinds.REPLICA_SET, namespace=namespace, name=action.name,
                    patch={"spec": {"replicas": action.replicas}},
                )  # fmt: skip
                self._caches.remember(answer)
            case CreateTrafficService():
                await self._create(raw, traffic_service(raw, experiment.spec))
            case DeleteTemplateService():
                with contextlib.suppress(NotFound):
                    await self._client.delete(*kinds.SERVICE, namespace=namespace, name=action.name)
            case CreateAnalysisRunOf():
                body = action.run.model_dump(by_alias=True, exclude_none=True, mode="json")
                # notify: the AnalysisRun controller shares this cache and must start measuring it.
                await self._create(raw, body, notify=True)
            case TerminateAnalysisRun():
                answer = await self._client.patch(
                    *kinds.ANALYSIS_RUN,
                    namespace=namespace,
                    name=action.name,
                    patch={"spec": {"terminate": True}},
                )
                self._caches.remember(answer, notify=True)
        log.info("experiment %s/%s: %s", namespace, name, _describe(action))

    async def _create(self, raw: KubeObject, body: KubeObject, *, notify: bool = False) -> None:
        m = meta(raw)
        what = f"{body['kind']} {body['metadata']['name']}"
        try:
            answer = await self._client.create(body)
        except AlreadyExists:
            existing = await self._client.get(
                body["apiVersion"], body["kind"], namespace=m["namespace"], name=body["metadata"]["name"]
            )
            ref = controller_of(existing)
            if ref is None or ref.get("uid") != m.get("uid"):
                raise _ForeignObject(
                    f"Experiment {m['namespace']}/{m['name']}: {what} already exists and is not this "
                    "experiment's; delete or rename it"
                ) from None
            # Made before the experiment moved into this shard: it moves with it.
            answer = await claim(self._client, existing, owner=raw)
        except Invalid as exc:
            raise _ForeignObject(
                f"Experiment {m['namespace']}/{m['name']}: the API server refused {what}: {exc.message}"
            ) from exc
        self._caches.remember(answer, notify=notify)

    async def _write_status(
        self, informer: Informer, raw: KubeObject, experiment: Experiment, status: ExperimentStatus
    ) -> None:
        if experiment.status is not None and _dump(experiment.status) == _dump(status):
            return
        m = meta(raw)
        written = await self._client.patch(
            *EXPERIMENT,
            namespace=m["namespace"],
            name=str(m["name"]),
            patch={"metadata": {"resourceVersion": m.get("resourceVersion")}, "status": _dump(status)},
            subresource="status",
        )
        informer.remember(written, notify=True)  # the Rollout that started it reads its phase

    async def _record(self, raw: KubeObject, plan: ExperimentPlan) -> None:
        for event in plan.events:
            level = logging.WARNING if event.type.value == "Warning" else logging.INFO
            log.log(level, "experiment %s/%s: %s", meta(raw)["namespace"], meta(raw)["name"], event.message)
            await self._recorder.record(
                raw, reason=event.reason, message=event.message, type=event.type.value
            )

    async def _blocked(
        self, informer: Informer, raw: KubeObject, experiment: Experiment, message: str
    ) -> None:
        """An analysis that cannot be built: say so in the status (phase kept) and an Event."""
        status = experiment.status or ExperimentStatus()
        if status.message != message:
            await self._write_status(
                informer, raw, experiment, status.model_copy(update={"message": message})
            )
            await self._recorder.record(raw, reason="AnalysisRunError", message=message, type="Warning")

    async def _invalid(self, informer: Informer, raw: KubeObject, exc: Exception) -> None:
        """An Experiment the model refuses: phase Error naming the problems, written once."""
        problems = "; ".join(exc.errors[:5]) if isinstance(exc, InvalidObjectError) else str(exc)[:500]
        message = f"the Experiment is invalid and will not run ({problems}); fix it and apply it again"
        status = raw.get("status") if isinstance(raw.get("status"), dict) else {}
        if (status or {}).get("message") == message:
            return
        m = meta(raw)
        written = await self._client.patch(
            *EXPERIMENT,
            namespace=m["namespace"],
            name=str(m["name"]),
            patch={"status": {"phase": AnalysisPhase.ERROR.value, "message": message}},
            subresource="status",
        )
        informer.remember(written, notify=True)  # the Rollout that started it reads its phase
        await self._recorder.record(raw, reason="InvalidSpec", message=message, type="Warning")


class _ForeignObject(Exception):
    """A name the experiment needs is taken by someone else's object, or the server refused it:
    the user's to fix, shown in the status."""


def _observed_replica_set(rs: KubeObject) -> ObservedReplicaSet:
    m, spec, status = meta(rs), rs.get("spec") or {}, rs.get("status") or {}
    created = m.get("creationTimestamp")
    return ObservedReplicaSet(
        name=str(m.get("name")),
        pod_template_hash=str((m.get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL) or ""),
        replicas=int(spec.get("replicas") or 0),
        revision=0,
        created=parse_timestamp(str(created)) or datetime.now(UTC) if created else datetime.now(UTC),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        pods=int(status.get("replicas") or 0),
        deleting=bool(m.get("deletionTimestamp")),
    )


def _dump(status: ExperimentStatus) -> dict[str, Any]:
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


def _describe(action: ExperimentAction) -> str:
    match action:
        case CreateTemplateReplicaSet():
            return (
                f"created ReplicaSet {action.name} ({action.replicas} pods) for template {action.template!r}"
            )
        case CreateTemplateService():
            return f"created Service {action.name} for template {action.template!r}"
        case ScaleReplicaSet():
            return f"scaled ReplicaSet {action.name} from {action.previous} to {action.replicas}"
        case CreateTrafficService():
            return f"created Service {action.name} for the weighted templates"
        case DeleteTemplateService():
            return f"deleted Service {action.name}"
        case CreateAnalysisRunOf():
            return f"started AnalysisRun {action.name} for analysis {action.analysis!r}"
        case TerminateAnalysisRun():
            return f"terminated AnalysisRun {action.name}"
