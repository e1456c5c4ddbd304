"""Header and mirror routes: requests a canary step sends to the canary by what they carry.

``trafficRouting.managedRoutes`` names the routes the controller may add; a ``setHeaderRoute``
step adds (or, without ``match``, removes) one that sends every matching request to the canary,
and a ``setMirrorRoute`` step one that copies a share of the matching requests to it (Istio only:
ingress-nginx has no mirroring per canary Ingress). The routes the steps have set stay until a
later step changes them; all of them go when the Rollout finishes its steps, aborts or is deleted.

The models are the routes' values too: the engine compares the routes it wants with the ones the
router reads back (``==`` on frozen models), so every field has one canonical form. Header names
are case-insensitive in HTTP and Istio only takes lowercase keys, so they are kept in lowercase.
"""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from rollouts.api.common import ApiModel, cel, rule_error

__all__ = [
    "HeaderRoutingMatch",
    "ManagedRoute",
    "ManagedRouteName",
    "RouteMatch",
    "SetHeaderRoute",
    "SetMirrorRoute",
    "StringMatch",
]

_NAME = Field(min_length=1, max_length=63, description="A name listed in trafficRouting.managedRoutes.")


class StringMatch(ApiModel):
    """How a value is matched: exactly one of ``exact``, ``prefix`` or ``regex`` (RE2 / PCRE)."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "(has(self.exact) ? 1 : 0) + (has(self.prefix) ? 1 : 0) + (has(self.regex) ? 1 : 0) == 1",
                "set exactly one of exact, prefix or regex",
            )
        )
    )

    exact: str | None = Field(default=None, description="The whole value.")
    prefix: str | None = Field(default=None, description="The value starts with this.")
    regex: str | None = Field(default=None, description="A regular expression the value matches.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [v for v in (self.exact, self.prefix, self.regex) if v is not None]
        if len(given) != 1:
            raise rule_error("set exactly one of exact, prefix or regex")
        return self


class HeaderRoutingMatch(ApiModel):
    """One condition of a header route: a header's value, or (NGINX only) a cookie set to ``always``.

    The conditions of one route are alternatives: a request that meets any of them goes to the
    canary (Istio: one match per condition; ingress-nginx: the header is checked, then the cookie).
    """

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("has(self.headerName) != has(self.cookie)", "set headerName (with headerValue) or cookie"),
            ("!has(self.headerName) || has(self.headerValue)", "headerName needs headerValue"),
        )
    )

    header_name: str | None = Field(default=None, min_length=1, description="The header to match.")
    header_value: StringMatch | None = Field(default=None, description="How its value is matched.")
    cookie: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "NGINX only (canary-by-cookie): requests whose cookie of this name is 'always' go to the"
            " canary, 'never' never do; any other value falls through to the weight."
        ),
    )

    @field_validator("header_name")
    @classmethod
    def _header_lower(cls, value: str | None) -> str | None:
        return None if value is None else value.lower()

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.header_name is None) == (self.cookie is None):
            raise rule_error("set headerName (with headerValue) or cookie, not both")
        if self.header_name is not None and self.header_value is None:
            raise rule_error(f"headerName {self.header_name!r} needs headerValue", at="headerValue")
        if self.cookie is not None and self.header_value is not None:
            raise rule_error("a cookie condition has no headerValue (the cookie's value is 'always')")
        return self


class SetHeaderRoute(ApiModel):
    """Send the requests that meet one of ``match`` to the canary, whatever its weight; without
    ``match`` the route is removed."""

    name: str = _NAME
    match: list[HeaderRoutingMatch] | None = Field(
        default=None, min_length=1, description="Conditions, any of which sends a request to the canary."
    )


class RouteMatch(ApiModel):
    """Requests a mirror route copies: all conditions given must hold (Istio's HTTPMatchRequest)."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("has(self.method) || has(self.path) || has(self.headers)", "set method, path or headers")
        )
    )

    method: StringMatch | None = Field(default=None, description="The HTTP method.")
    path: StringMatch | None = Field(default=None, description="The request path (Istio's uri).")
    headers: dict[str, StringMatch] | None = Field(default=None, description="Header values, by name.")

    @field_validator("headers")
    @classmethod
    def _headers_lower(cls, value: dict[str, StringMatch] | None) -> dict[str, StringMatch] | None:
        return None if value is None else {name.lower(): match for name, match in value.items()}

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.method is None and self.path is None and not self.headers:
            raise rule_error("a mirror match needs method, path or headers")
        return self


class SetMirrorRoute(ApiModel):
    """Copy ``percentage`` of the requests that meet one of ``match`` to the canary (Istio only);
    the responses of the copies are dropped, so users only ever see the stable's. Without
    ``match`` the route is removed."""

    name: str = _NAME
    match: list[RouteMatch] | None = Field(
        default=None, min_length=1, description="Requests to copy: any of these matches."
    )
    percentage: int = Field(default=100, ge=0, le=100, description="Percent of those requests copied.")


ManagedRoute = SetHeaderRoute | SetMirrorRoute
"""A route the controller adds, as a step sets it (and as the router reads it back)."""


class ManagedRouteName(ApiModel):
    """A route the controller may add (``managedRoutes``); the list's order is their precedence."""

    name: str = _NAME
