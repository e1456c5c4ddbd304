"""Offline checks of the pod template: what the API server would refuse only at ReplicaSet creation."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.api.pod_template import pod_template_problems


def _template(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers)}
    if init is not None:
        spec["initContainers"] = init
    return {"metadata": {"labels": {"app": "web"}}, "spec": spec}


def _web(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "image": "web:1", **fields}


@pytest.mark.parametrize(
    "value", ["250m", "0.5", "1", "128Mi", "1Gi", "1e3", "+2", ".5", "1.", 2, 0.25, "1E-3"]
)
def test_valid_quantities_pass(value: Any) -> None:
    resources = {"requests": {"cpu": value, "memory": value}, "limits": {"memory": value}}
    assert pod_template_problems(_template(_web(resources=resources))) == []


@pytest.mark.parametrize("value", ["invalid", "1 Gi", "1GB", "Mi", "", "1.2.3", True, "0x10"])
def test_invalid_quantities_name_the_path_and_an_example(value: Any) -> None:
    (problem,) = pod_template_problems(_template(_web(resources={"requests": {"memory": value}})))
    assert problem.startswith(
        f"template.spec.containers[0].resources.requests.memory {value!r} is not a quantity"
    )
    assert "128Mi" in problem


@pytest.mark.parametrize("port", [0, 65536, "80", True, None])
def test_ports_must_be_numbers_from_1_to_65535(port: Any) -> None:
    (problem,) = pod_template_problems(
        _template(_web(ports=[{"containerPort": 80}, {"containerPort": port}]))
    )
    assert (
        problem.startswith("template.spec.containers[0].ports[1].containerPort") and "1 to 65535" in problem
    )


@pytest.mark.parametrize("name", ["Web", "web_1", "-web", "a" * 64, "", None])
def test_container_names_are_dns_labels(name: Any) -> None:
    (problem,) = pod_template_problems(_template({"name": name, "image": "web:1"}))
    assert problem.startswith("template.spec.containers[0].name") and "lowercase" in problem


def test_names_are_unique_across_init_and_app_containers() -> None:
    problems = pod_template_problems(_template(_web(), init=[_web()]))
    assert problems == [
        "template.spec.containers[0].name 'web' is used by another container; make the names unique"
    ]


def test_the_rollout_model_refuses_them_with_the_path() -> None:
    from rollouts.api import InvalidObjectError, parse_rollout

    body = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": _template(_web(resources={"requests": {"memory": "invalid"}})),
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    }
    with pytest.raises(InvalidObjectError) as err:
        parse_rollout(body)
    assert any("resources.requests.memory 'invalid' is not a quantity" in line for line in err.value.errors)
