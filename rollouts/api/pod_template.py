"""The checks of a Rollout's pod template that need no API server: quantities, names, ports.

The CRD keeps ``spec.template`` schemaless (a full PodTemplateSpec schema would be most of the
CRD's bytes), so the API server only validates the pod template when the controller creates a
ReplicaSet from it, mid-delivery. These are the mistakes people make most, checked where the
Rollout is parsed, so ``lint``, the controller's InvalidSpec status and admission refuse them with
the field path, before anything runs. What only the server knows (defaults, cross-field rules of
the pod spec) is still its to refuse; the controller then shows that refusal in the status.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from rollouts.api.common import shown

__all__ = ["pod_template_problems"]

# Kubernetes' quantity grammar: a signed decimal number, then a binary-SI, decimal-SI or exponent suffix.
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONTAINER_LISTS = ("initContainers", "containers")


def _quantity_ok(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == value and abs(value) != float("inf")  # not NaN, not infinite
    return isinstance(value, str) and bool(_QUANTITY.match(value))


def _not_a_list(path: str, value: Any, what: str) -> str | None:
    """The problem of a field that must be a list (absent or null is fine: the server defaults it)."""
    if value is None or isinstance(value, list):
        return None
    return f"{path} must be a list of {what} (got {shown(value)})"


def _container_problems(path: str, container: Any) -> Iterator[str]:
    if not isinstance(container, Mapping):
        yield f"{path} must be an object with name and image"
        return
    name = container.get("name")
    if not isinstance(name, str) or not _DNS_LABEL.match(name) or len(name) > 63:
        yield (
            f"{path}.name {shown(name)} is not a valid container name; use at most 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )
    ports = container.get("ports")
    if (problem := _not_a_list(f"{path}.ports", ports, "ports such as {containerPort: 8080}")) is not None:
        yield problem
    for index, port in enumerate(ports if isinstance(ports, list) else []):
        number = port.get("containerPort") if isinstance(port, Mapping) else None
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
            yield (
                f"{path}.ports[{index}].containerPort {shown(number)} must be a port number from 1 to 65535"
            )
    resources = container.get("resources") or {}
    for part in ("requests", "limits"):
        values = resources.get(part) if isinstance(resources, Mapping) else None
        for resource, value in (values or {}).items() if isinstance(values, Mapping) else ():
            if not _quantity_ok(value):
                yield (
                    f"{path}.resources.{part}.{resource} {shown(value)} is not a quantity; write a number "
                    "with an optional suffix, such as 250m, 0.5, 128Mi or 1Gi"
                )


def pod_template_problems(template: Mapping[str, Any]) -> list[str]:
    """Every offline problem of a pod template, each naming its path under ``template``."""
    spec = template.get("spec")
    if not isinstance(spec, Mapping):
        return []
    problems: list[str] = []
    seen: set[str] = set()
    for key in _CONTAINER_LISTS:
        containers = spec.get(key)
        if (problem := _not_a_list(f"template.spec.{key}", containers, "containers")) is not None:
            problems.append(problem)
            continue
        for index, container in enumerate(containers or []):
            path = f"template.spec.{key}[{index}]"
            problems.extend(_container_problems(path, container))
            name = container.get("name") if isinstance(container, Mapping) else None
            if isinstance(name, str) and name in seen:
                problems.append(f"{path}.name {name!r} is used by another container; make the names unique")
            if isinstance(name, str):
                seen.add(name)
    return problems
