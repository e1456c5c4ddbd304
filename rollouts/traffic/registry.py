"""The one table of traffic routers: the ``trafficRouting`` key a Rollout sets -> the router class.

Adding a router is one module and one line here: the controller watches what :func:`watched_kinds`
lists, and each router's ``references`` say which objects a Rollout reads. A name that is not in the
table raises :class:`UnknownRouterError`; there is no default router to fall back on, because
shifting traffic with the wrong product would report weights that no proxy applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from rollouts.api import Rollout
from rollouts.engine.references import (
    ANALYSIS_TEMPLATE,
    CLUSTER_ANALYSIS_TEMPLATE,
    DEPLOYMENT,
    SERVICE,
    Kind,
    Reference,
    strategy_references,
    template_references,
    workload_references,
)
from rollouts.kube import KubeClient, KubeObject
from rollouts.traffic.istio import IstioRouter
from rollouts.traffic.nginx import NginxRouter
from rollouts.traffic.router import RouterContext, TrafficRouter, UnknownRouterError

__all__ = [
    "ROUTERS",
    "declared_kinds",
    "references_of",
    "restore_stable",
    "router_for",
    "router_named",
    "routing_key",
    "watched_kinds",
]

ROUTERS: Mapping[str, Callable[[], TrafficRouter]] = MappingProxyType(
    {
        "nginx": NginxRouter,
        "istio": IstioRouter,
    }
)


def router_named(name: str) -> TrafficRouter:
    """A new router for the ``trafficRouting`` key ``name``; unknown names raise, listing the known ones."""
    factory = ROUTERS.get(name)
    if factory is None:
        raise UnknownRouterError(
            f"spec.strategy.canary.trafficRouting.{name} names a traffic router kube-rollouts does not have; "
            f"use one of: {', '.join(sorted(ROUTERS))}"
        )
    return factory()


def routing_key(rollout: Rollout) -> str | None:
    """The ``trafficRouting`` key the Rollout sets (``None`` without traffic routing: pod-ratio canary)."""
    canary = rollout.spec.strategy.canary
    if canary is None or canary.traffic_routing is None:
        return None
    keys = canary.traffic_routing.routers()
    if len(keys) != 1:
        raise UnknownRouterError(
            f"Rollout {rollout.metadata.name}: spec.strategy.canary.trafficRouting must set exactly one "
            f"router, got {keys or 'none'}; keep one of: {', '.join(sorted(ROUTERS))}"
        )
    return keys[0]


def router_for(rollout: Rollout) -> TrafficRouter | None:
    """The router the Rollout asks for, or ``None`` when it routes by pod ratio (no trafficRouting)."""
    key = routing_key(rollout)
    return None if key is None else router_named(key)


def watched_kinds() -> list[Kind]:
    """Every kind some router reads, each once (the controller keeps a watch cache of each)."""
    return list(dict.fromkeys(kind for factory in ROUTERS.values() for kind in factory().kinds))


def declared_kinds() -> list[Kind]:
    """Every kind a Rollout can name objects of: Services, templates, every router's kinds."""
    return list(
        dict.fromkeys([SERVICE, DEPLOYMENT, ANALYSIS_TEMPLATE, CLUSTER_ANALYSIS_TEMPLATE, *watched_kinds()])
    )


def references_of(rollout: Rollout, router: TrafficRouter | None = None) -> list[Reference]:
    """Every object ``rollout`` reads: its Services, its router's objects, its templates.

    The controller's caches index these, its observe step reads them, and ``lint`` checks them
    against a file, so the three cannot disagree. ``router``: the Rollout's router when the
    caller has it already (else looked up; a routing the registry does not know reads nothing,
    and the pass reports it).
    """
    if router is None:
        try:
            router = router_for(rollout)
        except UnknownRouterError:
            router = None
    routed = router.references(rollout) if router is not None else []
    return [
        *workload_references(rollout),
        *strategy_references(rollout),
        *routed,
        *template_references(rollout),
    ]


async def restore_stable(
    rollout: Rollout, client: KubeClient, *, remember: Callable[[KubeObject], None] | None = None
) -> bool:
    """All traffic to stable through ``rollout``'s router (its ``cleanup``); ``False`` when it routes
    through none. Raises :class:`RouterError` for what the user must fix, API errors as they are."""
    router = router_for(rollout)
    if router is None:
        return False
    await router.cleanup(RouterContext(rollout=rollout, client=client, remember=remember))
    return True
