"""Every validation rule, table-driven: a valid manifest broken in one place gives one line naming the
object, the YAML path and the fix."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.api import InvalidObjectError, Rollout, parse_object, parse_rollout, validation_errors
from rollouts.api.validation import MAX_DEPTH, MAX_VALUES, _plainly_within_limits, too_big, too_deep
from tests.unit.volume.broken import laughs, nested_lists

Doc = dict[str, Any]


def rollout(**strategy: Any) -> Doc:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web", "tier": "front"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
            "strategy": strategy
            or {
                "canary": {
                    "canaryService": "web-canary",
                    "stableService": "web-stable",
                    "trafficRouting": {"nginx": {"stableIngress": "web"}},
                    "steps": [{"setWeight": 20}, {"pause": {"duration": "1m"}}, {"setWeight": 50}],
                }
            },
        },
    }


def template() -> Doc:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "sr", "namespace": "shop"},
        "spec": {
            "args": [{"name": "svc"}],
            "metrics": [
                {
                    "name": "success-rate",
                    "interval": "1m",
                    "count": 3,
                    "successCondition": "result[0] >= 0.95",
                    "provider": {"prometheus": {"address": "http://p:9090", "query": "vector(1)"}},
                }
            ],
        },
    }


def canary(doc: Doc) -> Doc:
    result: Doc = doc["spec"]["strategy"]["canary"]
    return result


def metric(doc: Doc) -> Doc:
    result: Doc = doc["spec"]["metrics"][0]
    return result


def bg(**fields: Any) -> Doc:
    return rollout(blueGreen={"activeService": "web-active", **fields})


Case = tuple[str, Callable[[], Doc], str]

CASES: list[Case] = [
    # (id, broken manifest, the one expected message, without the "Rollout shop/web: " prefix)
    (
        "both strategies",
        lambda: rollout(canary={}, blueGreen={"activeService": "a"}),
        "`spec.strategy`: set exactly one strategy, canary or blueGreen (found both)",
    ),
    (
        "no strategy",
        lambda: _edit(rollout(), lambda d: d["spec"].update(strategy={})),
        "`spec.strategy`: set exactly one strategy, canary or blueGreen (found neither)",
    ),
    (
        "step with two actions",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"].append({"setWeight": 5, "pause": {}})),
        "`spec.strategy.canary.steps[3]`: a step must have exactly one of setWeight, pause, analysis, "
        "setCanaryScale, setHeaderRoute, setMirrorRoute, experiment (found: setWeight, pause)",
    ),
    (
        "empty step",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"].insert(1, {})),
        "`spec.strategy.canary.steps[1]`: a step must have exactly one of setWeight, pause, analysis, "
        "setCanaryScale, setHeaderRoute, setMirrorRoute, experiment (found: none)",
    ),
    (
        "pingPong with stableService",
        lambda: _edit(rollout(), lambda d: canary(d).update(pingPong=PING_PONG)),
        "`spec.strategy.canary.pingPong`: pingPong replaces canaryService and stableService",
    ),
    (
        "pingPong with NGINX",
        lambda: _ping_pong({"nginx": {"stableIngress": "web"}}),
        "`spec.strategy.canary.pingPong`: pingPong needs Istio trafficRouting (an NGINX canary "
        "Ingress cannot hold the stable role)",
    ),
    (
        "pingPong without a router",
        lambda: _ping_pong(None),
        "`spec.strategy.canary.pingPong`: pingPong needs Istio trafficRouting",
    ),
    (
        "pingPong with one Service twice",
        lambda: _ping_pong(ISTIO_HOSTS, pingPong={"pingService": "web", "pongService": "web"}),
        "`spec.strategy.canary.pingPong.pongService`: pingService and pongService are both 'web'",
    ),
    (
        "weight above 100",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][2].update(setWeight=150)),
        "`spec.strategy.canary.steps[2].setWeight`: 150 is above the total weight 100 (percent); lower it",
    ),
    (
        "negative weight",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][0].update(setWeight=-1)),
        "`spec.strategy.canary.steps[0].setWeight` must be at least 0 (got -1)",
    ),
    (
        "maxTrafficWeight with Istio",
        lambda: _edit(
            rollout(),
            lambda d: canary(d).update(
                trafficRouting={"istio": {"virtualService": {"name": "vs"}}, "maxTrafficWeight": 1000}
            ),
        ),
        "`spec.strategy.canary.trafficRouting.maxTrafficWeight`: maxTrafficWeight works with nginx only",
    ),
    (
        "setWeight above maxTrafficWeight",
        lambda: _edit(
            rollout(),
            lambda d: (
                canary(d)["trafficRouting"].update(maxTrafficWeight=40),
                canary(d)["steps"][0].update(setWeight=5),
            ),
        ),
        "`spec.strategy.canary.steps[2].setWeight`: 50 is above the total weight 40 (maxTrafficWeight)",
    ),
    (
        "canary scale weight above 100",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"].append({"setCanaryScale": {"weight": 101}})),
        "`spec.strategy.canary.steps[3].setCanaryScale.weight`: 101 is above the total weight 100 (percent)",
    ),
    (
        "same canary and stable service",
        lambda: _edit(rollout(), lambda d: canary(d).update(stableService="web-canary")),
        "`spec.strategy.canary.stableService`: canaryService and stableService are both 'web-canary'",
    ),
    (
        "nginx without canaryService",
        lambda: _edit(rollout(), lambda d: canary(d).pop("canaryService")),
        "`spec.strategy.canary.canaryService`: trafficRouting.nginx needs canaryService and stableService",
    ),
    (
        "host-level istio without stableService",
        lambda: _edit(
            rollout(),
            lambda d: (
                canary(d).pop("stableService"),
                canary(d).update(trafficRouting={"istio": {"virtualService": {"name": "vs"}}}),
            ),
        ),
        "`spec.strategy.canary.stableService`: trafficRouting.istio without a destinationRule needs",
    ),
    (
        "scaleDownDelaySeconds on a basic canary",
        lambda: _edit(
            rollout(), lambda d: (canary(d).pop("trafficRouting"), canary(d).update(scaleDownDelaySeconds=5))
        ),
        "`spec.strategy.canary.scaleDownDelaySeconds`: scaleDownDelaySeconds needs trafficRouting",
    ),
    (
        "selector does not match template",
        lambda: _edit(rollout(), lambda d: d["spec"]["selector"].update(matchLabels={"app": "api"})),
        "`spec.selector`: selector 'app=api' does not match template.metadata.labels",
    ),
    (
        "empty selector",
        lambda: _edit(rollout(), lambda d: d["spec"].update(selector={})),
        "`spec.selector`: selector is empty and would select every pod",
    ),
    (
        "bad pause duration",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][1]["pause"].update(duration="5 minutes")),
        "`spec.strategy.canary.steps[1].pause.duration`: '5 minutes' is not a duration",
    ),
    (
        "negative pause duration",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][1]["pause"].update(duration=-5)),
        "`spec.strategy.canary.steps[1].pause.duration`: a duration cannot be negative (got -5)",
    ),
    (
        "maxSurge and maxUnavailable both zero",
        lambda: _edit(rollout(), lambda d: canary(d).update(maxSurge="0%", maxUnavailable=0)),
        "`spec.strategy.canary.maxSurge`: maxSurge and maxUnavailable are both 0",
    ),
    (
        "maxSurge not a percentage",
        lambda: _edit(rollout(), lambda d: canary(d).update(maxSurge="25")),
        "`spec.strategy.canary.maxSurge`: must be a non-negative whole number of pods or a percentage",
    ),
    (
        "unsupported step",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][2].update(plugin={"name": "x"})),
        "`spec.strategy.canary.steps[2].plugin` is not supported yet",
    ),
    (
        "unsupported router",
        lambda: _edit(rollout(), lambda d: canary(d)["trafficRouting"].update(alb={"ingress": "x"})),
        "`spec.strategy.canary.trafficRouting.alb` is not supported yet",
    ),
    (
        "workloadRef beside template",
        lambda: _edit(rollout(), lambda d: d["spec"].update(workloadRef={"name": "x"})),
        "`spec.template`: set exactly one of template (the pods, written here) or workloadRef",
    ),
    (
        "neither template nor workloadRef",
        lambda: _edit(rollout(), lambda d: d["spec"].pop("template")),
        "`spec.workloadRef`: set exactly one of template (the pods, written here) or workloadRef",
    ),
    (
        "unknown field",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][0].update(setweight=5)),
        "`spec.strategy.canary.steps[0].setweight` is not a known field; check its spelling",
    ),
    (
        "missing selector",
        lambda: _edit(rollout(), lambda d: d["spec"].pop("selector")),
        "`spec.selector` is required",
    ),
    (
        "setCanaryScale without traffic routing",
        lambda: _edit(rollout(canary={"steps": [{"setCanaryScale": {"replicas": 1}}]}), lambda d: None),
        "`spec.strategy.canary.trafficRouting`: steps[0].setCanaryScale needs trafficRouting",
    ),
    (
        "setCanaryScale with two sizes",
        lambda: _edit(
            rollout(), lambda d: canary(d)["steps"].append({"setCanaryScale": {"weight": 1, "replicas": 1}})
        ),
        "`spec.strategy.canary.steps[3].setCanaryScale`: "
        "set exactly one of weight, replicas or matchTrafficWeight",
    ),
    (
        "progress deadline below minReadySeconds",
        lambda: _edit(rollout(), lambda d: d["spec"].update(minReadySeconds=700)),
        "`spec.progressDeadlineSeconds`: "
        "progressDeadlineSeconds (600) must be greater than minReadySeconds (700)",
    ),
    (
        "no containers",
        lambda: _edit(rollout(), lambda d: d["spec"]["template"].update(spec={})),
        "`spec.template`: template.spec.containers must list at least one container",
    ),
    (
        "blue-green same services",
        lambda: bg(previewService="web-active"),
        "`spec.strategy.blueGreen.previewService`: activeService and previewService are both 'web-active'",
    ),
    (
        "blue-green maxUnavailable not a count or percent",
        lambda: bg(maxUnavailable="lots"),
        "`spec.strategy.blueGreen.maxUnavailable`: must be a non-negative whole number of pods",
    ),
    (
        "side metadata relabelling the selector's key",
        lambda: bg(previewMetadata={"labels": {"app": "preview"}}),
        "`spec.strategy.blueGreen.previewMetadata.labels`: sets ['app'], which spec.selector selects",
    ),
    (
        "anti-affinity with neither kind",
        lambda: bg(antiAffinity={}),
        "`spec.strategy.blueGreen.antiAffinity.preferredDuringSchedulingIgnoredDuringExecution`: set exactly",
    ),
    (
        "analysis arg with value and valueFrom",
        lambda: bg(
            prePromotionAnalysis={
                "templates": [{"templateName": "sr"}],
                "args": [{"name": "h", "value": "x", "valueFrom": {"podTemplateHashValue": "Latest"}}],
            }
        ),
        "`spec.strategy.blueGreen.prePromotionAnalysis.args[0]`: "
        "argument 'h': set exactly one of value or valueFrom",
    ),
    (
        "bad podTemplateHashValue",
        lambda: bg(
            prePromotionAnalysis={
                "templates": [{"templateName": "sr"}],
                "args": [{"name": "h", "valueFrom": {"podTemplateHashValue": "Canary"}}],
            }
        ),
        "`spec.strategy.blueGreen.prePromotionAnalysis.args[0].valueFrom.podTemplateHashValue` must be "
        "'Stable' or 'Latest'",
    ),
    (
        "analysis without templates",
        lambda: bg(prePromotionAnalysis={"templates": []}),
        "`spec.strategy.blueGreen.prePromotionAnalysis.templates` must not be empty",
    ),
    (
        "Argo apiVersion",
        lambda: _edit(rollout(), lambda d: d.update(apiVersion="argoproj.io/v1alpha1")),
        "`apiVersion`: apiVersion is argoproj.io/v1alpha1 (Argo Rollouts); "
        "change it to rollouts.dev/v1alpha1",
    ),
    # found by tests/unit/volume: each of these raised out of the parse instead of being a problem
    (
        "pause past the longest duration",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][1].update(pause={"duration": 10**30})),
        "`spec.strategy.canary.steps[1].pause.duration`: 1000000000000000000000000000000 seconds is longer "
        "than the longest duration (2562047h, about 292 years); use a shorter one",
    ),
    (
        "ports not a list",
        lambda: _edit(rollout(), lambda d: d["spec"]["template"]["spec"]["containers"][0].update(ports=80)),
        "`spec.template`: template.spec.containers[0].ports must be a list of ports such as "
        "{containerPort: 8080} (got 80)",
    ),
    (
        "a step nested thousands of levels deep",  # the repr of it in enum errors raised RecursionError
        lambda: _edit(rollout(), lambda d: canary(d)["steps"].append(nested_lists(5000))),
        "`spec.strategy.canary.steps[3][0][0][0]...` nests more than 100 levels of maps and lists, deeper "
        "than any manifest; remove what is nested that deep",
    ),
    (
        "pod template nested past any manifest",  # hashing it raised RecursionError in every pass
        lambda: _edit(rollout(), lambda d: d["spec"]["template"]["spec"].update(junk=nested_lists(2000))),
        "`spec.template.spec.junk[0][0][0][0]...` nests more than 100 levels",
    ),
    (
        "billion laughs in an enum field",  # the enum error's repr of it never returned
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][1].update(pause={"duration": laughs(9)})),
        "`spec.strategy.canary.steps[1].pause.duration[0]...` holds more than 100000 values once its "
        "YAML aliases are expanded, more than any manifest; write it out without aliases of aliases",
    ),
    (
        "a long value is shown cut",
        lambda: _edit(rollout(), lambda d: canary(d)["steps"][1].update(pause="ü" * 100_000)),
        "`spec.strategy.canary.steps[1].pause` must be an object (a mapping of fields) (got 'üüüüüü",
    ),
    (
        "initContainers not a list",
        lambda: _edit(rollout(), lambda d: d["spec"]["template"]["spec"].update(initContainers="init")),
        "`spec.template`: template.spec.initContainers must be a list of containers (got 'init')",
    ),
]

TEMPLATE_CASES: list[Case] = [
    (
        "two providers",
        lambda: _edit(template(), lambda d: metric(d)["provider"].update(web={"url": "http://x"})),
        "`spec.metrics[0].provider`: set exactly one provider: prometheus, web, job or judge",
    ),
    (
        "unsupported provider",
        lambda: _edit(template(), lambda d: metric(d).update(provider={"datadog": {"query": "x"}})),
        "`spec.metrics[0].provider.datadog` is not supported yet",
    ),
    (
        "bad interval",
        lambda: _edit(template(), lambda d: metric(d).update(interval="often")),
        "`spec.metrics[0].interval`: 'often' is not a duration",
    ),
    (
        "count without interval",
        lambda: _edit(template(), lambda d: metric(d).pop("interval")),
        "`spec.metrics[0].interval`: count is 3 but interval is not set",
    ),
    (
        "duplicate metric names",
        lambda: _edit(template(), lambda d: d["spec"]["metrics"].append(copy.deepcopy(metric(d)))),
        "`spec.metrics`: metrics names must be unique; rename the repeated ['success-rate']",
    ),
    (
        "no metrics",
        lambda: _edit(template(), lambda d: d["spec"].update(metrics=[])),
        "`spec.metrics` must not be empty",
    ),
    (
        "failure limit below -1 (no limit)",
        lambda: _edit(template(), lambda d: metric(d).update(failureLimit=-2)),
        "`spec.metrics[0].failureLimit` must be at least -1 (got -2)",
    ),
    (
        "web body with GET",
        lambda: _edit(
            template(), lambda d: metric(d).update(provider={"web": {"url": "http://x", "body": "{}"}})
        ),
        "`spec.metrics[0].provider.web.body`: a body needs method POST or PUT",
    ),
    (
        "secret and field ref",
        lambda: _edit(
            template(),
            lambda d: d["spec"]["args"].append(
                {
                    "name": "k",
                    "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}, "fieldRef": {"fieldPath": "x"}},
                }
            ),
        ),
        "`spec.args[1].valueFrom`: set exactly one of secretKeyRef or fieldRef",
    ),
    (
        "interval past the longest duration",  # found by tests/unit/volume: an OverflowError before
        lambda: _edit(template(), lambda d: metric(d).update(interval="9" * 30 + "h")),
        "`spec.metrics[0].interval`: '" + "9" * 30 + "h' is longer than the longest duration",
    ),
]


PING_PONG = {"pingService": "web-ping", "pongService": "web-pong"}
ISTIO_HOSTS = {"istio": {"virtualService": {"name": "vs", "routes": ["primary"]}}}


def _ping_pong(routing: Doc | None, **fields: Any) -> Doc:
    body: Doc = {"pingPong": PING_PONG, "steps": [{"setWeight": 10}], **fields}
    if routing is not None:
        body["trafficRouting"] = routing
    return rollout(canary=body)


def _edit(doc: Doc, change: Callable[[Doc], object]) -> Doc:
    change(doc)
    return doc


def test_the_base_manifests_are_valid() -> None:
    assert validation_errors(rollout()) == []
    assert validation_errors(bg(previewService="web-preview")) == []
    assert validation_errors(template()) == []


@pytest.mark.parametrize(("make", "message"), [(m, e) for _, m, e in CASES], ids=[c[0] for c in CASES])
def test_rollout_rule(make: Callable[[], Doc], message: str) -> None:
    errors = validation_errors(make())
    assert len(errors) == 1, errors
    assert errors[0].startswith("Rollout shop/web: " + message), errors[0]


@pytest.mark.parametrize(
    ("make", "message"), [(m, e) for _, m, e in TEMPLATE_CASES], ids=[c[0] for c in TEMPLATE_CASES]
)
def test_analysis_template_rule(make: Callable[[], Doc], message: str) -> None:
    errors = validation_errors(make())
    assert len(errors) == 1, errors
    assert errors[0].startswith("AnalysisTemplate shop/sr: " + message), errors[0]


def test_several_problems_are_all_reported() -> None:
    doc = rollout()
    canary(doc)["steps"][0]["setWeight"] = -150
    canary(doc)["steps"][2]["setWeight"] = -101
    canary(doc)["bogus"] = 1
    errors = validation_errors(doc)
    assert [e.split(": ", 1)[1].split(" ")[0] for e in errors] == [
        "`spec.strategy.canary.steps[0].setWeight`",
        "`spec.strategy.canary.steps[2].setWeight`",
        "`spec.strategy.canary.bogus`",
    ]


def test_parse_rollout_raises_with_the_lines() -> None:
    doc = rollout()
    canary(doc)["steps"][0]["setWeight"] = 150
    with pytest.raises(InvalidObjectError) as caught:
        parse_rollout(doc)
    assert caught.value.errors == validation_errors(doc)
    assert str(caught.value) == caught.value.errors[0]


def test_parse_object_dispatches_on_kind_and_rejects_unknown_kinds() -> None:
    assert isinstance(parse_object(rollout()), Rollout)
    errors = validation_errors({"kind": "Deployment", "metadata": {"name": "x"}})
    assert errors == [
        "Deployment x: `kind` must be one of Rollout, AnalysisTemplate, ClusterAnalysisTemplate, "
        "AnalysisRun, Experiment (got 'Deployment')"
    ]


def test_subset_level_istio_needs_no_services() -> None:
    doc = rollout(
        canary={
            "trafficRouting": {
                "istio": {
                    "virtualService": {"name": "vs", "routes": ["primary"]},
                    "destinationRule": {"name": "dr", "canarySubsetName": "c", "stableSubsetName": "s"},
                }
            },
            "steps": [{"setCanaryScale": {"matchTrafficWeight": True}}, {"setWeight": 10}],
        }
    )
    assert validation_errors(doc) == []


def test_models_are_frozen() -> None:
    parsed = parse_rollout(rollout())
    with pytest.raises(ValueError, match="frozen"):
        parsed.spec.replicas = 5  # type: ignore[misc]


def test_depth_is_told_without_walking_every_path_to_shared_objects() -> None:
    # found by tests/unit/volume's review: YAML aliases of aliases ("billion laughs") give 9^9 paths
    # to nine small lists; walking each path made lint hang where it used to answer in a second
    assert too_deep({"spec": laughs(9)}) is None
    cycle: list[object] = []
    cycle.append(cycle)  # `&a [*a]` in YAML
    assert too_deep({"spec": {"x": cycle}}) == "spec.x[0][0][0][0][0][0]..."


JSON = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=60,
)


@given(JSON)
def test_the_quick_walk_passes_only_what_the_general_walks_pass(doc: Any) -> None:
    # the quick walk decides "fine" for the parse of every Rollout version; only the general walks
    # may refuse, so it must never pass what they refuse
    if _plainly_within_limits(doc):
        assert too_deep(doc) is None and too_big(doc) is None


def test_the_quick_walk_leaves_deep_big_and_shared_objects_to_the_general_walks() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert _plainly_within_limits(deep) and too_deep(deep) is None
    assert not _plainly_within_limits([deep]) and too_deep([deep]) is not None
    assert not _plainly_within_limits({"spec": laughs(9)})
    assert not _plainly_within_limits({"x": list(range(MAX_VALUES))})
    assert _plainly_within_limits({"x": list(range(MAX_VALUES - 2))})
    assert too_big({"x": list(range(MAX_VALUES - 2))}) is None


def test_weights_count_out_of_max_traffic_weight() -> None:
    doc = rollout()
    canary(doc)["trafficRouting"]["maxTrafficWeight"] = 1000
    canary(doc)["steps"] = [{"setWeight": 5}, {"setCanaryScale": {"weight": 750}}, {"setWeight": 1000}]
    assert validation_errors(doc) == []
    parsed = parse_rollout(doc)
    assert parsed.spec.strategy.canary is not None and parsed.spec.strategy.canary.weight_total() == 1000


def test_ping_pong_services_take_the_roles_the_status_gives_them() -> None:
    doc = _ping_pong(ISTIO_HOSTS)
    first = parse_rollout(doc).with_service_roles().spec.strategy.canary
    assert first is not None and (first.stable_service, first.canary_service) == ("web-ping", "web-pong")
    doc["status"] = {"canary": {"stablePingPong": "pong"}}
    swapped = parse_rollout(doc).with_service_roles().spec.strategy.canary
    assert swapped is not None and (swapped.stable_service, swapped.canary_service) == (
        "web-pong",
        "web-ping",
    )
    plain = parse_rollout(rollout())
    assert plain.with_service_roles() is plain
