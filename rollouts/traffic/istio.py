"""The Istio router: weights in the user's VirtualService, revision labels in the DestinationRule subsets.

Unlike NGINX's canary Ingress, these objects belong to the user (or their GitOps tool); the router only
changes a few numbers and two labels inside them. How it writes, and why not server-side apply:

``spec.http`` of a VirtualService is a list without merge keys in a CRD whose spec is not structural
for server-side apply, so it is an *atomic* list: applying weights would mean applying the whole
``http`` list, taking ownership of every route (including the ones the Rollout does not manage) away
from the GitOps tool, and a concurrent edit to any route would be overwritten. Instead each write is
a JSON patch (RFC 6902) of just the weights (or the subset labels), computed from the watch cache's
copy (or a fresh read when the context has no cache), that also sets ``metadata.resourceVersion`` to
the version it was computed from: the API server treats that as a precondition, so if anyone changed
the object in between, the patch fails with 409 Conflict instead of applying list indexes computed
on a stale copy. The router then re-reads (a fresh GET) and recomputes, a few times.
Only the patched fields change; every other route, destination, subset and
label stays byte for byte as it was.

Subset-level: the DestinationRule subsets are labelled before the VirtualService weights are written,
so a weight never points at a subset that still selects the previous revision's pods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rollouts.api import ManagedRoute, Rollout
from rollouts.engine.references import Kind, Reference
from rollouts.engine.shared_fields import WrittenField
from rollouts.kube import Conflict, Invalid, KubeObject
from rollouts.traffic.istio_managed import managed_routes_in, routes_patch
from rollouts.traffic.istio_routes import (
    JsonPatch,
    canary_weight_in,
    istio_settings,
    lint_istio,
    subset_patch,
    subsets_labelled,
    weight_patch,
)
from rollouts.traffic.router import (
    FileObjects,
    LintProblem,
    RouterContext,
    RouterObjectMissingError,
    check_weight,
)

__all__ = ["ISTIO_API_VERSION", "IstioRouter"]

ISTIO_API_VERSION = "networking.istio.io/v1"
_ATTEMPTS = 5
# What the router writes in the user's objects (rollouts.engine.shared_fields). The routes are the
# user's and cannot be left out of the manifest, so the weights stay shared: the note makes an
# overwrite harmless. The subsets can be left to the controller.
_WEIGHTS = WrittenField(
    path="spec.http",
    fix="the routes cannot be left out, so give the canary weight 0 in the manifest (an overwrite then "
    "sends traffic to stable until the controller writes the weight again); with Argo CD, list "
    "kube-rollouts in ignoreDifferences.managedFieldsManagers for VirtualServices and sync with "
    "RespectIgnoreDifferences=true",
)
_SUBSETS = WrittenField(
    path="spec.subsets",
    fix="leave spec.subsets out of the DestinationRule's manifest: kube-rollouts then writes the canary "
    "and stable subsets (the Rollout's selector.matchLabels and the revision label) and is their only owner",
)


class IstioRouter:
    """Traffic router for Istio (``trafficRouting.istio``), host-level or subset-level.

    ``api_version`` is the Istio networking API to use: ``v1`` (Istio 1.22+) by default; pass
    ``networking.istio.io/v1beta1`` for older meshes.
    """

    def __init__(self, *, api_version: str = ISTIO_API_VERSION) -> None:
        self.api_version = api_version

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return (
            Kind(api_version=self.api_version, kind="VirtualService", optional=True, writes=_WEIGHTS),
            Kind(api_version=self.api_version, kind="DestinationRule", optional=True, writes=_SUBSETS),
        )

    def references(self, rollout: Rollout) -> list[Reference]:
        """The VirtualService whose weights it sets and, subset-level, the DestinationRule."""
        canary = rollout.spec.strategy.canary
        istio = canary.traffic_routing.istio if canary and canary.traffic_routing else None
        if istio is None:
            return []
        vs_kind, dr_kind = self.kinds
        base = "spec.strategy.canary.trafficRouting.istio"
        found = [Reference(kind=vs_kind, name=istio.virtual_service.name, path=f"{base}.virtualService.name")]
        if istio.destination_rule is not None:
            found.append(
                Reference(kind=dr_kind, name=istio.destination_rule.name, path=f"{base}.destinationRule.name")
            )
        return found

    def lint(self, rollout: Rollout, objects: FileObjects) -> list[LintProblem]:
        return lint_istio(rollout, objects)

    async def set_weight(
        self,
        ctx: RouterContext,
        *,
        canary_weight: int,
        canary_hash: str,
        stable_hash: str,
        canary_service: str | None = None,
    ) -> None:
        """Label the subsets (subset-level), then set canary/stable weights in every managed route."""
        if canary_service is not None:  # the API refuses weighted experiment templates with Istio
            raise ValueError("the Istio router sends the canary weight to the canary Service only")
        check_weight(canary_weight)
        settings = istio_settings(ctx.rollout)
        rule = settings.destination_rule
        labels = ctx.rollout.spec.selector.match_labels or {}
        # The VirtualService must take the weights before any subset is relabelled (a cached read).
        weight_patch(
            await self._observe(ctx, "VirtualService", settings.virtual_service),
            settings,
            canary_weight=canary_weight,
        )
        if rule is not None:
            await self._patch(
                ctx,
                "DestinationRule",
                rule.name,
                lambda dr: subset_patch(
                    dr, rule, canary_hash=canary_hash, stable_hash=stable_hash, match_labels=labels
                ),
            )
        await self._patch(
            ctx,
            "VirtualService",
            settings.virtual_service,
            lambda vs: weight_patch(vs, settings, canary_weight=canary_weight),
        )

    async def read_canary_service(self, ctx: RouterContext) -> str | None:
        """Always the canary's: Istio carries no weighted experiment templates (yet)."""
        return None

    async def read_weight(self, ctx: RouterContext) -> int | None:
        """The canary weight of the managed routes; ``None`` when they disagree or, subset-level,
        when a subset is missing or selects no revision (a DestinationRule whose manifest leaves the
        subsets to the controller, or one a re-apply from Git has overwritten): the engine then
        writes the weight again, and with it the subsets."""
        settings = istio_settings(ctx.rollout)
        vs = await ctx.observe(self.api_version, "VirtualService", settings.virtual_service)
        if vs is None:
            raise RouterObjectMissingError(_missing(ctx, "VirtualService", settings.virtual_service))
        rule = settings.destination_rule
        if rule is not None:
            dr = await ctx.observe(self.api_version, "DestinationRule", rule.name)
            if dr is None or not subsets_labelled(dr, rule):
                return None
        return canary_weight_in(vs, settings)

    async def set_routes(self, ctx: RouterContext, routes: Sequence[ManagedRoute]) -> None:
        """Make ``routes`` the managed http routes at the top of the VirtualService."""
        settings = istio_settings(ctx.rollout)
        await self._patch(
            ctx, "VirtualService", settings.virtual_service, lambda vs: routes_patch(vs, settings, routes)
        )

    async def read_routes(self, ctx: RouterContext) -> tuple[ManagedRoute, ...] | None:
        settings = istio_settings(ctx.rollout)
        vs = await ctx.observe(self.api_version, "VirtualService", settings.virtual_service)
        if vs is None:
            raise RouterObjectMissingError(_missing(ctx, "VirtualService", settings.virtual_service))
        return managed_routes_in(vs, settings)

    async def cleanup(self, ctx: RouterContext) -> None:
        """All traffic to stable in the managed routes, and the header and mirror routes removed;
        nothing to do when the VirtualService is gone."""
        settings = istio_settings(ctx.rollout)
        vs = await ctx.client.get_or_none(
            self.api_version, "VirtualService", namespace=ctx.namespace, name=settings.virtual_service
        )
        if vs is not None:
            if settings.managed_route_names:
                await self._patch(
                    ctx, "VirtualService", settings.virtual_service, lambda v: routes_patch(v, settings, ())
                )
            await self._patch(
                ctx,
                "VirtualService",
                settings.virtual_service,
                lambda v: weight_patch(v, settings, canary_weight=0),
            )

    # -- internals -----------------------------------------------------------------------------

    async def _observe(self, ctx: RouterContext, kind: str, name: str, *, attempt: int = 0) -> KubeObject:
        obj = await ctx.read_for_write(self.api_version, kind, name, attempt=attempt)
        if obj is None:
            raise RouterObjectMissingError(_missing(ctx, kind, name))
        return obj

    async def _patch(
        self, ctx: RouterContext, kind: str, name: str, build: Callable[[KubeObject], JsonPatch]
    ) -> None:
        """Read (the cache first), compute the ops, patch guarded by resourceVersion; re-read with a
        GET and retry on a conflict."""
        for attempt in range(_ATTEMPTS):
            obj = await self._observe(ctx, kind, name, attempt=attempt)
            ops = build(obj)
            if not ops:
                return
            guard: dict[str, Any] = {
                "op": "replace",
                "path": "/metadata/resourceVersion",
                "value": obj["metadata"]["resourceVersion"],
            }
            try:
                answer = await ctx.client.patch(
                    self.api_version,
                    kind,
                    namespace=ctx.namespace,
                    name=name,
                    patch=[guard, *ops],
                    patch_type="json",
                )
                ctx.wrote(answer)
                return
            except Conflict:
                if attempt == _ATTEMPTS - 1:
                    raise
            except Invalid:
                # JSON patch ops run before the resourceVersion precondition is checked, so indexes
                # computed on a stale cached copy can point past the end of a list (422, not 409).
                # Only a copy from a fresh read makes Invalid the user's (or our) real problem.
                if attempt > 0:
                    raise


def _missing(ctx: RouterContext, kind: str, name: str) -> str:
    field = (
        "trafficRouting.istio.virtualService.name"
        if kind == "VirtualService"
        else "trafficRouting.istio.destinationRule.name"
    )
    return (
        f"{kind} {ctx.namespace}/{name} does not exist (named by spec.strategy.canary.{field} of {ctx.ref}); "
        f"create the {kind} in namespace {ctx.namespace} (Istio's CRDs must be installed) or fix the name"
    )
