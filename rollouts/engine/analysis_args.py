"""Analysis arguments: merging them, reading Rollout fields into them, substituting them into metrics.

Arguments are resolved in two places, for two reasons:

* the **Rollout controller**, when it creates a run, resolves what depends on the Rollout at that
  instant (a literal ``value``, ``valueFrom.podTemplateHashValue``, ``valueFrom.fieldRef``), so
  the run keeps measuring the revision it was created for even if the Rollout moves on;
* the **AnalysisRun controller**, at every measurement, resolves ``valueFrom.secretKeyRef``, so
  a secret is never copied into an AnalysisRun (whose status anyone with read access can see)
  and a rotated secret is picked up by the next measurement.

:func:`substitute_args` then writes the values into the provider fields that accept
``{{args.NAME}}`` (a Prometheus query, address and headers; a judge's two queries, address and
headers; a web URL, headers and body; every string of a Job's metadata and spec). A reference to
an argument that has no value is an error naming the argument, never an empty string quietly
pasted into a query. A Secret's value is never pasted into a Job: the Job would keep it in its
spec, readable by anyone who can read Jobs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rollouts.api.analysis import (
    ARG_PLACEHOLDER,
    Argument,
    JobMetadata,
    JobMetric,
    JudgeMetric,
    Metric,
    MetricProvider,
    PrometheusMetric,
    WebMetric,
    WebMetricHeader,
)

__all__ = [
    "ArgumentError",
    "ResolvedArgs",
    "read_field",
    "referenced_args",
    "resolve_run_args",
    "secret_names",
    "substitute",
    "substitute_args",
]

_ARG_REFERENCE: Final = ARG_PLACEHOLDER  # one syntax for queries and for counts and durations
_PATH_TOKEN: Final = re.compile(r"""\.?([A-Za-z0-9_-]+)|\[\s*(?:'([^']*)'|"([^"]*)"|(\d+))\s*\]""")


class ArgumentError(ValueError):
    """An argument that cannot be resolved; the message names the object, the field and the fix."""


# --- fieldRef ---------------------------------------------------------------------------------------


def _path_segments(path: str) -> list[str | int]:
    segments: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None or match.end() == pos:
            raise ArgumentError(
                f"fieldPath {path!r} cannot be read at character {pos + 1}; write it like "
                "metadata.name, metadata.labels['app'] or spec.template.spec.containers[0].image"
            )
        name, single, double, index = match.groups()
        if index is not None:
            segments.append(int(index))
        else:
            segments.append(name if name is not None else (single if single is not None else double))
        pos = match.end()
    return segments


def read_field(obj: Mapping[str, Any], path: str) -> str:
    """The value at ``path`` (``metadata.name``, ``metadata.labels['app']``, ``spec.x[0].y``) of
    ``obj`` (an object as the API server shows it, camelCase keys), as text.

    Strings are returned as they are; numbers, booleans, lists and maps as compact JSON, which
    is how they would read in a query. A path that leads nowhere raises :class:`ArgumentError`
    saying which part is missing.
    """
    current: Any = obj
    walked = ""
    for segment in _path_segments(path.strip()):
        if isinstance(segment, int):
            if not isinstance(current, list) or segment >= len(current):
                raise ArgumentError(f"fieldPath {path!r}: {walked or 'the object'} has no item [{segment}]")
            current = current[segment]
            walked += f"[{segment}]"
        else:
            if not isinstance(current, Mapping) or segment not in current:
                raise ArgumentError(f"fieldPath {path!r}: {walked or 'the object'} has no field {segment!r}")
            current = current[segment]
            walked += f".{segment}" if walked else segment
    if current is None:
        raise ArgumentError(f"fieldPath {path!r} is not set on the object")
    if isinstance(current, str):
        return current
    return json.dumps(current, separators=(",", ":"), sort_keys=True)


# --- {{args.NAME}} ----------------------------------------------------------------------------------


def referenced_args(text: str | None) -> set[str]:
    """Names of the arguments ``text`` refers to with ``{{args.NAME}}``."""
    return set(_ARG_REFERENCE.findall(text or ""))


def substitute(text: str, args: Mapping[str, str], *, field: str) -> str:
    """``text`` with each ``{{args.NAME}}`` replaced by its value; ``field`` names the place in errors."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in args:
            known = ", ".join(sorted(args)) or "none"
            raise ArgumentError(
                f"{field} uses {{{{args.{name}}}}} but the run has no argument {name!r} with a value "
                f"(arguments with values: {known}); declare it in the template's args and give it a "
                "value or valueFrom"
            )
        return args[name]

    return _ARG_REFERENCE.sub(replace, text)


def _headers(
    headers: list[WebMetricHeader] | None, args: Mapping[str, str], *, field: str
) -> list[WebMetricHeader] | None:
    if headers is None:
        return None
    return [
        WebMetricHeader(key=h.key, value=substitute(h.value, args, field=f"{field}[{i}].value"))
        for i, h in enumerate(headers)
    ]


def _prometheus(p: PrometheusMetric, args: Mapping[str, str], at: str) -> PrometheusMetric:
    return p.model_copy(
        update={
            "address": None if p.address is None else substitute(p.address, args, field=f"{at}.address"),
            "query": substitute(p.query, args, field=f"{at}.query"),
            "headers": _headers(p.headers, args, field=f"{at}.headers"),
        }
    )


def _judge(j: JudgeMetric, args: Mapping[str, str], at: str) -> JudgeMetric:
    return j.model_copy(
        update={
            "address": None if j.address is None else substitute(j.address, args, field=f"{at}.address"),
            "canary_query": substitute(j.canary_query, args, field=f"{at}.canaryQuery"),
            "baseline_query": substitute(j.baseline_query, args, field=f"{at}.baselineQuery"),
            "headers": _headers(j.headers, args, field=f"{at}.headers"),
        }
    )


def _json(value: Any, args: Mapping[str, str], *, field: str) -> Any:
    """``value`` (decoded JSON) with ``{{args.NAME}}`` filled in each of its strings."""
    if isinstance(value, str):
        return substitute(value, args, field=field)
    if isinstance(value, list):
        return [_json(item, args, field=f"{field}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _json(item, args, field=f"{field}.{key}") for key, item in value.items()}
    return value


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | dict):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _json_strings(item)


def _job(j: JobMetric, args: Mapping[str, str], at: str) -> JobMetric:
    metadata = j.metadata
    if metadata is not None:
        metadata = JobMetadata.model_validate(
            _json(metadata.model_dump(exclude_none=True), args, field=f"{at}.metadata")
        )
    return j.model_copy(update={"metadata": metadata, "spec": _json(j.spec, args, field=f"{at}.spec")})


def _web(w: WebMetric, args: Mapping[str, str], at: str) -> WebMetric:
    return w.model_copy(
        update={
            "url": substitute(w.url, args, field=f"{at}.url"),
            "body": None if w.body is None else substitute(w.body, args, field=f"{at}.body"),
            "json_body": None if w.json_body is None else _json(w.json_body, args, field=f"{at}.jsonBody"),
            "headers": _headers(w.headers, args, field=f"{at}.headers"),
        }
    )


def substitute_args(metric: Metric, args: Mapping[str, str]) -> Metric:
    """``metric`` with ``{{args.NAME}}`` filled in every provider field that accepts it.

    Raises :class:`ArgumentError` naming the metric's field and the missing argument. The
    result is a copy; the template's text is never changed.
    """
    at = f"metric {metric.name!r}: provider"
    provider = metric.provider
    if provider.prometheus is not None:
        new = MetricProvider(prometheus=_prometheus(provider.prometheus, args, f"{at}.prometheus"))
    elif provider.web is not None:
        new = MetricProvider(web=_web(provider.web, args, f"{at}.web"))
    elif provider.job is not None:
        new = MetricProvider(job=_job(provider.job, args, f"{at}.job"))
    elif provider.judge is not None:
        new = MetricProvider(judge=_judge(provider.judge, args, f"{at}.judge"))
    else:  # pragma: no cover - the API model guarantees exactly one provider
        raise ArgumentError(f"metric {metric.name!r} has no provider")
    return metric.model_copy(update={"provider": new})


# --- the run's args at measurement time -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ResolvedArgs:
    """A run's arguments with values, and for each one that could not be read, why."""

    values: Mapping[str, str]
    problems: Mapping[str, str]

    def problem_for(self, metric: Metric) -> str | None:
        """Why ``metric`` cannot be measured (it uses an argument that has no value), or ``None``."""
        used = sorted(_metric_references(metric) & set(self.problems))
        if not used:
            return None
        return "; ".join(f"argument {name!r}: {self.problems[name]}" for name in used)


def _metric_references(metric: Metric) -> set[str]:
    texts: list[str | None] = []
    if metric.provider.prometheus is not None:
        p = metric.provider.prometheus
        texts += [p.address, p.query, *(h.value for h in p.headers or [])]
    if metric.provider.web is not None:
        w = metric.provider.web
        texts += [w.url, w.body, *(h.value for h in w.headers or []), *_json_strings(w.json_body)]
    if metric.provider.job is not None:
        j = metric.provider.job
        texts += [*_json_strings(j.spec), *_json_strings(j.metadata and j.metadata.model_dump())]
    if metric.provider.judge is not None:
        q = metric.provider.judge
        texts += [q.address, q.canary_query, q.baseline_query, *(h.value for h in q.headers or [])]
    return set().union(*(referenced_args(t) for t in texts))


def resolve_run_args(
    args: Sequence[Argument] | None, *, secrets: Mapping[str, Mapping[str, str] | None], namespace: str
) -> ResolvedArgs:
    """The run's ``args`` with ``valueFrom.secretKeyRef`` read from ``secrets`` (Secret name to its
    decoded data, ``None`` when the Secret does not exist), as the AnalysisRun controller read
    them just before measuring. A missing Secret or key is a problem of that argument only: the
    metrics that do not use it are still measured.
    """
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    for arg in args or []:
        ref = arg.value_from.secret_key_ref if arg.value_from is not None else None
        if arg.value is not None:
            values[arg.name] = arg.value
        elif ref is not None:
            data = secrets.get(ref.name)
            if data is None:
                problems[arg.name] = (
                    f"Secret {ref.name!r} not found in namespace {namespace!r}; create it, or fix "
                    "valueFrom.secretKeyRef.name"
                )
            elif ref.key not in data:
                keys = ", ".join(sorted(data)) or "none"
                problems[arg.name] = (
                    f"Secret {ref.name!r} has no key {ref.key!r} (keys: {keys}); fix "
                    "valueFrom.secretKeyRef.key or add the key"
                )
            else:
                values[arg.name] = data[ref.key]
        else:
            problems[arg.name] = "has no value; set value or valueFrom"
    return ResolvedArgs(values=values, problems=problems)


def secret_names(args: Sequence[Argument] | None) -> set[str]:
    """The Secrets a run's arguments read (what the controller fetches before measuring)."""
    return {
        arg.value_from.secret_key_ref.name
        for arg in args or []
        if arg.value_from is not None and arg.value_from.secret_key_ref is not None
    }
