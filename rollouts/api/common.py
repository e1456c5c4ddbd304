"""Building blocks shared by every kind: the model base, durations, int-or-percent, metadata, selectors.

Every API model derives from `ApiModel` so the whole API behaves the same way: frozen (a snapshot the
engine can share without copying), snake_case attributes with the camelCase names of Argo Rollouts as
aliases, unknown fields rejected, and Argo fields we do not implement yet rejected *by name* (declared
per model in `UNSUPPORTED`) instead of being silently dropped.
"""

from __future__ import annotations

import re
import reprlib
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Final

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict, JsonValue
from pydantic_core import PydanticCustomError

from rollouts.api.enums import SelectorOperator

__all__ = [
    "ApiModel",
    "Duration",
    "DurationTooLongError",
    "FieldRef",
    "IntOrPercent",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ObjectMeta",
    "Timestamp",
    "WebMetricHeader",
    "parse_duration",
    "parse_timestamp",
    "scaled_value",
    "shown",
]

#: Error type raised for an Argo Rollouts field that kube-rollouts does not implement yet; the message
#: helper in `rollouts.api.validation` turns it into "`<path>.<field>` is not supported yet".
UNSUPPORTED_ERROR = "unsupported_field"


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxother = 4, 4, 4, 60, 60


def shown(value: Any, limit: int = 60) -> str:
    """How a message shows a value the user wrote: its repr, a few levels and ``limit`` characters
    at most. A plain ``repr`` of a value nested thousands of levels (YAML ``[[[[...]]]]``) raised
    RecursionError out of the validation, and a megabyte string made a megabyte message."""
    text = _SHOWN.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ApiModel(BaseModel):
    """Base of every API model: frozen, camelCase aliases, strict about unknown and unsupported fields."""

    model_config = ConfigDict(
        frozen=True,
        populate_by_name=True,
        serialize_by_alias=True,
        alias_generator=to_camel,
        extra="forbid",
    )

    #: Argo Rollouts field names (camelCase) that are valid in Argo but not implemented here. Listing
    #: them gives the user "not supported yet" rather than "unknown field", which would suggest a typo.
    UNSUPPORTED: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _reject_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.UNSUPPORTED:
            found = [key for key in data if key in cls.UNSUPPORTED]
            if found:
                raise PydanticCustomError(
                    UNSUPPORTED_ERROR, "`{fields}` is not supported yet", {"fields": ",".join(found)}
                )
        return data


# --- durations -------------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
#: Go's longest time.Duration (2^63-1 ns, about 292 years): Argo Rollouts refuses anything longer, and
#: Python's timedelta overflows not far above it (a duration of 10^30 seconds crashed the parser).
_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9
_TOO_LONG = "is longer than the longest duration (2562047h, about 292 years); use a shorter one"


class DurationTooLongError(ValueError):
    """A well-formed duration past Go's longest: its message says so rather than "not a duration"."""


def parse_duration(value: int | str) -> timedelta:
    """Turn an int (seconds) or a Go-style duration string ("30s", "5m", "1h30m", "500ms") into a timedelta.

    Argo Rollouts accepts both forms (pause durations are int-or-string, metric intervals are Go
    durations), so migrated manifests keep working. Raises ValueError with the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like 30s, 5m or 1h")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a duration cannot be negative (got {value})")
        if value > _MAX_DURATION_SECONDS:
            raise DurationTooLongError(f"{value} seconds {_TOO_LONG}")
        return timedelta(seconds=value)
    text = value.strip()
    if text == "0":
        return timedelta(0)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(
            f"{shown(value)} is not a duration; use whole seconds (30) or a number with a unit: "
            "30s, 5m, 1h, 1h30m, 500ms"
        )
    if total > _MAX_DURATION_SECONDS:
        raise DurationTooLongError(f"{shown(value, 40)} {_TOO_LONG}")
    return timedelta(seconds=total)


def parse_timestamp(value: str | None) -> datetime | None:
    """Parse an RFC 3339 timestamp with a time zone ("2024-05-01T12:00:00Z"); ``None`` if absent or bad.

    For timestamps read from objects the models do not parse (annotations, other kinds' dicts):
    a value nobody can read, or one without a zone, is treated as missing, never as a crash.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _validate_duration(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "duration",
            "must be a number of seconds or a string like 30s, 5m or 1h (got {value})",
            {"value": shown(value)},
        )
    try:
        parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", "{reason}", {"reason": str(exc)}) from None
    return value


_INT_OR_STRING_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "x-kubernetes-int-or-string": True,
}

#: A duration as the user wrote it (int seconds or "30s"/"5m"/"1h"), validated; read it with
#: `parse_duration`. Kept in its original form so a dump round-trips the manifest unchanged.
Duration = Annotated[int | str, PlainValidator(_validate_duration), WithJsonSchema(_INT_OR_STRING_SCHEMA)]

#: A duration that Argo spells as a Go duration string only (metric interval, initialDelay).
DurationString = Annotated[
    str, PlainValidator(_validate_duration), WithJsonSchema({"type": "string", "pattern": r"^[0-9]"})
]


# --- int or percent --------------------------------------------------------------------------------

_PERCENT = re.compile(r"^(\d+)%$")


def _validate_int_or_percent(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _PERCENT.match(value):
        return value
    raise PydanticCustomError(
        "int_or_percent",
        "must be a non-negative whole number of pods or a percentage like '25%' (got {value})",
        {"value": shown(value)},
    )


#: A count of pods, absolute (3) or relative to the desired replicas ("25%"), as Kubernetes' IntOrString.
IntOrPercent = Annotated[
    int | str, PlainValidator(_validate_int_or_percent), WithJsonSchema(_INT_OR_STRING_SCHEMA)
]


def scaled_value(value: int | str, total: int, *, round_up: bool) -> int:
    """Resolve an IntOrPercent (``3`` or ``"25%"``) to a pod count against ``total`` pods.

    Percentages round up for surge-like values and down for unavailability-like values, as
    Kubernetes Deployments (and Argo Rollouts) do: both roundings err on the side of keeping pods
    available, so the caller chooses. A string must be a whole-number percentage; a bare ``"3"``
    is rejected because Kubernetes rejects it too. Raises ValueError saying which forms work.
    This is the one implementation; the engine's ``resolve_int_or_percent`` is the same function.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a whole number of pods or a percentage like '25%', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value
    match = _PERCENT.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is neither a whole number of pods nor a percentage like '25%'")
    scaled = int(match.group(1)) * total
    return -(-scaled // 100) if round_up else scaled // 100


# --- metadata and selectors ------------------------------------------------------------------------

#: An RFC 3339 timestamp with a time zone, as Kubernetes writes it ("2024-05-01T12:00:00Z").
Timestamp = AwareDatetime


class ObjectMeta(ApiModel):
    """The part of Kubernetes ObjectMeta the controller reads; other server-set fields are kept as-is."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, description="Name of the object, unique in its namespace.")
    namespace: str | None = Field(default=None, description="Namespace of the object.")
    labels: dict[str, str] | None = Field(default=None, description="Labels of the object.")
    annotations: dict[str, str] | None = Field(default=None, description="Annotations of the object.")
    uid: str | None = Field(default=None, description="Server-assigned unique id.")
    generation: int | None = Field(default=None, description="Server-maintained spec generation.")
    resource_version: str | None = Field(default=None, description="Server-maintained version.")
    creation_timestamp: datetime | None = Field(default=None, description="When the object was created.")


class FieldRef(ApiModel):
    """A reference to a field of the Rollout, e.g. metadata.labels['app']."""

    field_path: str = Field(min_length=1, description="Path of the field, e.g. metadata.name.")


class WebMetricHeader(ApiModel):
    """An HTTP header sent with a query (Prometheus, web and judge metrics: hence here, shared)."""

    key: str = Field(min_length=1, description="Header name.")
    value: str = Field(description="Header value.")


class LabelSelectorRequirement(ApiModel):
    """One set-based requirement of a label selector."""

    key: str = Field(description="The label key the requirement applies to.")
    operator: SelectorOperator = Field(description="How the key relates to the values.")
    values: list[str] | None = Field(
        default=None, description="Values for In and NotIn; must be empty for Exists and DoesNotExist."
    )

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a pod with these labels satisfies this requirement."""
        present = self.key in labels
        values = self.values or []
        if self.operator is SelectorOperator.IN:
            return present and labels[self.key] in values
        if self.operator is SelectorOperator.NOT_IN:
            return not present or labels[self.key] not in values
        if self.operator is SelectorOperator.EXISTS:
            return present
        return not present


class LabelSelector(ApiModel):
    """A Kubernetes label selector; a Rollout's selector must match its pod template's labels."""

    match_labels: dict[str, str] | None = Field(
        default=None, description="Labels a pod must carry with exactly these values."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, description="Set-based requirements a pod's labels must all satisfy."
    )

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a pod with these labels is selected."""
        for key, value in (self.match_labels or {}).items():
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.match_expressions or [])

    def is_empty(self) -> bool:
        """An empty selector selects every pod, which a Rollout must never do."""
        return not self.match_labels and not self.match_expressions

    def to_selector_string(self) -> str:
        """The selector in kubectl's string form, as the scale subresource expects in status.selector."""
        parts = [f"{k}={v}" for k, v in sorted((self.match_labels or {}).items())]
        for req in self.match_expressions or []:
            if req.operator is SelectorOperator.EXISTS:
                parts.append(req.key)
            elif req.operator is SelectorOperator.DOES_NOT_EXIST:
                parts.append(f"!{req.key}")
            else:
                op = "in" if req.operator is SelectorOperator.IN else "notin"
                parts.append(f"{req.key} {op} ({','.join(sorted(req.values or []))})")
        return ",".join(parts)


def rule_error(message: str, *, at: str | None = None) -> PydanticCustomError:
    """A cross-field validation error whose message already says what is wrong and how to fix it.

    `at` names the (camelCase) field the rule is about, so the reported path points at it rather than
    at the object holding the validator.
    """
    return PydanticCustomError(RULE_ERROR, "{message}", {"message": message, "at": at or ""})


#: Error type of `rule_error`.
RULE_ERROR = "rule"


def cel(*rules: tuple[str, str]) -> JsonDict:
    """JSON-schema extra holding CEL rules (rule, message) the API server enforces by itself.

    They land in the CRD as x-kubernetes-validations, so `kubectl apply` rejects a bad manifest even
    before the controller sees it.
    """
    items: list[JsonValue] = [{"rule": rule, "message": message} for rule, message in rules]
    return {"x-kubernetes-validations": items}


# --- top-level objects -----------------------------------------------------------------------------

API_GROUP = "rollouts.dev"
API_VERSION = "v1alpha1"
GROUP_VERSION: Final = "rollouts.dev/v1alpha1"
ARGO_GROUP_VERSION = "argoproj.io/v1alpha1"


class TopLevelObject(ApiModel):
    """Base of the four kinds: checks apiVersion/kind with a message that explains how to migrate."""

    @model_validator(mode="before")
    @classmethod
    def _check_type_meta(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        api_version = data.get("apiVersion", GROUP_VERSION)
        if api_version == ARGO_GROUP_VERSION:
            raise rule_error(
                f"apiVersion is {ARGO_GROUP_VERSION} (Argo Rollouts); change it to {GROUP_VERSION}",
                at="apiVersion",
            )
        if api_version != GROUP_VERSION:
            raise rule_error(
                f"apiVersion must be {GROUP_VERSION} (got {shown(api_version)})", at="apiVersion"
            )
        expected = cls.__name__
        kind = data.get("kind", expected)
        if kind != expected:
            raise rule_error(f"kind must be {expected} (got {shown(kind)})", at="kind")
        return data
