"""The NGINX Ingress router: a canary Ingress beside the user's stable Ingress, weighted by annotation.

The canary Ingress is entirely ours (see :mod:`rollouts.traffic.nginx_ingress` for its shape), so it
is written whole with server-side apply (field manager ``kube-rollouts``): fields we stop sending are
removed, fields other tools add are kept. Two guards keep us off other people's objects:

- the first write is a ``create``, which fails when the name is taken (then the owner is checked);
- every later write carries the ``resourceVersion`` we checked ownership on, so an Ingress replaced
  in between (deleted and re-created by someone else) makes the write fail with a conflict instead
  of being taken over. The first attempt starts from the watch cache's copy when the context has
  one (no GET); a conflict is retried from a fresh read a few times.

An Ingress of that name that the Rollout does not control raises :class:`ForeignObjectError`; the
router never adopts, edits or deletes it. After promotion the canary Ingress stays, at weight 0
(as Argo Rollouts does), and goes away with the Rollout through its ownerReference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollouts.api import ManagedRoute, Rollout
from rollouts.engine.references import Kind, Reference
from rollouts.kube import AlreadyExists, Conflict, KubeObject
from rollouts.traffic.nginx_ingress import (
    INGRESS_API_VERSION,
    MANAGED_ROUTES_ANNOTATION,
    ROUTE_KEYS,
    canary_backend_of,
    canary_ingress_name,
    canary_weight_of,
    desired_canary_ingress,
    lint_stable_ingress,
    nginx_routing,
    routes_of,
    weight_total,
)
from rollouts.traffic.owners import describe_owner, is_controlled_by
from rollouts.traffic.router import (
    FileObjects,
    ForeignObjectError,
    LintProblem,
    RouterContext,
    RouterObjectMissingError,
    check_weight,
)

__all__ = ["NginxRouter"]

_ATTEMPTS = 4

INGRESS = Kind(api_version=INGRESS_API_VERSION, kind="Ingress", optional=True, owned=True)
"""Owned: the canary Ingress carries the Rollout's ownerReference; the stable one is named."""


class NginxRouter:
    """Traffic router for ingress-nginx (``trafficRouting.nginx``)."""

    kinds = (INGRESS,)

    def references(self, rollout: Rollout) -> list[Reference]:
        """The stable Ingress the Rollout names, and the canary Ingress copied from it."""
        canary = rollout.spec.strategy.canary
        routing = canary.traffic_routing.nginx if canary and canary.traffic_routing else None
        if routing is None:
            return []
        path = "spec.strategy.canary.trafficRouting.nginx.stableIngress"
        canary_name = canary_ingress_name(str(rollout.metadata.name), routing.stable_ingress)
        return [
            Reference(kind=INGRESS, name=routing.stable_ingress, path=path),
            Reference(kind=INGRESS, name=canary_name, path=path, created=True),
        ]

    def lint(self, rollout: Rollout, objects: FileObjects) -> list[LintProblem]:
        return lint_stable_ingress(rollout, objects)

    async def set_weight(
        self,
        ctx: RouterContext,
        *,
        canary_weight: int,
        canary_hash: str,
        stable_hash: str,
        canary_service: str | None = None,
    ) -> None:
        """Write ``canary-weight`` (creating the canary Ingress when missing), with the canary
        Ingress's paths sent to ``canary_service`` (a weighted experiment's traffic Service) or
        the canaryService. Hashes are not needed: the Services already select their pods."""
        check_weight(canary_weight, total=weight_total(ctx.rollout))
        _, _, canary = nginx_routing(ctx.rollout)
        await self._write(ctx, canary_weight=canary_weight, backend=canary_service or canary)

    async def read_canary_service(self, ctx: RouterContext) -> str | None:
        """The Service the canary Ingress's paths go to (``None`` while it does not exist)."""
        canary = await self._read_canary(ctx, observe=True)
        return None if canary is None else canary_backend_of(canary)

    async def set_routes(self, ctx: RouterContext, routes: Sequence[ManagedRoute]) -> None:
        """The header route's canary-by-* annotations on the canary Ingress (created at weight 0
        when missing); the weight is kept."""
        await self._write(ctx, routes=tuple(routes))

    async def read_routes(self, ctx: RouterContext) -> tuple[ManagedRoute, ...] | None:
        """The header route the canary Ingress holds (none while it does not exist)."""
        routing, _, _ = nginx_routing(ctx.rollout)
        canary = await self._read_canary(ctx, observe=True)
        return () if canary is None else routes_of(canary, prefix=routing.annotation_prefix)

    async def read_weight(self, ctx: RouterContext) -> int | None:
        """The canary Ingress's weight; ``None`` while it does not exist or is not a valid canary."""
        routing, _, _ = nginx_routing(ctx.rollout)
        canary = await self._read_canary(ctx, observe=True)
        if canary is None:
            return None
        return canary_weight_of(
            canary, annotation_prefix=routing.annotation_prefix, total=weight_total(ctx.rollout)
        )

    async def cleanup(self, ctx: RouterContext) -> None:
        """Weight 0 and no header route on our canary Ingress, if it is there; the stable Ingress
        may already be gone."""
        routing, _, _ = nginx_routing(ctx.rollout)
        prefix = routing.annotation_prefix
        name = self._canary_name(ctx)
        existing = await ctx.client.get_or_none(
            INGRESS_API_VERSION, "Ingress", namespace=ctx.namespace, name=name
        )
        if existing is None or not is_controlled_by(existing, ctx.rollout):
            return
        total = weight_total(ctx.rollout)
        routed = canary_weight_of(existing, annotation_prefix=prefix, total=total) != 0
        held = routes_of(existing, prefix=prefix) != ()
        if not routed and not held:
            return
        annotations: dict[str, str | None] = {f"{prefix}/canary-weight": "0"}
        if held:
            annotations |= {f"{prefix}/{key}": None for key in ROUTE_KEYS} | {MANAGED_ROUTES_ANNOTATION: None}
        patch = {
            "metadata": {
                "resourceVersion": existing["metadata"]["resourceVersion"],
                "annotations": annotations,
            }
        }
        await ctx.client.patch(
            INGRESS_API_VERSION,
            "Ingress",
            namespace=ctx.namespace,
            name=name,
            patch=patch,
            patch_type="merge",
        )

    # -- internals -----------------------------------------------------------------------------

    @staticmethod
    def _canary_name(ctx: RouterContext) -> str:
        routing, _, _ = nginx_routing(ctx.rollout)
        return canary_ingress_name(ctx.name, routing.stable_ingress)

    async def _read_canary(
        self, ctx: RouterContext, *, observe: bool = False, attempt: int = 0
    ) -> KubeObject | None:
        """Our canary Ingress, ``None`` when absent; someone else's raises :class:`ForeignObjectError`.

        ``observe`` allows the watch cache (reads); writes pass their ``attempt`` instead (the
        cache for the first, a fresh GET after a conflict).
        """
        name = self._canary_name(ctx)
        if observe:
            existing = await ctx.observe(INGRESS_API_VERSION, "Ingress", name)
        else:
            existing = await ctx.read_for_write(INGRESS_API_VERSION, "Ingress", name, attempt=attempt)
        if existing is not None and not is_controlled_by(existing, ctx.rollout):
            raise ForeignObjectError(
                f"Ingress {ctx.namespace}/{name} already exists and is controlled by "
                f"{describe_owner(existing)}, not by {ctx.ref}; kube-rollouts never takes over an "
                "Ingress it did not create. Delete or rename that Ingress, or rename the Rollout or its "
                "spec.strategy.canary.trafficRouting.nginx.stableIngress so the canary Ingress name is free"
            )
        return existing

    async def _read_stable(self, ctx: RouterContext, *, attempt: int) -> KubeObject:
        routing, _, _ = nginx_routing(ctx.rollout)
        stable = await ctx.read_for_write(
            INGRESS_API_VERSION, "Ingress", routing.stable_ingress, attempt=attempt
        )
        if stable is None:
            raise RouterObjectMissingError(
                f"Ingress {ctx.namespace}/{routing.stable_ingress} does not exist (named by "
                f"spec.strategy.canary.trafficRouting.nginx.stableIngress of {ctx.ref}); create it or fix "
                "the name"
            )
        return stable

    async def _write(
        self,
        ctx: RouterContext,
        *,
        canary_weight: int | None = None,
        routes: tuple[ManagedRoute, ...] | None = None,
        backend: str | None = None,
    ) -> None:
        """Create the canary Ingress, or bring it in line with the stable Ingress, the weight, the
        header route and the backend Service; what is left ``None`` keeps its value (weight 0, no
        route and the canaryService on a new Ingress)."""
        routing, _, _ = nginx_routing(ctx.rollout)
        prefix, total = routing.annotation_prefix, weight_total(ctx.rollout)
        for attempt in range(_ATTEMPTS):
            stable = await self._read_stable(ctx, attempt=attempt)
            existing = await self._read_canary(ctx, attempt=attempt)
            weight = canary_weight
            if weight is None:
                held = (
                    None
                    if existing is None
                    else canary_weight_of(existing, annotation_prefix=prefix, total=total)
                )
                weight = held or 0
            kept = routes
            if kept is None:
                kept = (None if existing is None else routes_of(existing, prefix=prefix)) or ()
            service = backend or (None if existing is None else canary_backend_of(existing))
            desired = desired_canary_ingress(
                stable, rollout=ctx.rollout, canary_weight=weight, routes=kept, backend=service
            )
            try:
                if existing is None:
                    ctx.wrote(await ctx.client.create(desired))
                elif not _in_place(existing, desired, prefix=routing.annotation_prefix):
                    desired["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                    ctx.wrote(await ctx.client.apply(desired, force=True))
                return
            except (AlreadyExists, Conflict):
                if attempt == _ATTEMPTS - 1:
                    raise


def _in_place(existing: KubeObject, desired: dict[str, Any], *, prefix: str) -> bool:
    """True when ``existing`` already says what ``desired`` says (so no write is needed)."""
    have_meta, want_meta = existing.get("metadata") or {}, desired["metadata"]
    have_ann = have_meta.get("annotations") or {}
    want_ann = want_meta["annotations"]
    if any(have_ann.get(k) != v for k, v in want_ann.items()):
        return False
    if any(
        (k.startswith(f"{prefix}/") or k == MANAGED_ROUTES_ANNOTATION) and k not in want_ann for k in have_ann
    ):
        return False  # an additional annotation (or a header route) the Rollout no longer asks for
    if not all(ref in (have_meta.get("ownerReferences") or []) for ref in want_meta["ownerReferences"]):
        return False
    have_spec, want_spec = existing.get("spec") or {}, desired["spec"]
    return all(have_spec.get(k) == want_spec.get(k) for k in ("rules", "tls", "ingressClassName"))
