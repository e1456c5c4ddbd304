"""Turn pydantic's JSON Schema into the structural OpenAPI v3 schema a CRD must carry.

Kubernetes accepts only "structural" schemas: every node has a type (except the two int-or-string and
preserve-unknown-fields escapes), no $ref, and anyOf/oneOf only as value checks that never declare a
type. pydantic writes $defs/$ref and `anyOf [X, null]` for optional fields, titles, `additionalProperties:
false` for forbidden extras, `const` for literals, and a float's `gt` as a number in `exclusiveMinimum`
(JSON Schema 2020-12; OpenAPI v3.0 wants a boolean there, and the API server refuses the CRD
otherwise). This module rewrites those into the forms the API server accepts, and sorts keys so the
generated YAML is byte-for-byte stable.
"""

from __future__ import annotations

from typing import Any

__all__ = ["structural_problems", "structural_schema"]

_NULL = {"type": "null"}
_DROP = {"title", "$defs"}


def _merge(inner: dict[str, Any], outer: dict[str, Any]) -> dict[str, Any]:
    """Inline a referenced schema: the referring field's description/default/rules win, CEL rules add up."""
    merged = {**inner, **outer}
    rules = inner.get("x-kubernetes-validations", []) + outer.get("x-kubernetes-validations", [])
    if rules:
        merged["x-kubernetes-validations"] = rules
    return merged


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = {key: value for key, value in node.items() if key not in _DROP}
    ref = node.pop("$ref", None)
    if ref is not None:
        node = _merge(_convert(defs[ref.rsplit("/", 1)[-1]], defs), node)
    if "allOf" in node and len(node["allOf"]) == 1:
        node = _merge(_convert(node.pop("allOf")[0], defs), node)
    branches = node.get("anyOf")
    if branches is not None and not node.get("x-kubernetes-int-or-string"):
        rest = [branch for branch in branches if branch != _NULL]
        if len(rest) == 1:
            del node["anyOf"]
            node = _merge(_convert(rest[0], defs), node)
    if "default" in node and node["default"] is None:
        del node["default"]
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if exclusive in node and not isinstance(node[exclusive], bool):
            # JSON Schema 2020-12 (pydantic's gt/lt) writes the bound itself; OpenAPI v3.0, which
            # the API server decodes, wants the bound in minimum/maximum and a boolean flag.
            node[bound] = node.pop(exclusive)
            node[exclusive] = True
    if isinstance(node.get("additionalProperties"), bool):
        del node["additionalProperties"]
    elif isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _convert(node["additionalProperties"], defs)
    if "properties" in node:
        node["properties"] = {name: _convert(sub, defs) for name, sub in sorted(node["properties"].items())}
        node["required"] = sorted(node.get("required", []))
        if not node["required"]:
            del node["required"]
    if "items" in node:
        node["items"] = _convert(node["items"], defs)
    return dict(sorted(node.items()))


def structural_schema(json_schema: dict[str, Any]) -> dict[str, Any]:
    """The structural OpenAPI v3 form of a pydantic model's JSON Schema (inlined, no nulls, sorted)."""
    return _convert(json_schema, json_schema.get("$defs", {}))


def structural_problems(node: dict[str, Any], path: str = "") -> list[str]:
    """Why a schema would not be structural, or lack a description where `kubectl explain` needs one.

    An empty list means: every node has a type (or is int-or-string / preserve-unknown-fields), no
    $ref remains, anyOf only appears in the int-or-string form, and every field has a description.
    """
    problems: list[str] = []
    where = path or "<root>"
    if "$ref" in node or "allOf" in node or "oneOf" in node:
        problems.append(f"{where}: $ref/allOf/oneOf left in the schema")
    escape = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    if "type" not in node and not escape:
        problems.append(f"{where}: no type")
    if "anyOf" in node and node["anyOf"] != [{"type": "integer"}, {"type": "string"}]:
        problems.append(f"{where}: anyOf other than the int-or-string form")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{where}: both properties and additionalProperties")
    if "default" in node and node["default"] is None:
        problems.append(f"{where}: null default")
    for exclusive in ("exclusiveMinimum", "exclusiveMaximum"):
        if exclusive in node and not isinstance(node[exclusive], bool):
            problems.append(f"{where}: {exclusive} must be a boolean in OpenAPI v3.0")
    for name, sub in node.get("properties", {}).items():
        child = f"{path}.{name}" if path else name
        if not sub.get("description") and child != "metadata":
            problems.append(f"{child}: no description")
        problems.extend(structural_problems(sub, child))
    if isinstance(node.get("items"), dict):
        problems.extend(structural_problems(node["items"], f"{path}[]"))
    if isinstance(node.get("additionalProperties"), dict):
        problems.extend(structural_problems(node["additionalProperties"], f"{path}{{}}"))
    return problems
