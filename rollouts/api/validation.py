"""Parse API objects and explain why one is invalid, one clear line per problem.

pydantic's own errors name Python-side locations and generic messages ("Input should be less than or
equal to 100"). Users see YAML, so every line here names the object (kind namespace/name), the field as
a YAML path (`spec.strategy.canary.steps[2].setWeight`) and what to do about it. The controller, the
`kubectl rollouts lint` command and the tests all go through these helpers, so a user gets the same
words wherever the problem is found.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from rollouts.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from rollouts.api.common import RULE_ERROR, UNSUPPORTED_ERROR, TopLevelObject
from rollouts.api.rollout import Rollout

__all__ = [
    "KINDS",
    "InvalidObjectError",
    "parse_object",
    "parse_rollout",
    "validation_errors",
]

T = TypeVar("T", bound=TopLevelObject)

#: The kinds of the rollouts.dev API, by `kind`.
KINDS: dict[str, type[TopLevelObject]] = {
    "Rollout": Rollout,
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
    "AnalysisRun": AnalysisRun,
}

_TYPE_NAMES = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "model_type": "an object (a mapping of fields)",
    "model_attributes_type": "an object (a mapping of fields)",
    "dict_type": "an object (a mapping)",
    "list_type": "a list",
    "datetime_type": "an RFC 3339 time such as 2024-05-01T12:00:00Z",
    "datetime_parsing": "an RFC 3339 time such as 2024-05-01T12:00:00Z",
    "datetime_from_date_parsing": "an RFC 3339 time such as 2024-05-01T12:00:00Z",
    "timezone_aware": "an RFC 3339 time with a time zone, such as 2024-05-01T12:00:00Z",
}


class InvalidObjectError(ValueError):
    """An object failed validation; `errors` holds one readable line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def object_name(obj: Any) -> str:
    """'Rollout shop/web': how messages name the object a problem is in."""
    if not isinstance(obj, Mapping):
        return "object"
    kind = obj.get("kind") or "object"
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = metadata.get("name") or "(unnamed)"
    namespace = metadata.get("namespace")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path and field else path or field


#: How a message shows the value it got: a few levels and items deep. A plain ``repr`` of a value
#: nested thousands of levels (YAML ``[[[[...]]]]``) raised RecursionError out of the validation.
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxother = 4, 4, 4, 60, 60


def _input(value: Any) -> str:
    text = _SHOWN.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_error(error: ErrorDetails) -> list[str]:
    """Turn one pydantic error into message lines (an unsupported-fields error may name several)."""
    path = _path(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == UNSUPPORTED_ERROR:
        return [
            f"`{_join(path, field)}` is not supported yet; remove it (kube-rollouts does not implement it)"
            for field in str(ctx["fields"]).split(",")
        ]
    if kind == RULE_ERROR:
        return [f"`{_join(path, str(ctx.get('at') or ''))}`: {ctx['message']}"]
    if kind == "missing":
        return [f"`{path}` is required"]
    if kind == "extra_forbidden":
        return [
            f"`{path}` is not a known field; check its spelling (fields are camelCase, as in Argo Rollouts)"
            " or remove it"
        ]
    if kind in ("duration", "int_or_percent", "templated"):
        return [f"`{path}`: {error['msg']}"]
    got = _input(error.get("input"))
    if kind in _TYPE_NAMES:
        return [f"`{path}` must be {_TYPE_NAMES[kind]} (got {got})"]
    bounds = {
        "less_than_equal": ("at most", "le"),
        "greater_than_equal": ("at least", "ge"),
        "less_than": ("less than", "lt"),
        "greater_than": ("greater than", "gt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return [f"`{path}` must be {words} {ctx[key]} (got {got})"]
    if kind in ("too_short", "string_too_short"):
        return [f"`{path}` must not be empty"]
    if kind == "too_long":
        return [f"`{path}` must have at most {ctx['max_length']} items"]
    message = error["msg"].removeprefix("Value error, ")
    message = message.replace("Input should be", "must be", 1)
    return [f"`{path}` {message[:1].lower()}{message[1:]} (got {got})"]


def errors_of(exc: ValidationError, obj: Any) -> list[str]:
    """All problems in a ValidationError as readable lines prefixed with the object's name."""
    prefix = object_name(obj)
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        for line in describe_error(error):
            line = f"{prefix}: {line}"
            if line not in lines:
                lines.append(line)
    return lines


def parse_as(model: type[T], obj: Any) -> T:
    """Validate `obj` (a dict as read from YAML or the API) as `model`; raise InvalidObjectError."""
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise InvalidObjectError(errors_of(exc, obj)) from None


def parse_rollout(obj: Any) -> Rollout:
    """Parse a Rollout manifest; raise InvalidObjectError whose `.errors` say what to fix."""
    return parse_as(Rollout, obj)


def parse_object(obj: Any) -> TopLevelObject:
    """Parse any rollouts.dev object, choosing the model by its `kind`."""
    kind = obj.get("kind") if isinstance(obj, Mapping) else None
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(KINDS)
        raise InvalidObjectError([f"{object_name(obj)}: `kind` must be one of {known} (got {kind!r})"])
    return parse_as(model, obj)


def validation_errors(obj: Any) -> list[str]:
    """Every problem with a rollouts.dev object, as readable lines; empty when it is valid."""
    try:
        parse_object(obj)
    except InvalidObjectError as exc:
        return exc.errors
    return []
