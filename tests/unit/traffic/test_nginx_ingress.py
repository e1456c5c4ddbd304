"""The canary Ingress derived from the user's stable Ingress: what ingress-nginx will be given."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollouts.traffic.nginx_ingress import canary_ingress_name, canary_weight_of, desired_canary_ingress
from rollouts.traffic.router import InvalidRoutingError
from tests.unit.traffic.manifests import nginx_rollout, nginx_routing, path, rollout, stable_ingress

PREFIX = "nginx.ingress.kubernetes.io"


def test_canary_ingress_copies_the_stable_rules_towards_the_canary_service() -> None:
    stable = stable_ingress(
        tls=[{"hosts": ["web.example.com"], "secretName": "web-tls"}],
        rules=[{"host": "web.example.com", "http": {"paths": [path("web-stable", "/", 8080)]}}],
    )
    canary = desired_canary_ingress(stable, rollout=nginx_rollout(), canary_weight=20)

    assert canary["metadata"]["name"] == "web-web-canary"
    assert canary["metadata"]["namespace"] == "ns"
    assert canary["spec"] == {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
        "rules": [{"host": "web.example.com", "http": {"paths": [path("web-canary", "/", 8080)]}}],
    }
    assert canary["metadata"]["annotations"] == {f"{PREFIX}/canary": "true", f"{PREFIX}/canary-weight": "20"}
    assert canary["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "Rollout",
            "name": "web",
            "uid": "uid-web",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


RULES_CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
    (
        "paths of other Services are left out, rules without the stable Service dropped",
        [
            {"host": "a.example.com", "http": {"paths": [path("web-stable", "/"), path("api", "/api")]}},
            {"host": "b.example.com", "http": {"paths": [path("docs", "/")]}},
        ],
        [{"host": "a.example.com", "http": {"paths": [path("web-canary", "/")]}}],
    ),
    (
        "every rule that routes to the stable Service is kept, in order",
        [
            {"host": "a.example.com", "http": {"paths": [path("web-stable", "/a")]}},
            {
                "host": "b.example.com",
                "http": {"paths": [path("web-stable", "/b"), path("web-stable", "/c")]},
            },
        ],
        [
            {"host": "a.example.com", "http": {"paths": [path("web-canary", "/a")]}},
            {
                "host": "b.example.com",
                "http": {"paths": [path("web-canary", "/b"), path("web-canary", "/c")]},
            },
        ],
    ),
    (
        "a host-less rule keeps having no host",
        [{"http": {"paths": [path("web-stable", "/")]}}],
        [{"http": {"paths": [path("web-canary", "/")]}}],
    ),
    (
        "a rule without http (host only) is dropped",
        [{"host": "x.example.com"}, {"host": "a.example.com", "http": {"paths": [path("web-stable")]}}],
        [{"host": "a.example.com", "http": {"paths": [path("web-canary")]}}],
    ),
]


@pytest.mark.parametrize(("rules", "expected"), [c[1:] for c in RULES_CASES], ids=[c[0] for c in RULES_CASES])
def test_canary_rules(rules: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    stable = stable_ingress(rules=rules)
    before = copy.deepcopy(stable)
    canary = desired_canary_ingress(stable, rollout=nginx_rollout(), canary_weight=5)
    assert canary["spec"]["rules"] == expected
    assert stable == before, "the stable Ingress must never be modified"


def test_annotation_prefix_and_additional_annotations() -> None:
    ro = nginx_rollout(
        annotationPrefix="custom.nginx.org",
        additionalIngressAnnotations={
            "canary-by-header": "X-Canary",
            "custom.nginx.org/canary-by-cookie": "beta",
            "canary-weight": "99",  # cannot override the router's own weight
        },
    )
    canary = desired_canary_ingress(stable_ingress(), rollout=ro, canary_weight=35)
    assert canary["metadata"]["annotations"] == {
        "custom.nginx.org/canary-by-header": "X-Canary",
        "custom.nginx.org/canary-by-cookie": "beta",
        "custom.nginx.org/canary": "true",
        "custom.nginx.org/canary-weight": "35",
    }


@pytest.mark.parametrize(("max_traffic_weight", "written"), [(None, None), (1000, "1000"), (100, None)])
def test_max_traffic_weight_is_written_as_canary_weight_total_and_only_by_the_router(
    max_traffic_weight: int | None, written: str | None
) -> None:
    routing = nginx_routing(additionalIngressAnnotations={"canary-weight-total": "10"})  # never the user's
    if max_traffic_weight is not None:
        routing["maxTrafficWeight"] = max_traffic_weight
    canary = desired_canary_ingress(stable_ingress(), rollout=rollout(routing), canary_weight=5)
    annotations = canary["metadata"]["annotations"]
    assert annotations[f"{PREFIX}/canary-weight"] == "5"
    assert annotations.get(f"{PREFIX}/canary-weight-total") == written
    assert canary_weight_of(canary, annotation_prefix=PREFIX, total=max_traffic_weight or 100) == 5


def test_a_weight_above_max_traffic_weight_is_a_bug() -> None:
    routing = {**nginx_routing(), "maxTrafficWeight": 1000}
    desired_canary_ingress(stable_ingress(), rollout=rollout(routing), canary_weight=1000)
    with pytest.raises(ValueError, match="0 to 1000"):
        desired_canary_ingress(stable_ingress(), rollout=rollout(routing), canary_weight=1001)


def test_legacy_ingress_class_annotation_is_copied_and_no_other() -> None:
    stable = stable_ingress()
    stable["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx-internal", "team": "shop"}
    del stable["spec"]["ingressClassName"]
    canary = desired_canary_ingress(stable, rollout=nginx_rollout(), canary_weight=0)
    assert canary["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "nginx-internal"
    assert "team" not in canary["metadata"]["annotations"]
    assert "ingressClassName" not in canary["spec"]
    assert "tls" not in canary["spec"]


def test_stable_ingress_without_a_path_to_the_stable_service_is_a_clear_error() -> None:
    stable = stable_ingress(rules=[{"host": "a.example.com", "http": {"paths": [path("other")]}}])
    with pytest.raises(InvalidRoutingError) as err:
        desired_canary_ingress(stable, rollout=nginx_rollout(), canary_weight=10)
    message = str(err.value)
    assert "Ingress ns/web" in message
    assert "backend.service.name 'web-stable'" in message
    assert "stableIngress" in message


@pytest.mark.parametrize("weight", [-1, 101, True])
def test_weight_out_of_range_is_a_bug(weight: int) -> None:
    with pytest.raises(ValueError, match="0 to 100"):
        desired_canary_ingress(stable_ingress(), rollout=nginx_rollout(), canary_weight=weight)


def test_canary_name_is_cut_to_the_kubernetes_limit() -> None:
    assert canary_ingress_name("web", "front") == "web-front-canary"
    long = canary_ingress_name("r" * 200, "i" * 200)
    assert len(long) == 253
    assert long.endswith("-canary")
    assert long.startswith("r" * 200 + "-i")


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({f"{PREFIX}/canary": "true", f"{PREFIX}/canary-weight": "40"}, 40),
        ({f"{PREFIX}/canary": "true", f"{PREFIX}/canary-weight": "0"}, 0),
        ({f"{PREFIX}/canary": "true"}, None),
        ({f"{PREFIX}/canary": "false", f"{PREFIX}/canary-weight": "40"}, None),
        ({f"{PREFIX}/canary": "true", f"{PREFIX}/canary-weight": "abc"}, None),
        ({f"{PREFIX}/canary": "true", f"{PREFIX}/canary-weight": "140"}, None),
        ({f"{PREFIX}/canary": "true", f"{PREFIX}/canary-weight": "-5"}, None),
        ({"other.prefix/canary": "true", "other.prefix/canary-weight": "40"}, None),
        (None, None),
    ],
)
def test_canary_weight_read_back(annotations: dict[str, str] | None, expected: int | None) -> None:
    ingress = {"metadata": {"name": "x", "annotations": annotations}}
    assert canary_weight_of(ingress, annotation_prefix=PREFIX) == expected


@pytest.mark.parametrize(
    ("weight", "weight_total", "total", "expected"),
    [
        ("5", "1000", 1000, 5),
        ("140", "1000", 1000, 140),
        ("1001", "1000", 1000, None),  # above the total
        ("5", None, 1000, None),  # 5 out of NGINX's default 100 is not 5 out of 1000
        ("5", "1000", 100, None),  # the other way round
        ("5", "100", 100, 5),  # an explicit 100 is the default
    ],
)
def test_canary_weight_read_back_out_of_max_traffic_weight(
    weight: str, weight_total: str | None, total: int, expected: int | None
) -> None:
    annotations = {f"{PREFIX}/canary": "true", f"{PREFIX}/canary-weight": weight}
    if weight_total is not None:
        annotations[f"{PREFIX}/canary-weight-total"] = weight_total
    ingress = {"metadata": {"name": "x", "annotations": annotations}}
    assert canary_weight_of(ingress, annotation_prefix=PREFIX, total=total) == expected
