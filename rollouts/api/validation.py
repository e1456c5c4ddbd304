"""Parse API objects and explain why one is invalid, one clear line per problem.

pydantic's own errors name Python-side locations and generic messages ("Input should be less than or
equal to 100"). Users see YAML, so every line here names the object (kind namespace/name), the field as
a YAML path (`spec.strategy.canary.steps[2].setWeight`) and what to do about it. The controller, the
`kubectl rollouts lint` command and the tests all go through these helpers, so a user gets the same
words wherever the problem is found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from rollouts.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from rollouts.api.common import RULE_ERROR, UNSUPPORTED_ERROR, TopLevelObject, shown
from rollouts.api.experiment import Experiment
from rollouts.api.rollout import Rollout

__all__ = [
    "KINDS",
    "MAX_DEPTH",
    "MAX_VALUES",
    "InvalidObjectError",
    "parse_object",
    "parse_rollout",
    "too_big",
    "too_deep",
    "validation_errors",
]

T = TypeVar("T", bound=TopLevelObject)

#: The kinds of the rollouts.dev API, by `kind`.
KINDS: dict[str, type[TopLevelObject]] = {
    "Rollout": Rollout,
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
    "AnalysisRun": AnalysisRun,
    "Experiment": Experiment,
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
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    kind, name, namespace = (
        _text(value) for value in (obj.get("kind"), metadata.get("name"), metadata.get("namespace"))
    )
    name = name or "(unnamed)"
    return f"{kind or 'object'} {namespace}/{name}" if namespace else f"{kind or 'object'} {name}"


def _text(value: Any) -> str | None:
    """A name as messages may print it: a non-empty string, or none (a name that is a list nested
    thousands deep must not be printed; its own field's problem says what is wrong with it)."""
    return value if isinstance(value, str) and value else None


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = part or '""'  # a key that is the empty string must still show in the path
            text += f".{part}" if text else part
    return text


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path and field else path or field


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
    got = shown(error.get("input"))
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


#: Deeper than any manifest: the deepest part of a Rollout, a pod template's affinity, is about 15
#: levels from the root. Junk nested thousands of levels raised RecursionError from the parse
#: (``repr`` of it in the standard library's enum errors, the hash of a pod template), so a
#: deeper object is refused before it is parsed at all.
MAX_DEPTH = 100


def too_deep(obj: Any, limit: int = MAX_DEPTH) -> str | None:
    """Where ``obj`` nests maps and lists more than ``limit`` levels (the path's first fields, for a
    message); ``None`` when it does not. Walks with a stack, so any depth is safe to look at, and
    walks what YAML aliases share once per depth, so a "billion laughs" file (aliases of aliases,
    exponentially many paths to few objects) takes no longer than its text."""
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(obj, ())]
    walked: dict[int, int] = {}  # id of a map or list -> the deepest level it was walked from
    while stack:
        item, loc = stack.pop()
        if len(loc) > limit:
            return _path(loc[:8]) + "..."
        if not isinstance(item, Mapping | list) or walked.get(id(item), -1) >= len(loc):
            continue
        walked[id(item)] = len(loc)
        if isinstance(item, Mapping):
            stack.extend((value, (*loc, str(key))) for key, value in item.items())
        elif isinstance(item, list):
            stack.extend((value, (*loc, index)) for index, value in enumerate(item))
    return None


#: More values than any manifest holds (the API server stores at most about 1.5 MB of JSON, and a
#: large Rollout holds a few thousand). YAML aliases of aliases ("billion laughs") reach far more
#: from a few lines, and anything that walks every value (the standard library's enum errors take
#: the repr of the input) then never returns, so such an object is refused before it is parsed.
MAX_VALUES = 100_000


def too_big(obj: Any, limit: int = MAX_VALUES) -> str | None:
    """Where ``obj`` holds more than ``limit`` values, counting each path to a shared (aliased) value
    as YAML would expand it; ``None`` when it does not. Call it on an object :func:`too_deep` passed:
    it recurses once per level."""
    sizes: dict[int, int] = {}

    def size(item: Any) -> int:
        if not isinstance(item, Mapping | list):
            return 1
        known = sizes.get(id(item))
        if known is None:
            known = 1 + sum(size(child) for child in (item.values() if isinstance(item, Mapping) else item))
            sizes[id(item)] = known
        return known

    if size(obj) <= limit:
        return None
    loc: tuple[int | str, ...] = ()
    item = obj
    while isinstance(item, Mapping | list):  # down the biggest child while it is too big by itself
        children = list(item.items()) if isinstance(item, Mapping) else list(enumerate(item))
        key, child = max(children, key=lambda pair: size(pair[1]))
        if loc and size(child) <= limit:
            break
        loc, item = (*loc, str(key) if isinstance(item, Mapping) else key), child
    return _path(loc[:8]) + ("..." if len(loc) > 8 else "")


def _plainly_within_limits(obj: Any) -> bool:
    """True when ``obj`` is plain dicts and lists that share nothing (as JSON decodes, and YAML
    without aliases), no deeper than :data:`MAX_DEPTH` and with at most :data:`MAX_VALUES` values.

    One walk without paths, about a tenth of :func:`too_deep` and :func:`too_big` together: the
    controller parses a Rollout on every new version of it, and those two were most of the parse.
    False says only "look closer": those two then find where, and count what aliases share.
    """
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(obj, 0)]
    values = 1
    while stack:
        item, depth = stack.pop()
        if id(item) in seen:
            return False  # shared: counted as expanded by too_big
        seen.add(id(item))
        if type(item) is dict:
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            return False  # another Mapping: left to the general walks
        if not children:
            continue
        if depth >= MAX_DEPTH:
            return False
        values += len(children)
        if values > MAX_VALUES:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def parse_as(model: type[T], obj: Any) -> T:
    """Validate `obj` (a dict as read from YAML or the API) as `model`; raise InvalidObjectError."""
    plain = _plainly_within_limits(obj)
    where = None if plain else too_deep(obj)
    if where is not None:
        raise InvalidObjectError(
            [
                f"{object_name(obj)}: `{where}` nests more than {MAX_DEPTH} levels of maps and lists, deeper "
                "than any manifest; remove what is nested that deep"
            ]
        )
    where = None if plain else too_big(obj)
    if where is not None:
        raise InvalidObjectError(
            [
                f"{object_name(obj)}: `{where}` holds more than {MAX_VALUES} values once its YAML aliases "
                "are expanded, more than any manifest; write it out without aliases of aliases"
            ]
        )
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
        raise InvalidObjectError([f"{object_name(obj)}: `kind` must be one of {known} (got {shown(kind)})"])
    return parse_as(model, obj)


def validation_errors(obj: Any) -> list[str]:
    """Every problem with a rollouts.dev object, as readable lines; empty when it is valid."""
    try:
        parse_object(obj)
    except InvalidObjectError as exc:
        return exc.errors
    return []
