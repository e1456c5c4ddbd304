"""The contract every traffic router implements, the per-call context, and the errors a user can cause.

A router owns one job: make the traffic split the engine planned real in one product's objects, and
report back what is actually in the cluster. It declares what it reads and has these methods:

- ``kinds`` and ``references(rollout)``: the kinds it needs watched and the objects a Rollout makes
  it read (NGINX: the stable Ingress and its own canary Ingress; Istio: the VirtualService and the
  DestinationRule). The controller's caches, their reverse index and the observe step are built
  from these, so a router never needs an edit anywhere else;
- ``set_weight(ctx, canary_weight=, canary_hash=, stable_hash=)``: send ``canary_weight`` percent to
  the canary and the rest to stable, creating or repairing the router's own objects on the way
  (NGINX creates the canary Ingress; Istio checks the routes and destinations) and checking the
  user's;
- ``read_weight(ctx)``: the canary weight actually in the cluster (``None`` when it cannot be told),
  so the controller advances a step only once the router really holds the planned weight;
- ``canary_service=`` of ``set_weight`` and ``read_canary_service(ctx)``: the Service the canary's
  weight goes to, when it is not ``canaryService`` (a weighted experiment step's traffic
  Service, NGINX only; Istio refuses it and reads ``None``);
- ``set_routes(ctx, routes)`` and ``read_routes(ctx)``: the header and mirror routes of
  ``managedRoutes`` the steps have set, written and read back the same way as the weight;
- ``cleanup(ctx)``: send everything back to stable (and remove the managed routes) when the
  Rollout no longer routes through this router (``trafficRouting`` removed or changed, or the
  Rollout deleted), tolerating objects that are already gone.

DESIGN.md names a fourth, ``reconcile`` (create or repair the router's objects). It left the
contract: ``set_weight`` has to do it anyway (it writes those objects), and a separate call was
either a second write per step or never made.

Services are not a router's business: the controller points the canary and stable Services itself.

Errors: a :class:`RouterError` is something the *user* must fix (a missing or foreign object, a route
that is not there); its ``reason`` is a CamelCase word for the Rollout's condition and Event, and its
message names the object, the field and the fix. Transient API trouble is not wrapped: the
``rollouts.kube`` errors (``Unavailable``, ``Conflict`` after retries) reach the caller unchanged, so
the controller can retry those with backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from rollouts.api import ManagedRoute, Rollout
from rollouts.engine.references import Kind, Reference
from rollouts.kube import KubeClient, KubeObject

__all__ = [
    "FileObjects",
    "ForeignObjectError",
    "InvalidRoutingError",
    "LintProblem",
    "ObjectReader",
    "RouterContext",
    "RouterError",
    "RouterObjectMissingError",
    "TrafficRouter",
    "UnknownRouterError",
    "at",
    "items",
]


class ObjectReader(Protocol):
    """A watch cache the controller already keeps (e.g. its ``Caches``), keyed by (apiVersion, kind)."""

    def get(self, watched: tuple[str, str], namespace: str, name: str) -> KubeObject | None: ...


@dataclass(frozen=True, kw_only=True)
class RouterContext:
    """What one router call works on: the Rollout as last read and the client to the API server.

    The Rollout must carry ``metadata.name``, ``metadata.namespace`` and ``metadata.uid`` (the uid goes
    into the ownerReference of objects the router creates, so they are garbage-collected with it).
    ``cache``, when given, serves ``read_weight`` without an API call (observe reads from watch
    caches), and the first attempt of a write starts from the cached copy too: every write is
    guarded by the resourceVersion it was computed from, so a stale copy costs a 409 and a retry
    from a fresh GET, never a lost or misplaced update. Under load this turns a weight change from
    five sequential requests (two GETs to reconcile, two to write, the write) into one.
    ``remember``, when given, is handed the API server's answer to every write the router makes,
    so the cache holds the write before its watch event comes back.
    """

    rollout: Rollout
    client: KubeClient
    cache: ObjectReader | None = None
    remember: Callable[[KubeObject], None] | None = None

    async def observe(self, api_version: str, kind: str, name: str) -> KubeObject | None:
        """``kind``/``name`` in the Rollout's namespace: from the cache when it has it, else one GET.

        A cache miss is confirmed with a GET (the object may be newer than the cache, or its kind's
        informer may not run), so only a missing object costs an API call on every pass.
        """
        if self.cache is not None:
            cached = self.cache.get((api_version, kind), self.namespace, name)
            if cached is not None:
                return cached
        return await self.client.get_or_none(api_version, kind, namespace=self.namespace, name=name)

    async def read_for_write(
        self, api_version: str, kind: str, name: str, *, attempt: int
    ) -> KubeObject | None:
        """The copy a write is computed from: the cached one on the first attempt, then a fresh GET
        (after a conflict the cache is known to lag)."""
        if attempt == 0:
            return await self.observe(api_version, kind, name)
        return await self.client.get_or_none(api_version, kind, namespace=self.namespace, name=name)

    def wrote(self, answer: KubeObject) -> None:
        """Pass the API server's answer to a write on to ``remember``."""
        if self.remember is not None:
            self.remember(answer)

    @property
    def name(self) -> str:
        name = self.rollout.metadata.name
        if not name:
            raise ValueError("RouterContext needs a Rollout with metadata.name")
        return name

    @property
    def namespace(self) -> str:
        namespace = self.rollout.metadata.namespace
        if not namespace:
            raise ValueError(f"RouterContext needs Rollout {self.name} with metadata.namespace")
        return namespace

    @property
    def ref(self) -> str:
        """``Rollout <namespace>/<name>``, for messages."""
        return f"Rollout {self.namespace}/{self.name}"


class FileObjects(Protocol):
    """The objects beside a Rollout in one manifest file (what ``lint`` checks it against).

    They are whatever YAML the user wrote, unchecked by any schema: read them with :func:`at`
    and :func:`items`, never with chained ``.get``, so a list where a map belongs is a problem the
    check reports (or ignores), not a crash of ``lint``.
    """

    def has(self, kind: str) -> bool:
        """True when the file holds objects of ``kind`` (else references to it are not checked)."""
        ...

    def find(self, kind: str, name: str) -> Mapping[str, Any] | None:
        """The object of ``kind`` called ``name`` in the Rollout's namespace, if the file has it."""
        ...


def at(obj: Any, *keys: str) -> Any:
    """The value at ``keys`` under ``obj`` (``at(ingress, "spec", "rules")``); ``None`` as soon as
    a level is missing or is not a map."""
    for key in keys:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def items(value: Any) -> list[Any]:
    """``value`` if it is a list, else no items: read each item with :func:`at`, which keeps the
    indexes a message names while a non-map item reads as empty."""
    return value if isinstance(value, list) else []


@dataclass(frozen=True, kw_only=True)
class LintProblem:
    """One way a Rollout and the objects it names do not fit: the object to change (``kind`` and
    ``name``; ``None``: the Rollout itself), the field path in it, and what to do. A ``note`` is
    advice that does not fail lint (a field the controller shares with a GitOps agent)."""

    kind: str | None
    name: str | None
    path: str
    message: str
    note: bool = False


class TrafficRouter(Protocol):
    """One traffic router (NGINX, Istio, ...). Every method is idempotent and safe to repeat."""

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The kinds of the objects this router reads or writes (watched by the controller)."""
        ...

    def references(self, rollout: Rollout) -> list[Reference]:
        """The objects ``rollout`` makes this router read, with the fields that name them. Pure."""
        ...

    def lint(self, rollout: Rollout, objects: FileObjects) -> list[LintProblem]:
        """Offline: do the objects ``rollout`` names in ``objects`` fit it (routes, backends, subsets)?

        Only objects the file holds are checked; a reference to a missing one is reported by
        ``lint`` itself, from :meth:`references`. Pure: the same checks run before merge that
        ``set_weight`` would otherwise fail on, mid-delivery.
        """
        ...

    async def set_weight(
        self,
        ctx: RouterContext,
        *,
        canary_weight: int,
        canary_hash: str,
        stable_hash: str,
        canary_service: str | None = None,
    ) -> None:
        """Send ``canary_weight`` percent (0-100) to the canary revision and the rest to stable;
        with ``canary_service``, to that Service instead of the canary's (see the module doc)."""
        ...

    async def read_weight(self, ctx: RouterContext) -> int | None:
        """The canary weight in the cluster now; ``None`` when absent or inconsistent (not verified)."""
        ...

    async def read_canary_service(self, ctx: RouterContext) -> str | None:
        """The Service the canary weight goes to now; ``None`` when not known (or not applicable)."""
        ...

    async def set_routes(self, ctx: RouterContext, routes: Sequence[ManagedRoute]) -> None:
        """Make ``routes`` (``managedRoutes`` order) the header and mirror routes the router holds
        for the Rollout, removing its other managed routes; routes it did not add are untouched."""
        ...

    async def read_routes(self, ctx: RouterContext) -> tuple[ManagedRoute, ...] | None:
        """The managed routes in the cluster now; ``None`` when they are not as written (rewrite)."""
        ...

    async def cleanup(self, ctx: RouterContext) -> None:
        """Send all traffic to stable and remove the managed routes; objects already gone are fine."""
        ...


class RouterError(Exception):
    """A problem with the Rollout's traffic routing that the user must fix; the message says how.

    ``reason`` is the CamelCase reason for the Rollout condition and Event the controller records.
    """

    reason: ClassVar[str] = "TrafficRoutingError"


class RouterObjectMissingError(RouterError):
    """An object the Rollout names (stable Ingress, VirtualService, DestinationRule) does not exist."""

    reason: ClassVar[str] = "TrafficRouterObjectMissing"


class InvalidRoutingError(RouterError):
    """The named objects exist but cannot be used as the Rollout says (no such route, rule, subset)."""

    reason: ClassVar[str] = "InvalidTrafficRouting"


class ForeignObjectError(RouterError):
    """An object the router would create already exists and belongs to someone else: never taken over."""

    reason: ClassVar[str] = "TrafficRouterObjectNotOwned"


class UnknownRouterError(RouterError):
    """``trafficRouting`` names a router this controller does not have."""

    reason: ClassVar[str] = "UnknownTrafficRouter"


def check_weight(canary_weight: int, *, total: int = 100) -> None:
    """A weight outside 0..total is a bug in the caller, not user input: fail loudly."""
    in_range = (
        isinstance(canary_weight, int) and not isinstance(canary_weight, bool) and 0 <= canary_weight <= total
    )
    if not in_range:
        raise ValueError(f"canary_weight must be an int from 0 to {total}, got {canary_weight!r}")
