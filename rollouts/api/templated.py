"""``{{args.NAME}}`` in an AnalysisTemplate metric's counts, limits and durations: the field types.

Argo Rollouts fills ``{{args.NAME}}`` into every string of a metric, so its users write
``count: "{{args.count}}"``. A template metric's field is therefore a value *or* an
:class:`ArgTemplate` (the text as written); an AnalysisRun's metric holds plain values, and the
engine (``rollouts.engine.metric_fields``) fills one into the other. The annotated types here
validate, serialise back as written, and give the CRD an int-or-string schema with a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError, PydanticKnownError

from rollouts.api.common import DurationTooLongError, parse_duration, shown

__all__ = [
    "ARG_PLACEHOLDER",
    "NO_LIMIT",
    "TEMPLATED_FIELDS",
    "ArgTemplate",
    "TemplatedDuration",
    "TemplatedInt",
    "TemplatedLimit",
    "minimum_of",
]


ARG_PLACEHOLDER: Final = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+?)\s*\}\}")
"""``{{args.NAME}}`` (spaces allowed inside the braces); group 1 is the argument's name."""

#: The CRD's pattern of a whole-number field written as one placeholder (RE2, as the API server runs it).
_ONE_PLACEHOLDER_PATTERN: Final = r"^\{\{\s*args\.[A-Za-z0-9_.-]+\s*\}\}$"

#: Template metric fields that may take their value from an argument: attribute -> YAML name.
TEMPLATED_FIELDS: Final = {
    "interval": "interval",
    "initial_delay": "initialDelay",
    "count": "count",
    "failure_limit": "failureLimit",
    "inconclusive_limit": "inconclusiveLimit",
    "consecutive_error_limit": "consecutiveErrorLimit",
    "consecutive_success_limit": "consecutiveSuccessLimit",
}

NO_LIMIT: Final = -1
"""``failureLimit: -1``: failures never fail the metric (Argo's way to wait on
``consecutiveSuccessLimit`` alone); the one field that takes a value below 0."""


def minimum_of(attribute: str) -> int:
    """The least value a templated whole-number field takes (``failure_limit`` may be -1)."""
    return NO_LIMIT if attribute == "failure_limit" else 0


_WHOLE_NUMBER_FORMS: Final = (
    'write a whole number such as 5, or exactly one placeholder such as "{{args.count}}" to take it from '
    "an argument (placeholders inside a value work in interval and initialDelay only)"
)
_DURATION_FORMS: Final = (
    'write a duration such as 30s, 5m or 1h30m; or the whole value as one placeholder ("{{args.interval}}", '
    'whose value is such a duration); or placeholders for its numbers ("{{args.minutes}}m")'
)


@dataclass(frozen=True)
class ArgTemplate:
    """A template metric's value written with ``{{args.NAME}}`` placeholders, as the user wrote it.

    It is filled in when the engine builds the AnalysisRun (``rollouts.engine.analysis_runs``);
    a run's :class:`Metric` never holds one.
    """

    text: str

    @property
    def names(self) -> tuple[str, ...]:
        """The arguments it names, in order of first use."""
        return tuple(dict.fromkeys(ARG_PLACEHOLDER.findall(self.text)))

    @property
    def whole(self) -> bool:
        """Whether the value is exactly one placeholder (its argument's value is the whole value)."""
        return ARG_PLACEHOLDER.fullmatch(self.text) is not None

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with every placeholder replaced by its value (``KeyError``: a name without one)."""
        return ARG_PLACEHOLDER.sub(lambda match: values[match.group(1)], self.text)

    def __str__(self) -> str:
        return self.text


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("templated", "{message}", {"message": message})


def _templated_int(value: Any, minimum: int = 0) -> int | ArgTemplate:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < minimum:
            raise PydanticKnownError("greater_than_equal", {"ge": minimum})
        return value
    if not isinstance(value, str):
        raise _invalid(f"{shown(value)} is not a whole number; {_WHOLE_NUMBER_FORMS}")
    if ARG_PLACEHOLDER.fullmatch(value):
        return ArgTemplate(value)
    if ARG_PLACEHOLDER.search(value):
        raise _invalid(f"{shown(value)} holds a placeholder among other text; {_WHOLE_NUMBER_FORMS}")
    if value.strip().isdigit():
        raise _invalid(
            f"{shown(value)} is a quoted number; write {value.strip()} without quotes, or exactly one "
            'placeholder such as "{{args.count}}" to take it from an argument'
        )
    raise _invalid(f"{shown(value)} is neither a whole number nor a placeholder; {_WHOLE_NUMBER_FORMS}")


def _templated_duration(value: Any) -> str | ArgTemplate:
    if not isinstance(value, str):
        raise _invalid(f"{shown(value)} is not a string; {_DURATION_FORMS}")
    if ARG_PLACEHOLDER.search(value) is None:
        try:
            parse_duration(value)
        except DurationTooLongError as exc:
            raise _invalid(str(exc)) from None
        except ValueError:
            raise _invalid(f"{shown(value)} is not a duration; {_DURATION_FORMS}") from None
        return value
    if not ARG_PLACEHOLDER.fullmatch(value):
        try:
            parse_duration(ARG_PLACEHOLDER.sub("1", value))
        except ValueError:
            raise _invalid(
                f"{shown(value)} is not a duration even with a number in each placeholder; {_DURATION_FORMS}"
            ) from None
    return ArgTemplate(value)


def _as_written(value: object) -> object:
    return value.text if isinstance(value, ArgTemplate) else value


def _int_schema(minimum: int) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
            "minimum": minimum,
            "pattern": _ONE_PLACEHOLDER_PATTERN,
        }
    )


#: A whole number of 0 or more, or one ``{{args.NAME}}`` placeholder (template metrics only).
TemplatedInt = Annotated[
    int | ArgTemplate, PlainValidator(_templated_int), PlainSerializer(_as_written), _int_schema(0)
]
#: As :data:`TemplatedInt`, or :data:`NO_LIMIT` (``failureLimit``).
TemplatedLimit = Annotated[
    int | ArgTemplate,
    PlainValidator(lambda value: _templated_int(value, NO_LIMIT)),
    PlainSerializer(_as_written),
    _int_schema(NO_LIMIT),
]

#: A Go duration string, possibly with ``{{args.NAME}}`` placeholders (template metrics only).
TemplatedDuration = Annotated[
    str | ArgTemplate,
    PlainValidator(_templated_duration),
    PlainSerializer(_as_written),
    WithJsonSchema({"type": "string", "pattern": r"^([0-9]|\{\{\s*args\.)"}),
]
