"""``{{args.NAME}}`` in a metric's counts, limits and durations, filled when a run is built.

An AnalysisTemplate's metric (:class:`~rollouts.api.analysis.TemplateMetric`) may write ``count``,
the limits, ``interval`` and ``initialDelay`` with placeholders; an AnalysisRun's metric
(:class:`~rollouts.api.analysis.Metric`) holds plain values. :func:`resolve_metric` turns one into
the other from the run's resolved args, checking each filled value with the rules a literal gets
at parse time; :func:`fill_metric` fills what it can (``lint`` uses it on a template alone). Every
error is a :class:`MetricFieldError` naming the template, the metric, the field, the placeholder,
the value, where that value is set and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from rollouts.api.analysis import TEMPLATED_FIELDS, ArgTemplate, Metric, TemplateMetric
from rollouts.api.common import parse_duration
from rollouts.api.templated import minimum_of
from rollouts.engine.analysis_errors import AnalysisRunError

__all__ = ["ArgValue", "MetricFieldError", "fill_metric", "resolve_metric"]


_WHOLE_NUMBER: Final = re.compile(r"-?\d+")
_V = TypeVar("_V")


@dataclass(frozen=True, kw_only=True)
class ArgValue:
    """One argument of a run, as a metric field written ``{{args.NAME}}`` uses it.

    ``value`` is ``None`` for an argument read from a Secret. ``origin`` says where the value is
    set, for the fix (``the Rollout's spec.strategy.canary.steps[1].analysis.args[0]``,
    ``AnalysisTemplate 'x' spec.args[0]``). ``declared_in`` is the template whose own default
    (``value`` or ``secretKeyRef``) it is, ``None`` when the Rollout gives it or a ``fieldRef``
    reads it from the Rollout.
    """

    value: str | None
    origin: str
    declared_in: str | None = None


class MetricFieldError(AnalysisRunError):
    """A metric field whose placeholder cannot be filled, or is filled with a value it cannot take.

    ``field`` is the YAML name (``count``, ``initialDelay``) and ``detail`` the message after it;
    ``values`` are the values of the arguments it used. ``template_only`` is true when the
    metric's own template is the cause, whatever Rollout uses it: a name it does not declare, or
    values that are all its own defaults (``lint`` reports those on the template).
    """

    def __init__(
        self, *, where: str, field: str, detail: str, values: tuple[str, ...], template_only: bool
    ) -> None:
        super().__init__(f"{where}: {field} {detail}")
        self.field = field
        self.detail = detail
        self.values = values
        self.template_only = template_only


@dataclass(frozen=True, kw_only=True)
class _Filling:
    """One metric being filled: its arguments, its template, where it is (for messages)."""

    args: Mapping[str, ArgValue]
    template: str | None
    where: str
    partial: bool

    def error(self, field: str, detail: str, used: Sequence[ArgValue]) -> MetricFieldError:
        own = all(arg.declared_in is not None and arg.declared_in == self.template for arg in used)
        values = tuple(arg.value for arg in used if arg.value is not None)
        return MetricFieldError(
            where=self.where, field=field, detail=detail, values=values, template_only=own
        )

    def fill(self, text: ArgTemplate, field: str) -> tuple[str | None, list[ArgValue]]:
        """The filled text and the arguments used; ``None`` (when partial) if one has no value here."""
        used: list[ArgValue] = []
        for name in text.names:
            arg = self.args.get(name)
            if arg is None:
                if self.partial:
                    return None, used
                known = ", ".join(sorted(self.args)) or "none"
                detail = (
                    f"{text.text!r} names argument {name!r}, which the run does not have (its arguments: "
                    f"{known}); declare {name} in the template's args, or fix the name"
                )
                raise self.error(field, detail, [])
            if arg.value is None:
                detail = (
                    f"{text.text!r} names argument {name!r}, which is read from a Secret ({arg.origin}); "
                    f"a Secret's value is never written into an AnalysisRun, so it cannot set {field}: give "
                    f"{name} a value (in the Rollout's analysis args or as the template's default), or "
                    f"write {field} in the template"
                )
                raise self.error(field, detail, [arg])
            used.append(arg)
        values = {name: arg.value for name, arg in self.args.items() if arg.value is not None}
        return text.fill(values), used

    def whole_number(self, value: int | ArgTemplate, field: str, *, minimum: int = 0) -> int | ArgTemplate:
        if not isinstance(value, ArgTemplate):
            return value
        filled, used = self.fill(value, field)
        if filled is None:
            return value
        text = filled.strip()
        if not _WHOLE_NUMBER.fullmatch(text):
            problem = "which is not a whole number; make that value a whole number such as 5"
        elif int(text) < minimum:
            problem = (
                f"which is {'negative' if minimum == 0 else 'too low'}; make that value {minimum} or more"
            )
        else:
            return int(text)
        raise self.error(field, f"{_gives(value, filled, used)}, {problem}", used)

    def duration(self, value: str | ArgTemplate | None, field: str) -> str | ArgTemplate | None:
        if not isinstance(value, ArgTemplate):
            return value
        filled, used = self.fill(value, field)
        if filled is None:
            return value
        try:
            parse_duration(filled.strip())
        except ValueError:
            example = "a duration such as 30s, 5m or 1h" if value.whole else "a number, e.g. 5"
            detail = (
                f"{_gives(value, filled, used)}, which is not a duration; make the value of "
                f"{' and '.join(value.names)} {example}"
            )
            raise self.error(field, detail, used) from None
        return filled.strip()


def _gives(text: ArgTemplate, filled: str, used: Sequence[ArgValue]) -> str:
    origins = ", ".join(dict.fromkeys(arg.origin for arg in used))
    return f"{text.text!r} gives {filled!r} (set in {origins})"


def _filled(metric: TemplateMetric, filling: _Filling) -> TemplateMetric:
    if not metric.placeholders():
        return metric
    update: dict[str, object] = {}
    for attribute, field in TEMPLATED_FIELDS.items():
        value = getattr(metric, attribute)
        if attribute in ("interval", "initial_delay"):
            update[attribute] = filling.duration(value, field)
        else:
            update[attribute] = filling.whole_number(value, field, minimum=minimum_of(attribute))
    filled = metric.model_copy(update=update)  # each value checked above; the cross-field rule next
    count, written = filled.count, metric.count
    if isinstance(count, int) and count > 1 and filled.interval is None and isinstance(written, ArgTemplate):
        used = [filling.args[name] for name in written.names]
        detail = (
            f"{_gives(written, str(count), used)}, but interval is not set; set an interval such as 1m "
            "in the template's metric, or make that value 1"
        )
        raise filling.error("count", detail, used)
    limit = filled.consecutive_success_limit
    if isinstance(count, int) and isinstance(limit, int) and limit > count:
        templated = [v for v in (written, metric.consecutive_success_limit) if isinstance(v, ArgTemplate)]
        if templated:
            used = [filling.args[name] for value in templated for name in value.names]
            detail = (
                f"is {limit} but count is {count}, so it could never be reached; "
                "lower consecutiveSuccessLimit or raise count"
            )
            raise filling.error("consecutiveSuccessLimit", detail, used)
    return filled


def fill_metric(
    metric: TemplateMetric, args: Mapping[str, ArgValue], *, template: str | None = None, where: str
) -> TemplateMetric:
    """``metric`` with each placeholder whose arguments are all in ``args`` filled and checked (as
    :func:`resolve_metric` does); the others are left as written. Raises :class:`MetricFieldError`."""
    return _filled(metric, _Filling(args=args, template=template, where=where, partial=True))


def _resolved(value: _V | ArgTemplate) -> _V:
    assert not isinstance(value, ArgTemplate), "a metric filled with partial=False holds no placeholder"
    return value


def resolve_metric(
    metric: TemplateMetric, args: Mapping[str, ArgValue], *, template: str | None = None, where: str
) -> Metric:
    """The run's metric for ``metric``: every placeholder filled from ``args`` (the run's arguments
    by name) and checked with the rules a literal value meets. ``template`` is the label of the
    metric's template (as in :attr:`ArgValue.declared_in`), ``where`` locates the metric in
    messages. Raises :class:`MetricFieldError`: a placeholder naming an argument the run does not
    have or one read from a Secret, or a value the field cannot take."""
    filled = _filled(metric, _Filling(args=args, template=template, where=where, partial=False))
    return Metric(
        name=filled.name,
        interval=_resolved(filled.interval),
        initial_delay=_resolved(filled.initial_delay),
        count=_resolved(filled.count),
        success_condition=filled.success_condition,
        failure_condition=filled.failure_condition,
        failure_limit=_resolved(filled.failure_limit),
        inconclusive_limit=_resolved(filled.inconclusive_limit),
        consecutive_error_limit=_resolved(filled.consecutive_error_limit),
        consecutive_success_limit=_resolved(filled.consecutive_success_limit),
        provider=filled.provider,
    )
