"""The Experiment model: Argo's fields parse, and a broken one is refused with the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api import Experiment, validation_errors


def template(name: str = "baseline", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "w", "image": "w:1"}]},
        },
        **extra,
    }


def manifest(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "exp"},
        "spec": {"templates": [template()], **spec},
    }


def test_defaults_and_argo_field_names() -> None:
    exp = Experiment.model_validate(
        manifest(
            duration=60,
            analyses=[
                {
                    "name": "a",
                    "templateName": "t",
                    "requiredForCompletion": True,
                    "args": [
                        {"name": "x", "value": "1"},
                        {"name": "y", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    ],
                }
            ],
            dryRun=[{"metricName": "m"}],
            measurementRetention=[{"metricName": "m", "limit": 3}],
        )
    )
    assert exp.spec.progress_deadline_seconds == 600 and exp.spec.scale_down_delay_seconds == 30
    assert exp.spec.templates[0].replicas == 1 and exp.spec.terminate is False
    assert exp.spec.analyses is not None and exp.spec.analyses[0].required_for_completion
    assert (
        validation_errors(manifest(duration="20m", templates=[template(minReadySeconds=10, replicas=0)]))
        == []
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"templates": [template(), template()]}, "template name 'baseline' is used twice"),
        ({"templates": [template("Base_Line")]}, "template name 'Base_Line' must be lowercase"),
        ({"templates": []}, "templates"),
        (
            {"templates": [template(selector={"matchLabels": {"app": "other"}})]},
            "does not match template.metadata.labels",
        ),
        ({"templates": [template(selector={})]}, "selector is empty"),
        (
            {"analyses": [{"name": "a", "templateName": "t"}, {"name": "a", "templateName": "u"}]},
            "analysis name 'a' is used twice",
        ),
        (
            {
                "analyses": [
                    {
                        "name": "a",
                        "templateName": "t",
                        "args": [{"name": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    }
                ]
            },
            "valueFrom.fieldRef is not available in an Experiment",
        ),
        (
            {"analyses": [{"name": "a", "templateName": "t", "args": [{"name": "x"}]}]},
            "set value or valueFrom",
        ),
        ({"duration": "soon"}, "duration"),
    ],
)
def test_refused_with_a_message_naming_the_problem(spec: dict[str, Any], expected: str) -> None:
    errors = validation_errors(manifest(**spec))
    assert any(expected in e for e in errors), errors


def test_an_argo_experiment_is_told_to_change_its_api_version() -> None:
    errors = validation_errors({**manifest(), "apiVersion": "argoproj.io/v1alpha1"})
    assert any("change it to rollouts.dev/v1alpha1" in e for e in errors), errors


def test_a_template_service_needs_container_ports_named_when_several() -> None:
    no_ports = validation_errors(manifest(templates=[template(service={})]))
    assert any("service is set but no container declares a port" in e for e in no_ports), no_ports
    two = template(service={})
    two["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}, {"containerPort": 81}]
    unnamed = validation_errors(manifest(templates=[two]))
    assert any("give each one a name" in e for e in unnamed), unnamed
    for i, port in enumerate(two["template"]["spec"]["containers"][0]["ports"]):
        port["name"] = f"p{i}"
    assert validation_errors(manifest(templates=[two])) == []


def _rollout_with(step: dict[str, Any], routing: dict[str, Any] | None) -> dict[str, Any]:
    canary: dict[str, Any] = {"canaryService": "c", "stableService": "s", "steps": [{"setWeight": 10}, step]}
    if routing is not None:
        canary["trafficRouting"] = routing
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": template()["template"],
            "strategy": {"canary": canary},
        },
    }


def _weighted(*weights: tuple[int, int]) -> dict[str, Any]:
    templates = [
        {"name": f"t{i}", "specRef": "canary", "weight": w, "replicas": r} for i, (w, r) in enumerate(weights)
    ]
    return {"experiment": {"duration": "1m", "templates": templates}}


NGINX = {"nginx": {"stableIngress": "web"}}


@pytest.mark.parametrize(
    ("step", "routing", "expected"),
    [
        (_weighted((5, 1), (5, 1)), NGINX, None),
        (_weighted((10, 2), (5, 1)), NGINX, None),
        (_weighted((5, 1), (10, 1)), NGINX, "each weight must be in proportion to its replicas"),
        (_weighted((60, 1), (60, 1)), NGINX, "add up to 120, above the total 100"),
        (
            _weighted((5, 1)),
            None,
            "a template weight needs NGINX traffic routing (this canary has no trafficRouting)",
        ),
        (
            _weighted((5, 1)),
            {"istio": {"virtualService": {"name": "vs", "routes": ["primary"]}}},
            "needs NGINX traffic routing (this canary has Istio)",
        ),
    ],
)
def test_weighted_experiment_templates(
    step: dict[str, Any], routing: dict[str, Any] | None, expected: str | None
) -> None:
    errors = validation_errors(_rollout_with(step, routing))
    if expected is None:
        assert errors == []
    else:
        assert any(expected in e for e in errors), errors
