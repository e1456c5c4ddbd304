"""Traffic routers a canary can shift weight with: NGINX Ingress and Istio.

Each router is one optional field of `RolloutTrafficRouting`; exactly one must be set. Adding a router
means one model here and one module in `rollouts/traffic/`.
"""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from rollouts.api.common import ApiModel, cel, rule_error
from rollouts.api.managed_routes import ManagedRouteName

__all__ = [
    "DEFAULT_TRAFFIC_WEIGHT",
    "MAX_TRAFFIC_WEIGHT",
    "IstioDestinationRule",
    "IstioTcpRoute",
    "IstioTlsRoute",
    "IstioTrafficRouting",
    "IstioVirtualService",
    "NginxTrafficRouting",
    "RolloutTrafficRouting",
]


DEFAULT_TRAFFIC_WEIGHT = 100
"""The total weight of traffic when ``maxTrafficWeight`` is not set: weights are percentages."""

MAX_TRAFFIC_WEIGHT = 1_000_000
"""Largest ``maxTrafficWeight`` accepted (a ten-thousandth of a percent is finer than any router needs)."""


class NginxTrafficRouting(ApiModel):
    """Split traffic with an NGINX Ingress canary: a copy of the stable Ingress pointing at canaryService."""

    UNSUPPORTED = frozenset({"stableIngresses", "canaryIngressAnnotations"})

    stable_ingress: str = Field(min_length=1, description="Name of the Ingress that routes to stableService.")
    annotation_prefix: str = Field(
        default="nginx.ingress.kubernetes.io", description="Prefix of the NGINX canary annotations."
    )
    additional_ingress_annotations: dict[str, str] | None = Field(
        default=None, description="Extra canary annotations (prefix added), e.g. canary-by-header."
    )


class IstioTlsRoute(ApiModel):
    """Selects the VirtualService's ``tls`` routes with a match on this port and these SNI hosts."""

    model_config = ConfigDict(
        json_schema_extra=cel(("has(self.port) || has(self.sniHosts)", "set port, sniHosts or both"))
    )

    port: int | None = Field(default=None, ge=1, le=65535, description="A match of the route has this port.")
    sni_hosts: list[str] | None = Field(
        default=None, min_length=1, description="A match of the route lists every one of these SNI hosts."
    )

    @model_validator(mode="after")
    def _selects_something(self) -> Self:
        if self.port is None and not self.sni_hosts:
            raise rule_error("a tlsRoutes entry selects routes by port and/or sniHosts; set one", at="port")
        return self


class IstioTcpRoute(ApiModel):
    """Selects the VirtualService's ``tcp`` routes with a match on this port."""

    port: int = Field(ge=1, le=65535, description="A match of the route has this port.")


class IstioVirtualService(ApiModel):
    """The Istio VirtualService whose route weights the controller sets."""

    name: str = Field(min_length=1, description="Name of the VirtualService (in the Rollout's namespace).")
    routes: list[str] | None = Field(
        default=None,
        description=(
            "Names of the HTTP routes to update; may be omitted if there is exactly one and neither"
            " tlsRoutes nor tcpRoutes is set."
        ),
    )
    tls_routes: list[IstioTlsRoute] | None = Field(
        default=None, description="TLS routes (spec.tls) to update, selected by their match."
    )
    tcp_routes: list[IstioTcpRoute] | None = Field(
        default=None, description="TCP routes (spec.tcp) to update, selected by their match's port."
    )


class IstioDestinationRule(ApiModel):
    """An Istio DestinationRule whose subsets select the canary and stable pods (subset-level routing)."""

    name: str = Field(min_length=1, description="Name of the DestinationRule.")
    canary_subset_name: str = Field(min_length=1, description="Subset that selects the canary pods.")
    stable_subset_name: str = Field(min_length=1, description="Subset that selects the stable pods.")


class IstioTrafficRouting(ApiModel):
    """Split traffic with Istio: host-level (two Services) or subset-level (with a DestinationRule)."""

    UNSUPPORTED = frozenset({"virtualServices"})

    virtual_service: IstioVirtualService = Field(description="The VirtualService to update.")
    destination_rule: IstioDestinationRule | None = Field(
        default=None, description="Route to subsets of one Service instead of to two Services."
    )


class RolloutTrafficRouting(ApiModel):
    """The traffic router that shifts the canary weight; exactly one."""

    UNSUPPORTED = frozenset({"alb", "smi", "ambassador", "appMesh", "traefik", "apisix", "plugins"})
    #: The fields that each name a router; the others (``maxTrafficWeight``) are settings of any.
    ROUTER_FIELDS: ClassVar[tuple[str, ...]] = ("nginx", "istio")
    model_config = ConfigDict(
        json_schema_extra=cel(
            ("has(self.nginx) != has(self.istio)", "set exactly one of nginx or istio"),
            (
                "!has(self.maxTrafficWeight) || !has(self.istio)",
                "maxTrafficWeight works with nginx only: Istio weights always total 100",
            ),
            (
                "!has(self.managedRoutes) || self.managedRoutes.all(r,"
                " self.managedRoutes.filter(o, o.name == r.name).size() == 1)",
                "managedRoutes names must be unique",
            ),
            (
                "!has(self.managedRoutes) || !has(self.nginx) || self.managedRoutes.size() <= 1",
                "with nginx, managedRoutes holds one route (a canary Ingress has one header route)",
            ),
        )
    )

    nginx: NginxTrafficRouting | None = Field(default=None, description="Route with an NGINX Ingress canary.")
    istio: IstioTrafficRouting | None = Field(default=None, description="Route with an Istio VirtualService.")
    max_traffic_weight: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TRAFFIC_WEIGHT,
        description=(
            "The total weight of traffic (NGINX only; default 100): setWeight and setCanaryScale.weight"
            " count out of it, so 1000 allows a 0.5% step (setWeight: 5). Written as the canary"
            " Ingress's canary-weight-total."
        ),
    )
    managed_routes: list[ManagedRouteName] | None = Field(
        default=None,
        max_length=20,
        description=(
            "Routes the controller adds for setHeaderRoute and setMirrorRoute steps, highest"
            " precedence first (Istio: placed above the VirtualService's routes, in this order)."
            " They are removed when the Rollout finishes its steps, aborts or is deleted."
        ),
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.nginx is None) == (self.istio is None):
            raise rule_error("set exactly one traffic router: nginx or istio")
        if self.max_traffic_weight is not None and self.istio is not None:
            raise rule_error(
                "maxTrafficWeight works with nginx only: Istio route weights always total 100; "
                "remove it and give setWeight in percent",
                at="maxTrafficWeight",
            )
        self._check_managed_routes()
        return self

    def _check_managed_routes(self) -> None:
        names = self.managed_route_names()
        for index, name in enumerate(names):
            if name in names[:index]:
                raise rule_error(f"managedRoutes lists {name!r} twice; name each once", at="managedRoutes")
        if self.nginx is not None and len(names) > 1:
            raise rule_error(
                f"with nginx, managedRoutes holds one route (found {len(names)}): the canary Ingress"
                " carries one set of canary-by-header/canary-by-cookie annotations; keep one",
                at="managedRoutes",
            )
        if self.nginx is not None and names:
            prefix = self.nginx.annotation_prefix
            taken = sorted(
                key
                for key in self.nginx.additional_ingress_annotations or {}
                if key.removeprefix(f"{prefix}/").startswith(("canary-by-header", "canary-by-cookie"))
            )
            if taken:
                raise rule_error(
                    f"nginx.additionalIngressAnnotations sets {', '.join(taken)} and managedRoutes gives"
                    " the header route to setHeaderRoute steps; keep one of the two",
                    at="nginx.additionalIngressAnnotations",
                )
        vs = self.istio.virtual_service if self.istio is not None else None
        clash = sorted(set(names) & set(vs.routes or ())) if vs is not None else []
        if clash:
            raise rule_error(
                f"managedRoutes {', '.join(clash)} also named in istio.virtualService.routes; the"
                " controller adds the managed routes itself, so give them names of their own",
                at="managedRoutes",
            )

    def managed_route_names(self) -> list[str]:
        """The names of ``managedRoutes``, highest precedence first."""
        return [route.name for route in self.managed_routes or []]

    def routers(self) -> list[str]:
        """The router keys set (exactly one in a valid object)."""
        return [key for key in self.ROUTER_FIELDS if getattr(self, key) is not None]

    def weight_total(self) -> int:
        """What weights count out of: ``maxTrafficWeight``, or 100 (percent)."""
        return self.max_traffic_weight or DEFAULT_TRAFFIC_WEIGHT

    def needs_both_services(self) -> bool:
        """NGINX and host-level Istio route to two Services; subset-level Istio routes to one."""
        return self.nginx is not None or (self.istio is not None and self.istio.destination_rule is None)
