"""Traffic routers: move a canary's share of traffic in NGINX Ingress or Istio, and read it back.

One module per product (``nginx``, ``istio``) behind the :class:`TrafficRouter` Protocol
(``router``: what it reads, set, read back, clean up), one table (``registry.ROUTERS``), and the
object transformations as pure functions (``nginx_ingress``, ``istio_routes``). All I/O goes
through :mod:`rollouts.kube`.

Wiring it into the controller::

    from rollouts.traffic import RouterContext, RouterError, router_for

    router = router_for(rollout)              # None: no trafficRouting (pod-ratio canary)
    ctx = RouterContext(rollout=rollout, client=kube_client, cache=caches)  # cache: optional, see below

    # observe: the weight really in the cluster -> Snapshot(router_canary_weight=...)
    weight = await router.read_weight(ctx) if router else None

    # act, for each SetWeight action (in plan order; stop at the first failure); it creates or
    # repairs the router's own objects (canary Ingress) and checks the user's (VirtualService):
    await router.set_weight(ctx, canary_weight=a.canary_weight, canary_hash=a.canary_hash,
                            stable_hash=a.stable_hash)

    # the Rollout stopped routing through this router (deleted, or trafficRouting removed):
    await router.cleanup(ctx)

    except RouterError as exc:                # the user must fix something: condition + Event
        condition/event reason = exc.reason, message = str(exc)   # names object, field and fix

``cache`` is anything with ``get((api_version, kind), namespace, name) -> dict | None`` (the
controller's ``Caches``): ``read_weight`` then costs no API call while the objects are cached.

Any other exception is transient API trouble (``rollouts.kube.Unavailable``, ``Conflict`` after the
router's own retries): retry with backoff. ``read_weight`` returns ``None`` when the weight cannot be
verified (canary Ingress not created yet, managed routes disagreeing); the engine then re-issues
the weight instead of advancing.
"""

from rollouts.traffic.istio import IstioRouter
from rollouts.traffic.nginx import NginxRouter
from rollouts.traffic.registry import (
    ROUTERS,
    declared_kinds,
    references_of,
    restore_stable,
    router_for,
    router_named,
    routing_key,
    watched_kinds,
)
from rollouts.traffic.router import (
    FileObjects,
    ForeignObjectError,
    InvalidRoutingError,
    LintProblem,
    ObjectReader,
    RouterContext,
    RouterError,
    RouterObjectMissingError,
    TrafficRouter,
    UnknownRouterError,
)

__all__ = [
    "ROUTERS",
    "FileObjects",
    "ForeignObjectError",
    "InvalidRoutingError",
    "IstioRouter",
    "LintProblem",
    "NginxRouter",
    "ObjectReader",
    "RouterContext",
    "RouterError",
    "RouterObjectMissingError",
    "TrafficRouter",
    "UnknownRouterError",
    "declared_kinds",
    "references_of",
    "restore_stable",
    "router_for",
    "router_named",
    "routing_key",
    "watched_kinds",
]
