"""A small offline stand-in for the API server's CRD validation, for unit tests only.

It applies schema defaults, then checks types, enums, bounds, patterns (Python's re for the server's RE2:
the same for the patterns we write), required and unknown fields, and evaluates
the CEL `x-kubernetes-validations` rules with cel-python (the same language the server runs). It is not
the server: the integration tests apply crds/ to a real kube-apiserver. It lets a unit test show that
each invalid example breaks a rule the *server* enforces, not only a pydantic one.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import celpy
import yaml

REPO = Path(__file__).resolve().parents[3]
CRDS = REPO / "crds"

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "number": (int, float),
}


def crd_schemas() -> dict[str, dict[str, Any]]:
    """Kind -> openAPIV3Schema of every generated CRD."""
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        schemas[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schemas


def iter_rules(schema: dict[str, Any]) -> list[str]:
    """Every CEL rule in a schema."""
    rules = [rule["rule"] for rule in schema.get("x-kubernetes-validations", [])]
    for sub in schema.get("properties", {}).values():
        rules += iter_rules(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            rules += iter_rules(schema[key])
    return rules


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    expected = schema.get("type")
    if expected is None:
        return True
    if isinstance(value, bool) and expected in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[expected])


def _cel(rule: str, value: Any) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(rule))
    return bool(program.evaluate({"self": celpy.json_to_cel(value)}))


def _check(value: Any, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    if not _type_ok(value, schema):
        errors.append(f"{path}: wrong type")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not one of {schema['enum']}")
    if "minimum" in schema and isinstance(value, int | float):
        if schema.get("exclusiveMinimum") and value <= schema["minimum"]:
            errors.append(f"{path}: should be greater than {schema['minimum']}")
        elif value < schema["minimum"]:
            errors.append(f"{path}: should be greater than or equal to {schema['minimum']}")
    if "maximum" in schema and isinstance(value, int | float):
        if schema.get("exclusiveMaximum") and value >= schema["maximum"]:
            errors.append(f"{path}: should be less than {schema['maximum']}")
        elif value > schema["maximum"]:
            errors.append(f"{path}: should be less than or equal to {schema['maximum']}")
    if "pattern" in schema and isinstance(value, str) and re.search(schema["pattern"], value) is None:
        errors.append(f"{path}: should match '{schema['pattern']}'")
    if isinstance(value, str | list) and len(value) < schema.get("minLength", schema.get("minItems", 0)):
        errors.append(f"{path}: too short")
    if isinstance(value, list) and len(value) > schema.get("maxItems", len(value)):
        errors.append(f"{path}: too many items")
    if isinstance(value, dict):
        properties = schema.get("properties")
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}.{name}: Required value")
        for name, sub in value.items():
            if properties is not None and name in properties:
                _check(sub, properties[name], f"{path}.{name}", errors)
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(sub, schema["additionalProperties"], f"{path}.{name}", errors)
            elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{path}.{name}: unknown field")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{index}]", errors)
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" not in rule["rule"] and not _cel(rule["rule"], value):
            errors.append(f"{path}: {rule['message']}")


def _default(value: Any, schema: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "properties" in schema:
        for name, sub in schema["properties"].items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = _default(value[name], sub)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_default(item, schema["items"]) for item in value]
    return value


def server_errors(obj: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> list[str]:
    """What the API server would (approximately) say about `obj`; empty when it would accept it."""
    schema = schemas[obj["kind"]]
    errors: list[str] = []
    _check(_default(copy.deepcopy(obj), schema), schema, "", errors)
    return errors
