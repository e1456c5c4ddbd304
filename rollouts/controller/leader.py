"""Leader election on a `coordination.k8s.io/v1` Lease, so two replicas never both act.

Written on the project's own client rather than the `kubernetes` package's elector: that one is
synchronous (a thread beside our event loop, with its own HTTP stack and login) and has no release on
a graceful stop, so a rolling update would wait a whole lease for the new pod to take over.

The rules are client-go's:
- A Lease held by someone else counts as expired only ``lease_seconds`` after *we last saw it change*
  (by our own monotonic clock), never by comparing its ``renewTime`` with our wall clock: clocks of
  two nodes may disagree, the time we waited cannot.
- Every write carries the Lease's resourceVersion, so of two candidates racing for an expired Lease
  exactly one wins; the other gets a Conflict and keeps waiting.
- The leader renews every ``retry_seconds``. If it could not renew for ``renew_deadline_seconds``
  (shorter than the lease), it stops acting *before* another replica may consider the Lease expired:
  ``hold()`` raises :class:`LostLeadership`, the controller's tasks are cancelled and the process
  exits for its Deployment to restart it.
- A graceful stop releases the Lease (no holder, a 1 s duration), so the standby takes over within
  one retry period instead of a whole lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rollouts.kube import AlreadyExists, Conflict, KubeClient, KubeError

__all__ = ["LeaderElector", "LeaseOptions", "LostLeadership"]

log = logging.getLogger("kube-rollouts.leader")
LEASE = ("coordination.k8s.io/v1", "Lease")


class LostLeadership(Exception):
    """The Lease could not be renewed in time, or someone else holds it now: stop acting."""


@dataclass(frozen=True, kw_only=True)
class LeaseOptions:
    namespace: str
    name: str = "kube-rollouts"
    identity: str
    lease_seconds: float = 15.0
    renew_deadline_seconds: float = 10.0
    retry_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_seconds < self.renew_deadline_seconds < self.lease_seconds:
            raise ValueError(
                "leader election needs 0 < --retry-period < --renew-deadline < --lease-duration (got "
                f"{self.retry_seconds:g} s, {self.renew_deadline_seconds:g} s, {self.lease_seconds:g} s): "
                "a leader must stop acting before its Lease can expire; change one of them"
            )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client: KubeClient, options: LeaseOptions) -> None:
        self._client = client
        self.options = options
        self.leading = False
        self._seen: tuple[Any, ...] | None = None  # the Lease's holder and renewTime we last saw
        self._seen_at = 0.0  # when (monotonic) we saw them change
        self._renewed_at = 0.0

    @property
    def where(self) -> str:
        return f"Lease {self.options.namespace}/{self.options.name}"

    async def acquire(self) -> None:
        """Wait until this replica holds the Lease."""
        log.info("%s: waiting to lead as %s", self.where, self.options.identity)
        while True:
            try:
                if await self._try():
                    break
            except KubeError as exc:
                log.warning("%s: cannot read or take it (retrying): %s", self.where, exc)
            await asyncio.sleep(self.options.retry_seconds)
        log.info("%s: leading as %s", self.where, self.options.identity)

    async def hold(self) -> None:
        """Renew until cancelled; raise :class:`LostLeadership` once the Lease can no longer be trusted."""
        while True:
            await asyncio.sleep(self.options.retry_seconds)
            try:
                renewed = await self._try()
            except KubeError as exc:
                log.warning("%s: renewal failed: %s", self.where, exc)
                renewed = False
            if not self.leading:
                raise LostLeadership(f"{self.where} is held by another replica now")
            late = time.monotonic() - self._renewed_at
            if not renewed and late >= self.options.renew_deadline_seconds:
                self.leading = False
                raise LostLeadership(
                    f"{self.where} not renewed for {late:.1f} s (deadline "
                    f"{self.options.renew_deadline_seconds:g} s): stopping before it can expire"
                )

    async def release(self) -> None:
        """Give the Lease up at a graceful stop, so the standby takes over at once."""
        if not self.leading:
            return
        self.leading = False
        try:
            lease = await self._client.get(*LEASE, name=self.options.name, namespace=self.options.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.options.identity:
                return
            lease["spec"] = {**spec, "holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": _now()}
            await self._client.replace(lease)
            log.info("%s: released", self.where)
        except KubeError as exc:
            log.warning("%s: could not release it (the standby waits for it to expire): %s", self.where, exc)

    async def _try(self) -> bool:
        """One acquire-or-renew attempt: True when we hold the Lease afterwards."""
        opts = self.options
        lease = await self._client.get_or_none(*LEASE, name=opts.name, namespace=opts.namespace)
        now = _now()
        ours = {"holderIdentity": opts.identity, "leaseDurationSeconds": round(opts.lease_seconds)}
        if lease is None:
            body = {
                "apiVersion": LEASE[0],
                "kind": LEASE[1],
                "metadata": {"name": opts.name, "namespace": opts.namespace},
                "spec": {**ours, "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
            }
            try:
                await self._client.create(body)
            except AlreadyExists:
                return False
            return self._won()
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._seen:
            self._seen, self._seen_at = record, time.monotonic()
        if holder and holder != opts.identity:
            self.leading = False
            expires = self._seen_at + float(spec.get("leaseDurationSeconds") or opts.lease_seconds)
            if time.monotonic() < expires:
                return False
        transitions = int(spec.get("leaseTransitions") or 0)
        lease["spec"] = {
            **spec,
            **ours,
            "renewTime": now,
            "acquireTime": spec.get("acquireTime") if holder == opts.identity else now,
            "leaseTransitions": transitions if holder == opts.identity else transitions + 1,
        }
        try:
            await self._client.replace(lease)
        except Conflict:
            return False  # someone else wrote it first: look again next time
        return self._won()

    def _won(self) -> bool:
        self.leading = True
        self._renewed_at = time.monotonic()
        return True
