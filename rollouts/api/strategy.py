"""How a Rollout moves from one version to the next: the canary and blue-green strategies.

Field names and meanings are Argo Rollouts' so a manifest migrates by changing its apiVersion. Rules
the API server can check by itself are also declared as CEL (`x-kubernetes-validations`) so `kubectl
apply` rejects a bad manifest before the controller ever sees it; the pydantic validators check the same
rules (and those CEL cannot express) for `kubectl rollouts lint`, the controller and tests.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from rollouts.api.common import (
    ApiModel,
    Duration,
    IntOrPercent,
    cel,
    parse_duration,
    rule_error,
)
from rollouts.api.enums import PingPongRole
from rollouts.api.experiment_step import RolloutExperimentStep
from rollouts.api.managed_routes import ManagedRoute, SetHeaderRoute, SetMirrorRoute
from rollouts.api.rollout_analysis import (
    AnalysisRunArgument,
    AnalysisTemplateRef,
    ArgumentValueFrom,
    RolloutAnalysis,
    RolloutAnalysisBackground,
)
from rollouts.api.traffic_routing import DEFAULT_TRAFFIC_WEIGHT, MAX_TRAFFIC_WEIGHT, RolloutTrafficRouting

# The analysis references lived here first; they stay importable from this module (the engine uses
# `rollouts.api.strategy.RolloutAnalysis`), but `rollouts.api` is the import path to prefer.
__all__ = [
    "AnalysisRunArgument",
    "AnalysisTemplateRef",
    "AntiAffinity",
    "ArgumentValueFrom",
    "BlueGreenStrategy",
    "CanaryStep",
    "CanaryStrategy",
    "PodMetadata",
    "ReplicaProgressThreshold",
    "RolloutAnalysis",
    "RolloutAnalysisBackground",
    "RolloutPause",
    "RolloutStrategy",
    "RolloutTrafficRouting",
    "SetCanaryScale",
]

#: Argo's default for scaleDownDelaySeconds / abortScaleDownDelaySeconds where they apply: both
#: blue-green delays (a schema default), and a canary's with trafficRouting (applied by the engine,
#: because the schema cannot make a default depend on another field).
DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30


def _count_set(*values: object) -> int:
    return sum(value is not None for value in values)


# --- canary steps ----------------------------------------------------------------------------------


class RolloutPause(ApiModel):
    """Pause the rollout for a duration, or until promoted when no duration is given."""

    duration: Duration | None = Field(
        default=None, description="How long to pause: seconds (30) or a duration (30s, 5m, 1h)."
    )

    @property
    def seconds(self) -> float | None:
        """The pause length in seconds, or None for an indefinite pause."""
        return None if self.duration is None else parse_duration(self.duration).total_seconds()


class ReplicaProgressThreshold(ApiModel):
    """How much of the canary must be available for a step to count as reached."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("self.type != 'Percent' || self.value <= 100", "a Percent value is at most 100")
        )
    )

    type: Literal["Percent", "Pod"] = Field(description="Percent of the canary's pods, or a number of pods.")
    value: int = Field(ge=1, description="The percent (1-100) or the pod count.")

    @model_validator(mode="after")
    def _percent_at_most_100(self) -> Self:
        if self.type == "Percent" and self.value > 100:
            raise rule_error(f"value is {self.value}% but a percent is at most 100", at="value")
        return self


class PreferredAntiAffinity(ApiModel):
    """Prefer nodes without stable pods, with this weight among the pod's other preferences."""

    weight: int = Field(ge=1, le=100, description="Weight of the preference (1-100).")


class RequiredAntiAffinity(ApiModel):
    """Require nodes without stable pods (pods stay Pending when there is none)."""


class AntiAffinity(ApiModel):
    """Keep the new revision's pods off the nodes that run the stable revision's pods."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "[has(self.preferredDuringSchedulingIgnoredDuringExecution),"
                " has(self.requiredDuringSchedulingIgnoredDuringExecution)].filter(x, x).size() == 1",
                "set exactly one of preferredDuringSchedulingIgnoredDuringExecution and"
                " requiredDuringSchedulingIgnoredDuringExecution",
            )
        )
    )

    preferred_during_scheduling_ignored_during_execution: PreferredAntiAffinity | None = Field(
        default=None, description="A preference, weighed with the pod's own."
    )
    required_during_scheduling_ignored_during_execution: RequiredAntiAffinity | None = Field(
        default=None, description="A rule: a new pod only goes to a node without stable pods."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        preferred = self.preferred_during_scheduling_ignored_during_execution
        if (preferred is None) == (self.required_during_scheduling_ignored_during_execution is None):
            raise rule_error(
                "set exactly one of preferredDuringSchedulingIgnoredDuringExecution (with a weight) and "
                "requiredDuringSchedulingIgnoredDuringExecution",
                at="preferredDuringSchedulingIgnoredDuringExecution",
            )
        return self

    @property
    def weight(self) -> int | None:
        """The preference's weight; ``None`` for a requirement."""
        preferred = self.preferred_during_scheduling_ignored_during_execution
        return None if preferred is None else preferred.weight


_ANTI_AFFINITY = Field(
    default=None,
    description=(
        "Schedule the new revision's pods away from the nodes running stable pods (so a bad node"
        " does not fail both); the rule is taken off the ReplicaSet once it is stable."
    ),
)


_RESERVED_POD_LABEL = "rollouts-pod-template-hash"


class PodMetadata(ApiModel):
    """Labels and annotations the pods of one side carry while they are on that side."""

    labels: dict[str, str] | None = Field(default=None, description="Labels added to the pods.")
    annotations: dict[str, str] | None = Field(default=None, description="Annotations added to the pods.")

    @model_validator(mode="after")
    def _not_the_hash(self) -> Self:
        if _RESERVED_POD_LABEL in (self.labels or {}):
            raise rule_error(
                f"labels may not set {_RESERVED_POD_LABEL}: the controller selects each revision by it",
                at="labels",
            )
        return self


def _side_metadata(side: str, moved: str) -> Any:
    return Field(
        default=None,
        description=(
            f"Labels and annotations for the {side} pods only (e.g. role: {side}, for queries and"
            f" dashboards). Ephemeral: {moved}, the pods are relabelled in place, not restarted."
        ),
    )


class SetCanaryScale(ApiModel):
    """Size the canary independently of its traffic weight (needs traffic routing)."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "(has(self.weight) ? 1 : 0) + (has(self.replicas) ? 1 : 0)"
                " + (has(self.matchTrafficWeight) && self.matchTrafficWeight ? 1 : 0) == 1",
                "setCanaryScale needs exactly one of weight, replicas or matchTrafficWeight: true",
            )
        )
    )

    weight: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TRAFFIC_WEIGHT,
        description="Canary size as a share of spec.replicas: a percentage, or out of maxTrafficWeight.",
    )
    replicas: int | None = Field(default=None, ge=0, description="Canary size as a number of pods.")
    match_traffic_weight: bool | None = Field(
        default=None, description="Size the canary from its current traffic weight again."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if _count_set(self.weight, self.replicas, self.match_traffic_weight or None) != 1:
            raise rule_error("set exactly one of weight, replicas or matchTrafficWeight: true")
        return self


_STEP_ACTIONS = (
    "setWeight",
    "pause",
    "analysis",
    "setCanaryScale",
    "setHeaderRoute",
    "setMirrorRoute",
    "experiment",
)


_REVISION_LIMIT = Field(
    default=None,
    ge=0,
    description=(
        "Old revisions kept running during their scale-down delay at the same time: beyond this"
        " many, the oldest are scaled down at once (0: none waits). Unset: no limit."
    ),
)
"""``scaleDownDelayRevisionLimit``, the same field in both strategies."""


class CanaryStep(ApiModel):
    """One step of a canary; each step does exactly one thing."""

    UNSUPPORTED = frozenset({"plugin"})
    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                " + ".join(f"(has(self.{name}) ? 1 : 0)" for name in _STEP_ACTIONS) + " == 1",
                "each step needs exactly one of setWeight, pause, analysis, setCanaryScale,"
                " setHeaderRoute, setMirrorRoute or experiment",
            )
        )
    )

    set_weight: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TRAFFIC_WEIGHT,
        description=(
            "Send this percentage of traffic to the canary (with trafficRouting.maxTrafficWeight:"
            " this weight out of it)."
        ),
    )
    pause: RolloutPause | None = Field(default=None, description="Pause, for a duration or until promoted.")
    analysis: RolloutAnalysis | None = Field(
        default=None, description="Run an analysis and wait for its result before the next step."
    )
    set_canary_scale: SetCanaryScale | None = Field(
        default=None, description="Change the size of the canary without changing its traffic weight."
    )
    set_header_route: SetHeaderRoute | None = Field(
        default=None,
        description="Send requests with these headers (NGINX: or a cookie) to the canary; a managed route.",
    )
    set_mirror_route: SetMirrorRoute | None = Field(
        default=None, description="Copy a share of matching requests to the canary (Istio); a managed route."
    )
    experiment: RolloutExperimentStep | None = Field(
        default=None,
        description="Run an Experiment (e.g. a baseline beside a canary copy) and wait for its verdict.",
    )

    @model_validator(mode="after")
    def _exactly_one_action(self) -> Self:
        values = (
            self.set_weight,
            self.pause,
            self.analysis,
            self.set_canary_scale,
            self.set_header_route,
            self.set_mirror_route,
            self.experiment,
        )
        given = [name for name, value in zip(_STEP_ACTIONS, values, strict=True) if value is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise rule_error(
                f"a step must have exactly one of {', '.join(_STEP_ACTIONS)} (found: {found}); "
                "split it into one step per action"
            )
        return self

    def managed_route(self) -> ManagedRoute | None:
        """The header or mirror route this step sets, if it is a route step."""
        return self.set_header_route or self.set_mirror_route


class PingPong(ApiModel):
    """Two Services that take turns as stable and canary (instead of canaryService and
    stableService): a promotion moves all traffic to the canary's Service and then swaps the roles,
    so no Service that takes traffic ever has its selector changed."""

    ping_service: str = Field(min_length=1, description="One of the two Services; stable at first.")
    pong_service: str = Field(min_length=1, description="The other Service; canary at first.")

    @model_validator(mode="after")
    def _two_services(self) -> Self:
        if self.ping_service == self.pong_service:
            raise rule_error(
                f"pingService and pongService are both {self.ping_service!r}; name two different Services",
                at="pongService",
            )
        return self

    def service(self, role: PingPongRole) -> str:
        return self.ping_service if role is PingPongRole.PING else self.pong_service


# --- strategies ------------------------------------------------------------------------------------

_ZERO = "(type(self.{f}) == int ? self.{f} == 0 : self.{f} == '0%')"
_TOTAL = (
    "(has(self.trafficRouting) && has(self.trafficRouting.maxTrafficWeight)"
    f" ? self.trafficRouting.maxTrafficWeight : {DEFAULT_TRAFFIC_WEIGHT})"
)
"""CEL: what a canary's weights count out of."""

_CANARY_CEL = cel(
    (
        "!has(self.canaryService) || !has(self.stableService) || self.canaryService != self.stableService",
        "canaryService and stableService must name different Services",
    ),
    (
        "!has(self.trafficRouting) || (has(self.trafficRouting.istio)"
        " && has(self.trafficRouting.istio.destinationRule))"
        " || (has(self.canaryService) && has(self.stableService)) || has(self.pingPong)",
        "NGINX and host-level Istio traffic routing need both canaryService and stableService (or pingPong)",
    ),
    (
        "!has(self.pingPong) || (!has(self.canaryService) && !has(self.stableService))",
        "pingPong replaces canaryService and stableService: remove them",
    ),
    (
        "!has(self.pingPong) || (has(self.trafficRouting) && has(self.trafficRouting.istio))",
        "pingPong needs Istio trafficRouting",
    ),
    (
        "!has(self.maxSurge) || !has(self.maxUnavailable) || !("
        + _ZERO.format(f="maxSurge")
        + " && "
        + _ZERO.format(f="maxUnavailable")
        + ")",
        "maxSurge and maxUnavailable cannot both be 0",
    ),
    (
        "!has(self.scaleDownDelaySeconds) || has(self.trafficRouting)",
        "scaleDownDelaySeconds needs trafficRouting (without a router old pods go during the update)",
    ),
    (
        "!has(self.dynamicStableScale) || !self.dynamicStableScale || has(self.trafficRouting)",
        "dynamicStableScale needs trafficRouting (without a router the stable shrinks anyway)",
    ),
    (
        "!has(self.steps) || !has(self.trafficRouting) || !has(self.trafficRouting.nginx)"
        " || self.steps.all(s, !has(s.setMirrorRoute))",
        "ingress-nginx has no mirroring per canary Ingress: setMirrorRoute needs Istio",
    ),
    (
        "!has(self.steps) || self.steps.all(s, "
        + " && ".join(
            f"(!has(s.{step}) || (has(self.trafficRouting) && has(self.trafficRouting.managedRoutes)"
            f" && self.trafficRouting.managedRoutes.exists(r, r.name == s.{step}.name)))"
            for step in ("setHeaderRoute", "setMirrorRoute")
        )
        + ")",
        "a setHeaderRoute or setMirrorRoute step names a route that is not in trafficRouting.managedRoutes",
    ),
    (
        "!has(self.steps) || self.steps.all(s, (!has(s.setWeight) || s.setWeight <= " + _TOTAL + ")"
        " && (!has(s.setCanaryScale) || !has(s.setCanaryScale.weight) || s.setCanaryScale.weight <= "
        + _TOTAL
        + "))",
        "a step's setWeight or setCanaryScale.weight is above the total weight"
        " (trafficRouting.maxTrafficWeight, or 100)",
    ),
)


class CanaryStrategy(ApiModel):
    """Shift traffic to the new version in steps, checking it between steps."""

    model_config = ConfigDict(json_schema_extra=_CANARY_CEL)

    canary_service: str | None = Field(
        default=None, description="Service the controller points at the canary pods only."
    )
    stable_service: str | None = Field(
        default=None, description="Service the controller points at the stable pods only."
    )
    ping_pong: PingPong | None = Field(
        default=None,
        description=(
            "Instead of canaryService and stableService: two Services that swap the stable and"
            " canary roles at each promotion (status.canary.stablePingPong says which is stable)."
            " Istio only: by host, the VirtualService routes to both Services; by subset, they are"
            " the two roles' Services for other clients while the subsets carry the mesh's traffic."
        ),
    )
    steps: list[CanaryStep] | None = Field(
        default=None,
        max_length=100,
        description="The steps, in order; with no steps the new version is promoted at once.",
    )
    traffic_routing: RolloutTrafficRouting | None = Field(
        default=None, description="Shift traffic with a router; without one, weight follows pod counts."
    )
    max_surge: IntOrPercent = Field(
        default="25%", description="Pods allowed above spec.replicas during the update (count or percent)."
    )
    max_unavailable: IntOrPercent = Field(
        default="25%", description="Pods allowed to be unavailable during the update (count or percent)."
    )
    scale_down_delay_seconds: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Seconds to keep the previous stable pods after promotion, so in-flight requests drain and"
            " a quick rollback is instant. Needs trafficRouting; default 30 when unset. Not allowed"
            " without trafficRouting: there the old pods are replaced during the update itself."
        ),
    )
    scale_down_delay_revision_limit: int | None = _REVISION_LIMIT
    anti_affinity: AntiAffinity | None = _ANTI_AFFINITY
    canary_metadata: PodMetadata | None = _side_metadata("canary", "when the canary is promoted")
    stable_metadata: PodMetadata | None = _side_metadata("stable", "when the canary is promoted")
    min_pods_per_replica_set: int | None = Field(
        default=None,
        ge=1,
        description=(
            "With trafficRouting: a canary taking traffic runs at least this many pods, however"
            " small its weight (e.g. 2, so it survives losing one). setCanaryScale.replicas is"
            " taken as written."
        ),
    )
    dynamic_stable_scale: bool = Field(
        default=False,
        description=(
            "With trafficRouting: scale the stable down as the canary takes traffic, so the update"
            " runs with about spec.replicas pods instead of up to twice as many. The stable shrinks"
            " only after the router shows the new weight, and traffic moves back (an abort, a lower"
            " setWeight) only as fast as stable pods become available. Costs an instant rollback:"
            " the stable must grow before it takes the traffic back."
        ),
    )
    abort_scale_down_delay_seconds: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Seconds to keep the canary pods after an abort, once all traffic is back on stable."
            " With dynamicStableScale and no value, the canary instead shrinks as its traffic goes back."
            " With trafficRouting: default 30 when unset; 0 keeps the canary until a retry or a new"
            " revision. Without trafficRouting it has no effect: the canary pods are replaced by"
            " stable pods at once, within maxSurge and maxUnavailable."
        ),
    )
    analysis: RolloutAnalysisBackground | None = Field(
        default=None, description="Analysis that runs in the background while the canary progresses."
    )
    replica_progress_threshold: ReplicaProgressThreshold | None = Field(
        default=None,
        description=(
            "A setWeight or setCanaryScale step is reached (and its weight set) once this much of the"
            " canary is available instead of all of it: for large canaries whose last pods are slow."
            " Promotion still waits for every pod."
        ),
    )

    @model_validator(mode="after")
    def _services_and_surge(self) -> Self:
        if self.canary_service and self.canary_service == self.stable_service:
            raise rule_error(
                f"canaryService and stableService are both {self.canary_service!r}; "
                "they must be two different Services",
                at="stableService",
            )
        routing = self.traffic_routing
        if self.ping_pong is not None:
            self._check_ping_pong(routing)
        elif routing is not None and routing.needs_both_services():
            missing = [
                name
                for name, value in (
                    ("canaryService", self.canary_service),
                    ("stableService", self.stable_service),
                )
                if not value
            ]
            if missing:
                router = "nginx" if routing.nginx else "istio without a destinationRule"
                raise rule_error(
                    f"trafficRouting.{router} needs canaryService and stableService; "
                    f"set {' and '.join(missing)} (or, for Istio, route by subsets with a destinationRule)",
                    at=missing[0],
                )
        if self.max_surge in (0, "0%") and self.max_unavailable in (0, "0%"):
            raise rule_error(
                "maxSurge and maxUnavailable are both 0, so no pod could ever be replaced; raise one of them",
                at="maxSurge",
            )
        if routing is None and self.min_pods_per_replica_set is not None:
            raise rule_error(
                "minPodsPerReplicaSet needs trafficRouting: without a router the pod ratio is the "
                "traffic split; remove it or add trafficRouting",
                at="minPodsPerReplicaSet",
            )
        if routing is None and self.dynamic_stable_scale:
            raise rule_error(
                "dynamicStableScale needs trafficRouting: without a router the pod ratio is the traffic "
                "split, so the stable shrinks as the canary grows anyway; remove it or add trafficRouting",
                at="dynamicStableScale",
            )
        if routing is None and self.scale_down_delay_seconds is not None:
            raise rule_error(
                "scaleDownDelaySeconds needs trafficRouting: without a router the old pods are "
                "replaced during the update, so there is nothing to delay; remove it or add trafficRouting",
                at="scaleDownDelaySeconds",
            )
        total = self.weight_total()
        for index, step in enumerate(self.steps or []):
            scale = step.set_canary_scale
            for field, weight in (
                ("setWeight", step.set_weight),
                ("setCanaryScale.weight", None if scale is None else scale.weight),
            ):
                if weight is not None and weight > total:
                    source = "maxTrafficWeight" if total != DEFAULT_TRAFFIC_WEIGHT else "percent"
                    raise rule_error(
                        f"{weight} is above the total weight {total} ({source}); lower it"
                        " (or, with NGINX, raise trafficRouting.maxTrafficWeight)",
                        at=f"steps[{index}].{field}",
                    )
        if routing is None:
            for index, step in enumerate(self.steps or []):
                if step.set_canary_scale is not None:
                    raise rule_error(
                        f"steps[{index}].setCanaryScale needs trafficRouting; "
                        "without a router the canary size follows setWeight",
                        at="trafficRouting",
                    )
        self._check_route_steps(routing)
        self._check_experiment_weights(routing, total)
        return self

    def _check_experiment_weights(self, routing: RolloutTrafficRouting | None, total: int) -> None:
        """Weighted experiment templates need a router that can carry them, and fit the total."""
        for index, step in enumerate(self.steps or []):
            weighted = step.experiment.weighted() if step.experiment is not None else []
            if not weighted:
                continue
            at = f"steps[{index}].experiment.templates"
            if routing is None or routing.nginx is None:
                router = "no trafficRouting" if routing is None else "Istio"
                raise rule_error(
                    f"a template weight needs NGINX traffic routing (this canary has {router}); "
                    "remove weight (the experiment's pods then take no traffic)",
                    at=at,
                )
            weights = sum(t.weight or 0 for t in weighted)
            if weights > total:
                raise rule_error(f"the template weights add up to {weights}, above the total {total}", at=at)
            replicas = sum(t.replicas for t in weighted)
            uneven = [t.name for t in weighted if (t.weight or 0) * replicas != weights * t.replicas]
            if uneven:
                raise rule_error(
                    f"behind NGINX the weighted templates share one Service and get traffic by their pods, "
                    f"so each weight must be in proportion to its replicas; {uneven} are not (e.g. give "
                    "every weighted template the same weight and the same replicas)",
                    at=at,
                )

    def _check_route_steps(self, routing: RolloutTrafficRouting | None) -> None:
        """Each route step names a managed route and asks only what its router can do."""
        names = [] if routing is None else routing.managed_route_names()
        for index, step in enumerate(self.steps or []):
            route = step.managed_route()
            if route is None:
                continue
            field = "setHeaderRoute" if isinstance(route, SetHeaderRoute) else "setMirrorRoute"
            at = f"steps[{index}].{field}"
            if routing is None:
                raise rule_error(f"{at} needs trafficRouting with managedRoutes", at=at)
            if route.name not in names:
                listed = ", ".join(names) or "none"
                raise rule_error(
                    f"{route.name!r} is not in trafficRouting.managedRoutes (listed: {listed});"
                    " add it there, or fix the name",
                    at=f"{at}.name",
                )
            if routing.nginx is not None:
                _check_nginx_route(route, at)
            elif isinstance(route, SetHeaderRoute):
                for position, match in enumerate(route.match or []):
                    if match.cookie is not None:
                        raise rule_error(
                            "cookie is NGINX's canary-by-cookie; with Istio match"
                            " the cookie header instead (headerName: cookie, headerValue.regex)",
                            at=f"{at}.match[{position}].cookie",
                        )

    def _check_ping_pong(self, routing: RolloutTrafficRouting | None) -> None:
        if self.canary_service or self.stable_service:
            raise rule_error(
                "pingPong replaces canaryService and stableService (its two Services take turns);"
                " remove canaryService and stableService, or remove pingPong",
                at="pingPong",
            )
        if routing is None or routing.istio is None:
            why = (
                "an NGINX canary Ingress cannot hold the stable role"
                if routing is not None and routing.nginx is not None
                else "the roles swap once the router shows all traffic on the canary"
            )
            raise rule_error(
                f"pingPong needs Istio trafficRouting ({why}); route with trafficRouting.istio,"
                " or use canaryService and stableService",
                at="pingPong",
            )

    def with_ping_pong_roles(self, stable: PingPongRole | None) -> CanaryStrategy:
        """The strategy with canaryService and stableService filled in from pingPong, ``stable``
        (from the status; ping when none yet) naming the stable one. Every reader after the
        parse (references, routers, the engine) then sees the two roles as usual."""
        if self.ping_pong is None:
            return self
        role = stable or PingPongRole.PING
        return self.model_copy(
            update={
                "stable_service": self.ping_pong.service(role),
                "canary_service": self.ping_pong.service(role.other()),
            }
        )

    def weight_total(self) -> int:
        """What setWeight, setCanaryScale.weight and the router's weight count out of: 100
        (percent) unless trafficRouting sets maxTrafficWeight."""
        routing = self.traffic_routing
        return DEFAULT_TRAFFIC_WEIGHT if routing is None else routing.weight_total()


def _check_nginx_route(route: ManagedRoute, at: str) -> None:
    """ingress-nginx routes by header on a canary Ingress with one header and one cookie, and
    cannot mirror per canary Ingress."""
    if isinstance(route, SetMirrorRoute):
        raise rule_error(
            "ingress-nginx has no mirroring per canary Ingress, so NGINX traffic routing cannot"
            " mirror to the canary; remove the step (or route with Istio)",
            at=at,
        )
    matches = route.match or []
    headers = [m for m in matches if m.header_name is not None]
    cookies = [m for m in matches if m.cookie is not None]
    if len(headers) > 1 or len(cookies) > 1:
        raise rule_error(
            "with nginx a header route has at most one header and one cookie condition"
            f" (found {len(headers)} and {len(cookies)}): the canary Ingress has one canary-by-header"
            " and one canary-by-cookie annotation",
            at=f"{at}.match",
        )


class BlueGreenStrategy(ApiModel):
    """Bring the new version up in full behind a preview Service, then switch the active Service at once."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!has(self.previewService) || self.activeService != self.previewService",
                "activeService and previewService must name different Services",
            )
        )
    )

    active_service: str = Field(min_length=1, description="Service that serves production traffic.")
    preview_service: str | None = Field(
        default=None, description="Service that points at the new version before promotion."
    )
    auto_promotion_enabled: bool = Field(
        default=True, description="Promote automatically once the new version is ready (false: wait)."
    )
    auto_promotion_seconds: int | None = Field(
        default=None, ge=0, description="Seconds to wait after the new version is ready before promoting."
    )
    preview_replica_count: int | None = Field(
        default=None, ge=0, description="Pods of the new version before promotion (default: spec.replicas)."
    )
    scale_down_delay_seconds: int = Field(
        default=DEFAULT_SCALE_DOWN_DELAY_SECONDS,
        ge=0,
        description="Seconds to keep the old version after the switch, so clients can drain (0: at once).",
    )
    abort_scale_down_delay_seconds: int = Field(
        default=DEFAULT_SCALE_DOWN_DELAY_SECONDS,
        ge=0,
        description="Seconds to keep the preview pods after an abort; 0 keeps them.",
    )
    max_unavailable: IntOrPercent = Field(
        default="25%",
        description=(
            "Pods allowed to be unavailable while spec.restartAt restarts them (count or percent of"
            " spec.replicas, rounded down; at least 1). Blue-green updates never take pods away."
        ),
    )
    scale_down_delay_revision_limit: int | None = _REVISION_LIMIT
    anti_affinity: AntiAffinity | None = _ANTI_AFFINITY
    preview_metadata: PodMetadata | None = _side_metadata("preview", "when the preview is promoted")
    active_metadata: PodMetadata | None = _side_metadata("active", "when the preview is promoted")
    pre_promotion_analysis: RolloutAnalysis | None = Field(
        default=None, description="Analysis that must pass before the active Service switches."
    )
    post_promotion_analysis: RolloutAnalysis | None = Field(
        default=None, description="Analysis after the switch; failing it switches back."
    )

    @model_validator(mode="after")
    def _distinct_services(self) -> Self:
        if self.preview_service == self.active_service:
            raise rule_error(
                f"activeService and previewService are both {self.active_service!r}; "
                "they must be two different Services",
                at="previewService",
            )
        return self


class RolloutStrategy(ApiModel):
    """How the Rollout updates: exactly one of canary or blueGreen."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("has(self.canary) != has(self.blueGreen)", "set exactly one of canary or blueGreen")
        )
    )

    canary: CanaryStrategy | None = Field(default=None, description="Shift traffic gradually in steps.")
    blue_green: BlueGreenStrategy | None = Field(
        default=None, description="Run the new version beside the old one and switch at once."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if _count_set(self.canary, self.blue_green) != 1:
            given = "both" if self.canary and self.blue_green else "neither"
            raise rule_error(f"set exactly one strategy, canary or blueGreen (found {given})")
        return self

    def pod_metadata_sides(self) -> tuple[tuple[str, PodMetadata | None], tuple[str, PodMetadata | None]]:
        """The ephemeral pod metadata of the (stable, new) sides, each with its path under
        ``spec.strategy``: canary ``stableMetadata``/``canaryMetadata``, blue-green
        ``activeMetadata``/``previewMetadata``."""
        if self.canary is not None:
            return (
                ("canary.stableMetadata", self.canary.stable_metadata),
                ("canary.canaryMetadata", self.canary.canary_metadata),
            )
        blue_green = self.blue_green
        assert blue_green is not None  # exactly one strategy is set
        return (
            ("blueGreen.activeMetadata", blue_green.active_metadata),
            ("blueGreen.previewMetadata", blue_green.preview_metadata),
        )
