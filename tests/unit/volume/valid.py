"""Hypothesis strategies of valid objects for issue 10's "bad input at volume" tests.

They draw what users really write (canary with steps, analysis and NGINX or Istio routing,
blue-green with pre/post-promotion analysis, templates whose counts and durations come from
``{{args.x}}``, Prometheus and web metrics with conditions), drawn together as one
:class:`Bundle` so every reference resolves: each template argument without a default is passed,
every analysis names a template of the bundle, every Service selects the pods. A test can then
demand that a valid bundle has no problem at all; :mod:`tests.unit.volume.broken` breaks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

GROUP_VERSION = "rollouts.dev/v1alpha1"
NAME = "web"
NAMESPACE = "default"
LABELS = {"app": NAME}

Body = dict[str, Any]


@dataclass
class Bundle:
    """One Rollout and the objects it names, all consistent with each other."""

    rollout: Body
    templates: list[Body] = field(default_factory=list)
    neighbours: list[Body] = field(default_factory=list)
    """Services and router objects (Ingress, VirtualService, DestinationRule) the Rollout names."""

    def documents(self) -> list[Body]:
        return [*self.neighbours, *self.templates, self.rollout]


# --- pieces -----------------------------------------------------------------------------------------

durations = st.one_of(
    st.integers(0, 3600),
    st.sampled_from(["0", "30s", "5m", "1h", "1h30m", "500ms", "2m30s", "1.5h"]),
)
duration_strings = st.sampled_from(["30s", "1m", "5m", "10s", "1h", "250ms"])
percents = st.integers(0, 100).map(lambda n: f"{n}%")
int_or_percent = st.one_of(st.integers(0, 5), percents)
quantities = st.sampled_from(["250m", "0.5", 1, "128Mi", "1Gi", "2", "1e3", "100k"])
label_values = st.sampled_from(["canary", "stable", "blue", "v2", "x-1"])


def metadata(name: str, *, namespaced: bool = True) -> Body:
    return {"name": name, "namespace": NAMESPACE} if namespaced else {"name": name}


@st.composite
def containers(draw: st.DrawFn) -> list[Body]:
    names = draw(st.lists(st.sampled_from([NAME, "sidecar", "proxy"]), min_size=1, max_size=3, unique=True))
    result = []
    for name in names:
        container: Body = {"name": name, "image": f"{name}:{draw(st.integers(1, 9))}"}
        if draw(st.booleans()):
            container["ports"] = [{"containerPort": draw(st.integers(1, 65535))}]
        if draw(st.booleans()):
            container["resources"] = {
                "requests": {"cpu": draw(quantities), "memory": draw(quantities)},
                "limits": {"cpu": draw(quantities)},
            }
        result.append(container)
    return result


@st.composite
def pod_templates(draw: st.DrawFn) -> Body:
    labels = {**LABELS}
    if draw(st.booleans()):
        labels["tier"] = draw(label_values)
    return {"metadata": {"labels": labels}, "spec": {"containers": draw(containers())}}


# --- templates --------------------------------------------------------------------------------------

CONDITIONS = [
    "result[0] >= 0.95",
    "len(result) > 0 && result[0] < 0.5",
    "result > 0.9 and not isNaN(result)",
    "default(result, 0) > 1",
    "isNil(result) || asFloat(result) < 2",
    "result == 1",
]


@dataclass(frozen=True)
class TemplateArg:
    """An argument a template declares, and whether a Rollout must pass it."""

    name: str
    needs_value: bool
    example: str
    """A value the Rollout may pass that the field using it accepts."""


@st.composite
def _metric(draw: st.DrawFn, name: str, args: dict[str, TemplateArg]) -> Body:
    query = "sum(rate(http_requests_total{service='{{args.service}}'}[1m]))"
    provider: Body
    if draw(st.booleans()):
        provider = {"prometheus": {"query": query}}
        if draw(st.booleans()):
            provider["prometheus"]["address"] = "http://prometheus.monitoring:9090"
        if draw(st.booleans()):
            provider["prometheus"]["timeout"] = draw(st.integers(1, 60))
    else:
        method = draw(st.sampled_from(["GET", "POST", "PUT"]))
        provider = {"web": {"url": "http://{{args.service}}/health", "method": method, "jsonPath": "{$.ok}"}}
        if method != "GET" and draw(st.booleans()):
            provider["web"]["body"] = '{"q": "{{args.service}}"}'
        if draw(st.booleans()):
            provider["web"]["headers"] = [{"key": "X-Run", "value": "{{args.service}}"}]
    metric: Body = {"name": name, "provider": provider}
    if draw(st.booleans()):
        metric["successCondition"] = draw(st.sampled_from(CONDITIONS))
    if draw(st.booleans()):
        metric["failureCondition"] = draw(st.sampled_from(CONDITIONS))
    if "count" in args and draw(st.booleans()):
        metric["count"] = "{{args.count}}"
        metric["interval"] = "{{args.interval}}" if "interval" in args else "1m"
    elif draw(st.booleans()):
        metric["count"] = draw(st.integers(0, 5))
        metric["interval"] = draw(duration_strings)
    elif "minutes" in args and draw(st.booleans()):
        metric["interval"] = "{{args.minutes}}m"
    if draw(st.booleans()):
        metric["initialDelay"] = draw(duration_strings)
    for limit in ("failureLimit", "inconclusiveLimit", "consecutiveErrorLimit"):
        if draw(st.integers(0, 3)) == 0:
            metric[limit] = draw(st.integers(0, 5))
    return metric


@st.composite
def templates(draw: st.DrawFn, name: str, *, cluster: bool = False) -> tuple[Body, list[TemplateArg]]:
    """An AnalysisTemplate (or ClusterAnalysisTemplate) and the arguments it declares."""
    declared = [TemplateArg("service", needs_value=True, example="web-canary")]
    for arg, example in (("count", "3"), ("interval", "30s"), ("minutes", "2")):
        if draw(st.booleans()):
            declared.append(TemplateArg(arg, needs_value=not draw(st.booleans()), example=example))
    by_name = {arg.name: arg for arg in declared}
    spec_args: list[Body] = []
    for arg in declared:
        entry: Body = {"name": arg.name}
        if not arg.needs_value:
            entry["value"] = arg.example
        spec_args.append(entry)
    metrics = [draw(_metric(f"{name}-{index}", by_name)) for index in range(draw(st.integers(1, 3)))]
    spec: Body = {"args": spec_args, "metrics": metrics}
    if draw(st.integers(0, 3)) == 0:
        spec["dryRun"] = [{"metricName": f"{name}-0"}]
    if draw(st.integers(0, 3)) == 0:
        spec["measurementRetention"] = [{"metricName": f"{name}-0", "limit": draw(st.integers(1, 10))}]
    kind = "ClusterAnalysisTemplate" if cluster else "AnalysisTemplate"
    body = {
        "apiVersion": GROUP_VERSION,
        "kind": kind,
        "metadata": metadata(name, namespaced=not cluster),
        "spec": spec,
    }
    return body, declared


@st.composite
def _analysis(
    draw: st.DrawFn, available: list[tuple[str, bool, list[TemplateArg]]], *, background: bool = False
) -> Body:
    """An analysis block naming some of ``available`` (name, cluster?, args) and passing their args."""
    chosen = draw(st.lists(st.sampled_from(available), min_size=1, max_size=2, unique_by=lambda t: t[0]))
    refs: list[Body] = []
    passed: dict[str, Body] = {}
    for name, cluster, declared in chosen:
        ref: Body = {"templateName": name}
        if cluster:
            ref["clusterScope"] = True
        refs.append(ref)
        for arg in declared:
            if arg.name in passed or not (arg.needs_value or draw(st.booleans())):
                continue
            if arg.name == "service" and draw(st.booleans()):
                source = draw(
                    st.sampled_from(
                        [
                            {"podTemplateHashValue": "Latest"},
                            {"fieldRef": {"fieldPath": "metadata.name"}},
                            {"fieldRef": {"fieldPath": "metadata.labels['app']"}},
                        ]
                    )
                )
                passed[arg.name] = {"name": arg.name, "valueFrom": source}
            else:
                passed[arg.name] = {"name": arg.name, "value": arg.example}
    block: Body = {"templates": refs}
    if passed:
        block["args"] = list(passed.values())
    if background and draw(st.booleans()):
        block["startingStep"] = draw(st.integers(0, 3))
    return block


# --- Rollouts ---------------------------------------------------------------------------------------


def service(name: str) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name),
        "spec": {"selector": {**LABELS}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def ingress(stable_service: str) -> Body:
    backend = {"service": {"name": stable_service, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(NAME),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "web.example",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }


def _istio(subsets: bool) -> list[Body]:
    if subsets:
        route = [
            {"destination": {"host": NAME, "subset": "stable"}, "weight": 100},
            {"destination": {"host": NAME, "subset": "canary"}, "weight": 0},
        ]
    else:
        route = [
            {"destination": {"host": "web-stable"}, "weight": 100},
            {"destination": {"host": "web-canary"}, "weight": 0},
        ]
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata(NAME),
        "spec": {"hosts": [NAME], "http": [{"name": "primary", "route": route}]},
    }
    if not subsets:
        return [vs]
    dr = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": metadata(NAME),
        "spec": {
            "host": NAME,
            "subsets": [{"name": "canary", "labels": {**LABELS}}, {"name": "stable", "labels": {**LABELS}}],
        },
    }
    return [vs, dr]


@st.composite
def _canary(draw: st.DrawFn, analysis: st.SearchStrategy[Body] | None) -> tuple[Body, list[Body]]:
    canary: Body = {}
    neighbours: list[Body] = []
    router = draw(st.sampled_from(["none", "nginx", "istio-hosts", "istio-subsets"]))
    if router != "istio-subsets" and (router != "none" or draw(st.booleans())):
        canary["canaryService"], canary["stableService"] = "web-canary", "web-stable"
        neighbours += [service("web-canary"), service("web-stable")]
    if router == "nginx":
        nginx: Body = {"stableIngress": NAME}
        if draw(st.booleans()):
            nginx["additionalIngressAnnotations"] = {"canary-by-header": "X-Canary"}
        canary["trafficRouting"] = {"nginx": nginx}
        neighbours.append(ingress("web-stable"))
    elif router.startswith("istio"):
        istio: Body = {"virtualService": {"name": NAME}}
        if draw(st.booleans()):
            istio["virtualService"]["routes"] = ["primary"]
        if router == "istio-subsets":
            istio["destinationRule"] = {
                "name": NAME,
                "canarySubsetName": "canary",
                "stableSubsetName": "stable",
            }
            neighbours.append(service(NAME))
        canary["trafficRouting"] = {"istio": istio}
        neighbours += _istio(subsets=router == "istio-subsets")
    routed = router != "none"
    kinds = (
        ["setWeight", "pause", "pause-for"]
        + (["analysis"] if analysis is not None else [])
        + (["scale"] if routed else [])
    )
    steps: list[Body] = []
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=6)):
        if kind == "setWeight":
            steps.append({"setWeight": draw(st.integers(0, 100))})
        elif kind == "pause":
            steps.append({"pause": {}})
        elif kind == "pause-for":
            steps.append({"pause": {"duration": draw(durations)}})
        elif kind == "analysis" and analysis is not None:
            steps.append({"analysis": draw(analysis)})
        else:
            scale = draw(
                st.sampled_from(
                    [
                        {"weight": 50},
                        {"replicas": 1},
                        {"matchTrafficWeight": True},
                        {"weight": 0},
                        {"replicas": 0},
                    ]
                )
            )
            steps.append({"setCanaryScale": scale})
    if steps or draw(st.booleans()):
        canary["steps"] = steps
    surge, unavailable = draw(int_or_percent), draw(int_or_percent)
    if (surge not in (0, "0%") or unavailable not in (0, "0%")) and draw(st.booleans()):
        canary["maxSurge"], canary["maxUnavailable"] = surge, unavailable
    if routed and draw(st.booleans()):
        canary["scaleDownDelaySeconds"] = draw(st.integers(0, 60))
    if draw(st.booleans()):
        canary["abortScaleDownDelaySeconds"] = draw(st.integers(0, 60))
    if analysis is not None and draw(st.booleans()):
        canary["analysis"] = draw(analysis)
    return {"canary": canary}, neighbours


@st.composite
def _blue_green(draw: st.DrawFn, analysis: st.SearchStrategy[Body] | None) -> tuple[Body, list[Body]]:
    blue_green: Body = {"activeService": "web-active"}
    neighbours = [service("web-active")]
    if draw(st.booleans()):
        blue_green["previewService"] = "web-preview"
        neighbours.append(service("web-preview"))
    if draw(st.booleans()):
        blue_green["autoPromotionEnabled"] = draw(st.booleans())
    for key, top in (
        ("autoPromotionSeconds", 600),
        ("previewReplicaCount", 5),
        ("scaleDownDelaySeconds", 60),
        ("abortScaleDownDelaySeconds", 60),
    ):
        if draw(st.booleans()):
            blue_green[key] = draw(st.integers(0, top))
    for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
        if analysis is not None and draw(st.booleans()):
            blue_green[key] = draw(analysis)
    return {"blueGreen": blue_green}, neighbours


@st.composite
def bundles(draw: st.DrawFn) -> Bundle:
    """A valid Rollout with its templates, Services and router objects."""
    made = [
        draw(templates(name, cluster=name == "cluster-rate"))
        for name in draw(
            st.lists(st.sampled_from(["success-rate", "latency", "cluster-rate"]), max_size=2, unique=True)
        )
    ]
    available = [
        (body["metadata"]["name"], body["kind"] == "ClusterAnalysisTemplate", args) for body, args in made
    ]
    analysis = _analysis(available) if available else None
    strategy, neighbours = draw(
        st.one_of(_canary(analysis), _blue_green(analysis)) if draw(st.booleans()) else _canary(analysis)
    )
    spec: Body = {
        "selector": {"matchLabels": {**LABELS}},
        "template": draw(pod_templates()),
        "strategy": strategy,
    }
    if draw(st.booleans()):
        spec["replicas"] = draw(st.integers(0, 20))
    if draw(st.booleans()):
        spec["minReadySeconds"] = draw(st.integers(0, 30))
        spec["progressDeadlineSeconds"] = spec["minReadySeconds"] + draw(st.integers(1, 600))
    if draw(st.booleans()):
        spec["revisionHistoryLimit"] = draw(st.integers(0, 10))
    if draw(st.integers(0, 4)) == 0:
        spec["paused"] = True
    if draw(st.integers(0, 4)) == 0:
        spec["restartAt"] = "2024-05-01T11:00:00Z"
    meta = {**metadata(NAME), "labels": {**LABELS}}  # what fieldRef metadata.labels['app'] reads
    rollout = {"apiVersion": GROUP_VERSION, "kind": "Rollout", "metadata": meta, "spec": spec}
    return Bundle(rollout=rollout, templates=[body for body, _ in made], neighbours=neighbours)
