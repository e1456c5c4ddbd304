"""One pass over one Rollout: observe -> decide -> act -> write status -> record Events.

The pass reads as a straight list of steps over a per-pass :class:`Pass` context with early
returns, and ends with one status write (skipped when nothing changed). What it returns is when
the Rollout wants its next pass even if nothing changes (the plan's ``requeue_after``).

Failures, by who must act:

* the user (invalid spec, a Service or router object that is missing or belongs to someone else,
  an AnalysisRun that cannot be built): nothing more is changed; the status gets phase Degraded
  and an ``InvalidSpec`` condition whose message names the object, field and fix, plus a Warning
  Event; the pass is retried with backoff until the user fixes it;
* nobody (409 conflict, API server unavailable or restarting): a Warning Event and a retry with
  backoff; the status is left alone, since the plan it would record was not carried out.

Status is written with the resourceVersion the pass decided from (PUT on the status
subresource), so a user's concurrent change to ``status.abort``, ``status.promoteFull`` or
``status.pauseConditions`` is never overwritten: the write gets a 409 and the pass runs again on
the new object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from rollouts.api import InvalidObjectError, Rollout, RolloutStatus, parse_rollout
from rollouts.controller import caches as kinds
from rollouts.controller import shards, workloads
from rollouts.controller.act import ActContext, apply_actions
from rollouts.controller.caches import Caches
from rollouts.controller.errors import HashCollision, UserError
from rollouts.controller.observe import Observation, observe
from rollouts.controller.outcome import Outcome
from rollouts.engine import Event, EventType, Plan, decide
from rollouts.engine.analysis_runs import AnalysisRunError
from rollouts.engine.invalid_spec import decide_invalid_spec
from rollouts.engine.pass_events import coalesce
from rollouts.engine.references import DEPLOYMENT
from rollouts.engine.shards import INSTANCE_LABEL, instance_of
from rollouts.kube import Conflict, EventRecorder, Key, KubeClient, KubeError, KubeObject, NotFound, meta
from rollouts.traffic import RouterError, TrafficRouter, restore_stable

__all__ = ["Outcome", "Reconciler"]

log = logging.getLogger(__name__)

SETTLING_ROUNDS = 4
"""Decide-and-act rounds in one pass at most (``Reconciler._settle``): a pause's end with the
next weight written, then the weight read back and the next pause started, take two, and a third
finds nothing left to do; the bound keeps a Rollout whose actions never settle from holding its
worker (it gets a follow-up pass)."""


@dataclass
class Pass:
    """Everything one pass works on."""

    key: Key
    raw: KubeObject
    now: datetime
    rollout: Rollout | None = None
    router: TrafficRouter | None = None

    @property
    def ref(self) -> str:
        return f"{self.key[0]}/{self.key[1]}"

    @cached_property
    def stored_status(self) -> dict[str, Any]:
        """The status as stored, in the form a plan's status is dumped in (compared twice a pass)."""
        return _normalized_status(self.raw.get("status"))


class Reconciler:
    """Runs passes. Holds no per-Rollout state beyond caches: the status is the memory."""

    def __init__(
        self,
        *,
        client: KubeClient,
        caches: Caches,
        recorder: EventRecorder,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._caches = caches
        self._recorder = recorder
        self._clock = clock

    async def reconcile(self, key: Key) -> Outcome:
        raw = self._caches.get(kinds.ROLLOUT, *key)
        if raw is None:
            last = self._caches.take_deleted(key)
            if last is not None:
                try:
                    moved = await self._moved_away(key, last)
                except KubeError as exc:  # unknown whether it is gone: clean up only once known
                    self._caches.keep_deleted(key, last)
                    return Outcome(error=f"{type(exc).__name__}: {exc.message}", retry=True)
                if not moved:
                    await self._restore_stable_after_delete(last)
            return Outcome()  # ownerReferences let the garbage collector remove the rest
        if meta(raw).get("deletionTimestamp"):
            return await self._finalize(raw)
        uid = str(meta(raw).get("uid"))
        if self._caches.take_arrived(uid):
            try:
                await shards.claim_named_children(self._client, self._caches, raw)
            except KubeError as exc:
                self._caches.mark_arrived(uid)
                return Outcome(error=f"{type(exc).__name__}: {exc.message}", retry=True)
        p = Pass(key=key, raw=raw, now=self._clock())
        try:
            p.rollout = self._caches.parsed.parse(raw)
        except InvalidObjectError as exc:
            return await self._invalid(p, exc.errors, reason="InvalidSpec")
        if workloads.needs_finalizer(p.rollout, raw):
            # Before the Deployment is first scaled down, so deleting the Rollout gives it back.
            try:
                self._caches.remember(await workloads.add_finalizer(self._client, raw))
            except KubeError as exc:
                return Outcome(error=f"{type(exc).__name__}: {exc.message}", retry=True)
            return Outcome(requeue_after=0)
        try:
            plan, settled = await self._settle(p)
        except (UserError, RouterError) as exc:
            return await self._invalid(p, [str(exc)], reason=getattr(exc, "reason", "InvalidSpec"))
        except HashCollision as exc:
            return await self._bump_collision_count(p, exc)
        except KubeError as exc:
            self._recorder.emit(raw, reason="ReconcileError", message=exc.message, type="Warning")
            return Outcome(error=f"{type(exc).__name__}: {exc.message}", retry=True)
        try:
            written = await self._write_status(p, plan.status)
        except KubeError as exc:  # e.g. the API server restarting: the plan is redone next pass
            log.warning("rollout %s: status not written, retrying with backoff: %s", p.ref, exc.message)
            self._recorder.emit(raw, reason="ReconcileError", message=exc.message, type="Warning")
            return Outcome(error=f"{type(exc).__name__}: {exc.message}", retry=True)
        if written is None:
            return Outcome(
                error="status write conflicted; deciding again on the new object",
                retry=False,
                requeue_after=0,
            )
        self._record(p, replace(plan, events=coalesce([*plan.events, *_phase_change(p, plan.status)])))
        if not settled:
            # Our own writes do not wake us (the cache already holds them): look again at once;
            # a pass that changes nothing ends the chain.
            return Outcome(requeue_after=0)
        return Outcome(
            requeue_after=None if plan.requeue_after is None else plan.requeue_after.total_seconds()
        )

    async def _settle(self, p: Pass) -> tuple[Plan, bool]:
        """Decide and act in rounds until one changes nothing; the last plan, carrying every
        round's Events, and whether the pass settled (else it wants another pass at once).

        Why rounds: the engine moves one rule at a time, so a step transition takes several
        decisions (advance to the setWeight step and write its weight; read the weight back,
        complete the step, start the pause). Each used to be a pass with its own status write,
        and under load every write is latency for every other Rollout. A round decides on what
        the round before it did: its writes are in the caches (``remember``) and its status is
        carried in memory, as if written, so the pass ends with one status write.

        A status change alone (the engine plans one without actions when the next decision must
        build on it) and a promotion (a new stable; with pingPong the Services swap roles, and the
        old stable one is re-pointed only once the status says it is the canary's) are written
        before anything acts on them: the round after one is decided, and acted on only if it
        has nothing to do (then its status joins the same write; so does the weight read back
        after a promotion). A pass ends settled when a round has nothing to do and changes
        nothing; else it asks for another pass at once. A later round that fails is dropped, not
        reported: the earlier rounds' actions were carried out, so their status is written, and
        the next pass meets the failure afresh.
        """
        assert p.rollout is not None
        raw, rollout, before = p.raw, p.rollout, p.stored_status
        seen, plan = await self._decide(p, raw, rollout)
        await self._act(p, seen, plan)
        events = list(plan.events)
        for _ in range(SETTLING_ROUNDS - 1):
            status = plan.status.model_dump(by_alias=True, exclude_none=True, mode="json")
            if not plan.actions and status == before:
                return replace(plan, events=tuple(events)), True
            barrier = not plan.actions or _stable_of(plan.status) != _stable_of(rollout.status)
            raw, before = {**p.raw, "status": status}, status
            rollout = rollout.model_copy(update={"status": plan.status})
            try:
                seen, following = await self._decide(p, raw, rollout)
                if barrier and following.actions:
                    break  # this status is written first; the next pass acts on it
                await self._act(p, seen, following)
            except (UserError, RouterError, HashCollision, KubeError) as exc:
                log.debug("rollout %s: a later round failed, left to the next pass: %s", p.ref, exc)
                break
            plan = following
            events.extend(plan.events)
        return replace(plan, events=tuple(events)), False

    async def _decide(self, p: Pass, raw: KubeObject, rollout: Rollout) -> tuple[Observation, Plan]:
        """Observe and decide: what the cluster holds and the plan for it (whose status is still
        to be written). Raises a user's error (nothing is changed) or an API error."""
        seen = await observe(raw=raw, rollout=rollout, caches=self._caches, client=self._client, now=p.now)
        p.router = seen.router
        try:
            plan = decide(seen.snapshot)
        except AnalysisRunError as exc:
            raise UserError(str(exc), reason="AnalysisRunError") from exc
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "rollout %s: round: weight=%s -> %s, phase %s, wake in %s",
                p.ref,
                seen.snapshot.router_canary_weight,
                [type(a).__name__ for a in plan.actions],
                plan.status.phase,
                plan.requeue_after,
            )
        return seen, plan

    async def _act(self, p: Pass, seen: Observation, plan: Plan) -> None:
        """Carry out the plan's actions in order; raises the API error that stops them."""
        if not plan.actions:
            return
        ctx = ActContext(
            client=self._client,
            raw=seen.raw,
            rollout=seen.rollout,
            router=p.router,
            objects=seen.objects,
            remember=self._caches.remember,
            warn=lambda reason, message: self._recorder.emit(
                p.raw, reason=reason, message=message, type="Warning"
            ),
        )
        await apply_actions(ctx, plan.actions)

    async def _finalize(self, raw: KubeObject) -> Outcome:
        """A Rollout being deleted: give its Deployment back its pods (``workloads.give_back``)
        before the finalizer lets the ReplicaSets go; nothing to do without the finalizer."""
        if workloads.WORKLOAD_FINALIZER not in (meta(raw).get("finalizers") or []):
            return Outcome()
        ref = (raw.get("spec") or {}).get("workloadRef") or {}
        namespace = str(meta(raw).get("namespace"))
        deployment = None
        if ref.get("name"):
            deployment = self._caches.get(DEPLOYMENT.key, namespace, str(ref["name"]))
            if deployment is None:
                deployment = await self._client.get_or_none(
                    *DEPLOYMENT.key, namespace=namespace, name=str(ref["name"])
                )
        try:
            step = await workloads.give_back(self._client, raw, deployment, now=self._clock())
        except KubeError as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc.message}", retry=True)
        if step == "scaled":
            message = (
                f"Rollout deleted: Deployment {ref.get('name')} scaled back up; the Rollout's pods stay "
                "until the Deployment's are available"
            )
            self._recorder.emit(raw, reason="WorkloadGivenBack", message=message)
        elif step == "late":
            message = (
                f"Deployment {ref.get('name')} still short of available pods after progressDeadlineSeconds; "
                "the Rollout is deleted anyway"
            )
            self._recorder.emit(raw, reason="WorkloadGivenBack", message=message, type="Warning")
        return Outcome(requeue_after=2) if step in ("scaled", "waiting") else Outcome()

    async def _moved_away(self, key: Key, last: KubeObject) -> bool:
        """Whether a Rollout that left the watch still exists (same uid): relabelled into another
        controller's shard, or its label changed by hand. A label selector's DELETED is no
        deletion: the controller of its new shard carries on from its status, so nothing is
        cleaned up here and its traffic stays where it is."""
        fresh = await self._client.get_or_none(*kinds.ROLLOUT, namespace=key[0], name=key[1])
        if fresh is None or meta(fresh).get("uid") != meta(last).get("uid"):
            return False
        instance = instance_of(meta(fresh).get("labels"))
        log.info(
            "rollout %s/%s: left this controller's shard (%s is now %s); not a deletion, nothing cleaned up",
            *key,
            INSTANCE_LABEL,
            "unset" if instance is None else repr(instance),
        )
        return True

    async def _restore_stable_after_delete(self, last: KubeObject) -> None:
        """All traffic to stable through a deleted Rollout's router: its user-owned objects (an
        Istio VirtualService) outlive it and would keep sending the canary's share to pods the
        garbage collector is removing. Best effort: there is no Rollout left to report on."""
        ref = f"{meta(last).get('namespace')}/{meta(last).get('name')}"
        try:
            if await restore_stable(parse_rollout(last).with_service_roles(), self._client):
                log.info("rollout %s: deleted; traffic sent back to stable", ref)
        except (InvalidObjectError, RouterError, KubeError) as exc:
            log.warning("rollout %s: deleted; traffic not sent back to stable: %s", ref, exc)

    # -- status and events ---------------------------------------------------------------------

    async def _write_status(self, p: Pass, status: RolloutStatus) -> KubeObject | None:
        """Write ``status`` unless unchanged; ``None`` when the Rollout changed meanwhile (409)."""
        new = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        if new == p.stored_status:
            return p.raw
        body = {**p.raw, "status": new}
        try:
            answer = await self._client.replace(body, subresource="status")
        except Conflict:
            await self._refresh(p.key)
            return None
        except NotFound:
            return None
        self._caches.remember_write(kinds.ROLLOUT, answer)
        return answer

    async def _refresh(self, key: Key) -> None:
        fresh = await self._client.get_or_none(*kinds.ROLLOUT, namespace=key[0], name=key[1])
        if fresh is not None:
            self._caches.remember_write(kinds.ROLLOUT, fresh)

    def _record(self, p: Pass, plan: Plan, *, reason: str | None = None) -> None:
        for event in plan.events:
            message = f"{event.message} (Rollout {p.ref})" if p.ref not in event.message else event.message
            log.info("rollout %s: %s: %s", p.ref, event.reason, event.message)
            self._recorder.emit(
                p.raw,
                reason=reason or event.reason,
                message=message,
                type="Warning" if event.type == "Warning" else "Normal",
            )

    async def _invalid(self, p: Pass, errors: Sequence[str], *, reason: str) -> Outcome:
        """Touch nothing; say in the status and an Event what the user must fix."""
        plan = decide_invalid_spec(p.raw, now=p.now, errors=list(errors))
        log.warning("rollout %s: %s: %s", p.ref, reason, "; ".join(errors))
        if await self._write_status(p, plan.status) is None:
            return Outcome(requeue_after=0, error="status write conflicted")
        self._record(p, plan, reason=reason)
        return Outcome(error=f"{reason}: {'; '.join(errors)}", retry=True)

    async def _bump_collision_count(self, p: Pass, exc: HashCollision) -> Outcome:
        old = p.rollout.status if p.rollout is not None and p.rollout.status else RolloutStatus()
        status = old.model_copy(update={"collision_count": (old.collision_count or 0) + 1})
        log.warning("rollout %s: %s", p.ref, exc)
        self._recorder.emit(p.raw, reason="HashCollision", message=f"{exc} (Rollout {p.ref})", type="Warning")
        await self._write_status(p, status)
        return Outcome(requeue_after=0)


def _phase_change(p: Pass, status: RolloutStatus) -> list[Event]:
    """An Event when the phase changes (Progressing -> Paused, ...), with the status message."""
    before = (p.raw.get("status") or {}).get("phase")
    after = None if status.phase is None else str(status.phase)
    if after is None or before == after:
        return []
    detail = f": {status.message}" if status.message else ""
    return [
        Event(
            reason=f"Rollout{after}",
            message=f"Rollout {p.ref} is {after} (was {before or 'new'}){detail}",
            type=EventType.WARNING if after == "Degraded" else EventType.NORMAL,
        )
    ]


def _stable_of(status: RolloutStatus | None) -> tuple[object, object]:
    """Which revision is stable and, with pingPong, which Service serves it."""
    if status is None:
        return (None, None)
    return (status.stable_rs, status.canary.stable_ping_pong if status.canary is not None else None)


def _normalized_status(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    try:
        return RolloutStatus.model_validate(raw).model_dump(by_alias=True, exclude_none=True, mode="json")
    except ValueError:
        return dict(raw)
