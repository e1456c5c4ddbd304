"""Cross-object checks of ``lint``: does each Rollout fit the Services, Ingress, VirtualService,
DestinationRule and AnalysisTemplates that sit beside it in the same file?

A GitOps repository usually keeps a Rollout and the objects it names together. The API server
cannot check one object against another, so a typo in ``stableService`` or a VirtualService route
name is only found when the controller tries to shift traffic, mid-delivery. These checks find it
before merge. A reference is only checked when the file holds objects of the referenced kind (a
file without any Service may rely on Services applied from elsewhere).

Each check returns :class:`Finding` values pinned to the document that has to change: a dangling
name is the Rollout's field to fix; a route or a selector that does not fit is the other object's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rollouts.api import Rollout, RolloutAnalysis
from rollouts.cli.manifests import Document, Manifest

__all__ = ["Finding", "check_references"]


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem: the document to change, the field path in it, and what to do."""

    document: Document
    path: str
    message: str


@dataclass(frozen=True, kw_only=True)
class _Context:
    """One Rollout being checked, and the file it is checked against."""

    rollout: Rollout
    document: Document
    manifest: Manifest

    def peers(self, kind: str) -> list[Document]:
        """Documents of ``kind`` in the Rollout's namespace (a document without one matches any)."""
        namespace = self.document.namespace
        return [
            doc
            for doc in self.manifest.of_kind(kind)
            if doc.namespace is None or namespace is None or doc.namespace == namespace
        ]

    def find(self, kind: str, name: str) -> Document | None:
        return next((doc for doc in self.peers(kind) if doc.name == name), None)

    def missing(self, *, path: str, kind: str, name: str, hint: str = "") -> Finding:
        names = ", ".join(sorted(doc.name for doc in self.peers(kind)))
        return Finding(
            document=self.document,
            path=path,
            message=f"{kind} {name!r} is not in this file ({kind}s in it: {names}); "
            f"fix the name or add the {kind}{hint}",
        )


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def _list(obj: Any) -> list[Any]:
    return obj if isinstance(obj, list) else []


def check_references(*, rollout: Rollout, document: Document, manifest: Manifest) -> list[Finding]:
    """Every cross-object problem of one (valid) Rollout with the rest of its file."""
    ctx = _Context(rollout=rollout, document=document, manifest=manifest)
    return [*_services(ctx), *_nginx(ctx), *_istio(ctx), *_analysis(ctx)]


# --- Services ---------------------------------------------------------------------------------------


def _service_refs(rollout: Rollout) -> Iterator[tuple[str, str]]:
    canary, blue_green = rollout.spec.strategy.canary, rollout.spec.strategy.blue_green
    if canary is not None:
        if canary.canary_service:
            yield "spec.strategy.canary.canaryService", canary.canary_service
        if canary.stable_service:
            yield "spec.strategy.canary.stableService", canary.stable_service
    if blue_green is not None:
        yield "spec.strategy.blueGreen.activeService", blue_green.active_service
        if blue_green.preview_service:
            yield "spec.strategy.blueGreen.previewService", blue_green.preview_service


def _services(ctx: _Context) -> Iterator[Finding]:
    if not ctx.peers("Service"):
        return
    labels = ctx.rollout.spec.template_labels
    for path, name in _service_refs(ctx.rollout):
        service = ctx.find("Service", name)
        if service is None:
            yield ctx.missing(path=path, kind="Service", name=name)
            continue
        selector = _get(service.body, "spec", "selector")
        if not isinstance(selector, Mapping) or not selector:
            yield Finding(
                document=service,
                path="spec.selector",
                message=f"is empty, so Service {name!r} of Rollout {ctx.document.name} would select "
                f"every pod of the namespace; set it to the Rollout's pod labels (e.g. {_labels(labels)})",
            )
        elif any(labels.get(key) != value for key, value in selector.items()):
            yield Finding(
                document=service,
                path="spec.selector",
                message=f"{_labels(selector)} does not select the pods of Rollout {ctx.document.name} "
                f"(their labels: {_labels(labels)}); use labels from its spec.template.metadata.labels",
            )


def _labels(labels: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in sorted(labels.items())) + "}"


# --- NGINX ------------------------------------------------------------------------------------------


def _backends(ingress: Any) -> set[str]:
    names = {_get(ingress, "spec", "defaultBackend", "service", "name")}
    for rule in _list(_get(ingress, "spec", "rules")):
        for path in _list(_get(rule, "http", "paths")):
            names.add(_get(path, "backend", "service", "name"))
    return {name for name in names if isinstance(name, str)}


def _nginx(ctx: _Context) -> Iterator[Finding]:
    canary = ctx.rollout.spec.strategy.canary
    routing = canary.traffic_routing if canary is not None else None
    nginx = routing.nginx if routing is not None else None
    if canary is None or nginx is None or not ctx.peers("Ingress"):
        return
    path = "spec.strategy.canary.trafficRouting.nginx.stableIngress"
    ingress = ctx.find("Ingress", nginx.stable_ingress)
    if ingress is None:
        yield ctx.missing(path=path, kind="Ingress", name=nginx.stable_ingress)
        return
    stable = canary.stable_service
    if stable and ctx.peers("Service") and ctx.find("Service", stable) is None:
        return  # the dangling stableService is reported on the Rollout; one report is enough
    if stable and stable not in _backends(ingress.body):
        yield Finding(
            document=ingress,
            path="spec.rules[].http.paths[].backend.service.name",
            message=f"no path routes to Service {stable!r}, the stableService of Rollout "
            f"{ctx.document.name}; point a path's backend at it (the canary Ingress is copied from "
            "this one with the backends swapped to canaryService)",
        )


# --- Istio ------------------------------------------------------------------------------------------


def _istio(ctx: _Context) -> Iterator[Finding]:
    canary = ctx.rollout.spec.strategy.canary
    routing = canary.traffic_routing if canary is not None else None
    istio = routing.istio if routing is not None else None
    if canary is None or istio is None:
        return
    base = "spec.strategy.canary.trafficRouting.istio"
    rule = istio.destination_rule
    if rule is not None and ctx.peers("DestinationRule"):
        found = ctx.find("DestinationRule", rule.name)
        if found is None:
            yield ctx.missing(path=f"{base}.destinationRule.name", kind="DestinationRule", name=rule.name)
        else:
            subsets = {_get(s, "name") for s in _list(_get(found.body, "spec", "subsets"))}
            for subset in (rule.canary_subset_name, rule.stable_subset_name):
                if subset not in subsets:
                    yield Finding(
                        document=found,
                        path="spec.subsets",
                        message=f"has no subset named {subset!r}, which Rollout {ctx.document.name} "
                        "routes to; add it (the controller sets its pod-template hash label)",
                    )
    if not ctx.peers("VirtualService"):
        return
    vs_ref = istio.virtual_service
    service = ctx.find("VirtualService", vs_ref.name)
    if service is None:
        yield ctx.missing(path=f"{base}.virtualService.name", kind="VirtualService", name=vs_ref.name)
        return
    routes = _list(_get(service.body, "spec", "http"))
    names = [_get(route, "name") for route in routes]
    if vs_ref.routes:
        targeted: list[tuple[int, Any]] = []
        for index, wanted in enumerate(vs_ref.routes):
            if wanted not in names:
                known = ", ".join(str(n) for n in names if n) or "none is named"
                yield Finding(
                    document=ctx.document,
                    path=f"{base}.virtualService.routes[{index}]",
                    message=f"route {wanted!r} is not an http route of VirtualService {vs_ref.name} "
                    f"(its routes: {known}); fix the name or name the route in the VirtualService",
                )
            else:
                targeted.append((names.index(wanted), routes[names.index(wanted)]))
    elif len(routes) != 1:
        yield Finding(
            document=ctx.document,
            path=f"{base}.virtualService.routes",
            message=f"is not set and VirtualService {vs_ref.name} has {len(routes)} http routes; "
            "list the names of the routes whose weights the controller sets",
        )
        return
    else:
        targeted = [(0, routes[0])]
    for index, route in targeted:
        yield from _destinations(ctx, service, index, route)


def _destinations(ctx: _Context, service: Document, index: int, route: Any) -> Iterator[Finding]:
    canary = ctx.rollout.spec.strategy.canary
    istio = canary.traffic_routing.istio if canary and canary.traffic_routing else None
    if canary is None or istio is None:
        return
    destinations = [_get(d, "destination") for d in _list(_get(route, "route"))]
    label = _get(route, "name") or f"#{index}"
    if istio.destination_rule is not None:
        have = {_get(d, "subset") for d in destinations}
        wanted = [("subset", istio.destination_rule.canary_subset_name)]
        wanted.append(("subset", istio.destination_rule.stable_subset_name))
    else:
        have = {str(_get(d, "host") or "").split(".")[0] for d in destinations}
        wanted = [("host", canary.canary_service or ""), ("host", canary.stable_service or "")]
    for field, value in wanted:
        if value and value not in have:
            yield Finding(
                document=service,
                path=f"spec.http[{index}].route",
                message=f"route {label!r} has no destination with {field} {value!r}, which Rollout "
                f"{ctx.document.name} shifts weight to; add that destination (weight 0 for the canary)",
            )


# --- AnalysisTemplates ------------------------------------------------------------------------------


def _analysis_refs(rollout: Rollout) -> Iterator[tuple[str, RolloutAnalysis]]:
    canary, blue_green = rollout.spec.strategy.canary, rollout.spec.strategy.blue_green
    if canary is not None:
        for index, step in enumerate(canary.steps or []):
            if step.analysis is not None:
                yield f"spec.strategy.canary.steps[{index}].analysis", step.analysis
        if canary.analysis is not None:
            yield "spec.strategy.canary.analysis", canary.analysis
    if blue_green is not None:
        if blue_green.pre_promotion_analysis is not None:
            yield "spec.strategy.blueGreen.prePromotionAnalysis", blue_green.pre_promotion_analysis
        if blue_green.post_promotion_analysis is not None:
            yield "spec.strategy.blueGreen.postPromotionAnalysis", blue_green.post_promotion_analysis


def _analysis(ctx: _Context) -> Iterator[Finding]:
    for path, analysis in _analysis_refs(ctx.rollout):
        given = {arg.name for arg in analysis.args or []}
        for index, ref in enumerate(analysis.templates):
            kind = "ClusterAnalysisTemplate" if ref.cluster_scope else "AnalysisTemplate"
            if not ctx.peers(kind):
                continue
            template = ctx.find(kind, ref.template_name)
            if template is None:
                other = "false" if ref.cluster_scope else "true"
                yield ctx.missing(
                    path=f"{path}.templates[{index}].templateName",
                    kind=kind,
                    name=ref.template_name,
                    hint=f" (or set clusterScope: {other} if it is the other kind)",
                )
                continue
            for arg in _list(_get(template.body, "spec", "args")):
                name = _get(arg, "name")
                needed = isinstance(name, str) and _get(arg, "value") is None
                if needed and _get(arg, "valueFrom") is None and name not in given:
                    yield Finding(
                        document=ctx.document,
                        path=f"{path}.args",
                        message=f"{kind} {ref.template_name} needs argument {name!r}, which has no "
                        f"default; add {{name: {name}, value: ...}} here",
                    )
