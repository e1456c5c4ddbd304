"""AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun: which metrics decide a rollout's health.

A template names metrics (a query against a provider plus the conditions that judge each result); a
Rollout step instantiates it as an AnalysisRun with concrete arguments. Providers implemented so far
are Prometheus, web, job and the canary judge (``judge``, in ``rollouts.api.judge``: it decides by
itself, so its metrics take no conditions); every other Argo provider is rejected by name.

**Templated metric fields.** As in Argo Rollouts, a template's metric may take its ``count``,
``failureLimit``, ``inconclusiveLimit`` and ``consecutiveErrorLimit`` from an argument, written as
a string that is exactly one placeholder (``count: "{{args.count}}"``), and its ``interval`` and
``initialDelay`` from a string holding placeholders: the whole value (``"{{args.interval}}"``,
whose value is a duration such as ``30s``) or numbers inside a duration (``"{{args.minutes}}m"``).
Argo gets this by pasting the values into the template's text; here the two sides have two models:

* :class:`TemplateMetric` (in :class:`AnalysisTemplateSpec`) types each such field as
  ``int | ArgTemplate`` or ``str | ArgTemplate``. A literal value is checked at parse time as
  before (bounds, duration syntax, count > 1 needs an interval); a placeholder only for its form;
* :class:`Metric` (in :class:`AnalysisRunSpec`) keeps plain ``int`` and duration fields. The
  engine's ``resolve_metric`` (``rollouts.engine.analysis_runs``) is the one pure function from
  the first to the second: it fills in the run's argument values and checks what they give with
  the same rules, so an AnalysisRun never holds a placeholder.

Why two models rather than one with ``int | str`` fields: the AnalysisRun controller, the judgement
and the schedule (``metric.count``, ``metric.failure_limit``, ``metric.interval_seconds``) then
read plain values that ``mypy --strict`` checks, and code that forgot to resolve a template metric
does not type-check instead of comparing a placeholder with a number at run time. The CRDs differ
the same way: a template's fields are int-or-string with a pattern, a run's are integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from rollouts.api.common import (
    GROUP_VERSION,
    ApiModel,
    DurationString,
    FieldRef,
    ObjectMeta,
    TopLevelObject,
    WebMetricHeader,
    cel,
    parse_duration,
    rule_error,
    shown,
)
from rollouts.api.judge import JudgeMetric
from rollouts.api.measurement import AnalysisRunStatus
from rollouts.api.pod_template import pod_template_problems
from rollouts.api.templated import (
    ARG_PLACEHOLDER,
    NO_LIMIT,
    TEMPLATED_FIELDS,
    ArgTemplate,
    TemplatedDuration,
    TemplatedInt,
    TemplatedLimit,
)

__all__ = [
    "ARG_PLACEHOLDER",
    "TEMPLATED_FIELDS",
    "AnalysisRun",
    "AnalysisRunSpec",
    "AnalysisTemplate",
    "AnalysisTemplateSpec",
    "ArgTemplate",
    "Argument",
    "ClusterAnalysisTemplate",
    "DryRun",
    "JobMetadata",
    "JobMetric",
    "JudgeMetric",
    "MeasurementRetention",
    "Metric",
    "MetricProvider",
    "PrometheusMetric",
    "SecretKeyRef",
    "TemplateMetric",
    "TtlStrategy",
    "ValueFrom",
    "WebMetric",
    "WebMetricHeader",
]


_PLACEHOLDER_OK: Final = ' May be "{{args.NAME}}", filled in when the run starts.'
_PLACEHOLDER_IN_DURATION: Final = (
    ' May be "{{args.NAME}}" (a duration) or hold placeholders for its numbers ("{{args.minutes}}m"), '
    "filled in when the run starts."
)


class SecretKeyRef(ApiModel):
    """A key of a Secret in the AnalysisRun's namespace."""

    name: str = Field(min_length=1, description="Name of the Secret.")
    key: str = Field(min_length=1, description="Key within the Secret.")


class ValueFrom(ApiModel):
    """Where an argument's value comes from when it is not literal."""

    secret_key_ref: SecretKeyRef | None = Field(default=None, description="Read the value from a Secret.")
    field_ref: FieldRef | None = Field(default=None, description="Read the value from a Rollout field.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.secret_key_ref is None) == (self.field_ref is None):
            raise rule_error("set exactly one of secretKeyRef or fieldRef")
        return self


class Argument(ApiModel):
    """A named argument of a template, substituted into queries as {{args.<name>}}."""

    name: str = Field(min_length=1, description="Name of the argument.")
    value: str | None = Field(
        default=None, description="Value; when omitted here, the Rollout must supply it."
    )
    value_from: ValueFrom | None = Field(default=None, description="Take the value from a Secret or field.")

    @model_validator(mode="after")
    def _at_most_one(self) -> Self:
        if self.value is not None and self.value_from is not None:
            raise rule_error(f"argument {self.name!r}: set value or valueFrom, not both")
        return self


class PrometheusMetric(ApiModel):
    """Measure with a PromQL query."""

    UNSUPPORTED = frozenset({"authentication"})

    address: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Base URL of Prometheus, e.g. http://prometheus.monitoring:9090; may use {{args.<name>}}. "
            "When unset, the controller's --prometheus-address (or $PROMETHEUS_ADDRESS) is used."
        ),
    )
    query: str = Field(min_length=1, description="PromQL query; may use {{args.<name>}}.")
    timeout: int | None = Field(
        default=None, ge=1, description="Seconds before the query counts as an error."
    )
    headers: list[WebMetricHeader] | None = Field(default=None, description="Headers sent with the query.")
    insecure: bool | None = Field(
        default=None,
        description=(
            "Skip the TLS certificate check of an https address (a self-signed certificate). The "
            "query is still encrypted, but anyone on the path could answer it."
        ),
    )


class WebMetric(ApiModel):
    """Measure by calling an HTTP endpoint and reading a JSON value from the response."""

    UNSUPPORTED = frozenset({"authentication"})

    url: str = Field(min_length=1, description="URL to call; may use {{args.<name>}}.")
    method: Literal["GET", "POST", "PUT"] = Field(default="GET", description="HTTP method.")
    headers: list[WebMetricHeader] | None = Field(default=None, description="Headers sent with the request.")
    body: str | None = Field(
        default=None, description="Request body, for POST and PUT; may use {{args.<name>}}."
    )
    json_body: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Request body as a JSON object, for POST and PUT, sent with Content-Type application/json "
            "(unless a header sets it); its strings may use {{args.<name>}}. Not together with body."
        ),
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    insecure: bool | None = Field(
        default=None,
        description=(
            "Skip the TLS certificate check (an endpoint with a self-signed certificate). The call "
            "is still encrypted, but anyone on the path could answer it: prefer a trusted certificate."
        ),
    )
    json_path: str | None = Field(
        default=None, description="JSONPath of the value in the response, e.g. {$.data.ok}."
    )
    timeout_seconds: int = Field(default=10, ge=1, description="Seconds before the call counts as an error.")

    @model_validator(mode="after")
    def _body_needs_method(self) -> Self:
        if self.body is not None and self.json_body is not None:
            raise rule_error("set body or jsonBody, not both", at="jsonBody")
        for name, value in (("body", self.body), ("jsonBody", self.json_body)):
            if value is not None and self.method == "GET":
                raise rule_error(f"a {name} needs method POST or PUT", at=name)
        return self


class JobMetadata(ApiModel):
    """Labels and annotations added to the Job a measurement creates."""

    labels: dict[str, str] | None = Field(default=None, description="Labels added to the Job.")
    annotations: dict[str, str] | None = Field(default=None, description="Annotations added to the Job.")


_JOB_RESTART_POLICIES: Final = ("Never", "OnFailure")


class JobMetric(ApiModel):
    """Measure by running a Kubernetes Job (a smoke test, a load test): it passes when the Job
    completes and fails when the Job fails (its backoffLimit or activeDeadlineSeconds spent)."""

    metadata: JobMetadata | None = Field(default=None, description="Labels and annotations of the Job.")
    spec: dict[str, Any] = Field(
        description=(
            "The Job's spec (batch/v1 JobSpec), as in a Job manifest; its strings may use "
            "{{args.<name>}}. Set backoffLimit (the Kubernetes default retries a failing pod 6 times)."
        ),
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )

    @model_validator(mode="after")
    def _runnable(self) -> Self:
        template = self.spec.get("template")
        pod_spec = template.get("spec") if isinstance(template, dict) else None
        containers = pod_spec.get("containers") if isinstance(pod_spec, dict) else None
        containers = containers if isinstance(containers, list) else None
        if not isinstance(template, dict) or not isinstance(pod_spec, dict) or not containers:
            raise rule_error("spec.template.spec.containers must list at least one container", at="spec")
        policy = pod_spec.get("restartPolicy")
        if policy not in _JOB_RESTART_POLICIES:
            found = "is not set" if policy is None else f"is {shown(policy)}"
            raise rule_error(
                f"spec.template.spec.restartPolicy {found}; a Job's pods need Never or OnFailure "
                "(set restartPolicy: Never)",
                at="spec",
            )
        problems = pod_template_problems(template)
        if problems:
            raise rule_error("; ".join(f"spec.{problem}" for problem in problems), at="spec")
        for name in ("selector", "manualSelector"):
            if name in self.spec:
                raise rule_error(f"spec.{name} is set by Kubernetes for each Job; remove it", at="spec")
        return self


_ONE_PROVIDER = "set exactly one provider: prometheus, web, job or judge"


class MetricProvider(ApiModel):
    """Where a metric's value comes from; exactly one provider."""

    UNSUPPORTED = frozenset(
        {
            "kayenta",
            "datadog",
            "wavefront",
            "newRelic",
            "cloudWatch",
            "graphite",
            "influxdb",
            "skywalking",
            "plugin",
        }
    )
    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "[has(self.prometheus), has(self.web), has(self.job), has(self.judge)]"
                ".filter(x, x).size() == 1",
                _ONE_PROVIDER,
            )
        )
    )

    prometheus: PrometheusMetric | None = Field(default=None, description="Query Prometheus.")
    web: WebMetric | None = Field(default=None, description="Call an HTTP endpoint.")
    job: JobMetric | None = Field(default=None, description="Run a Kubernetes Job.")
    judge: JudgeMetric | None = Field(
        default=None,
        description="Compare the canary with a baseline in Prometheus, statistically (the canary judge).",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if [self.prometheus, self.web, self.job, self.judge].count(None) != 3:
            raise rule_error(_ONE_PROVIDER)
        return self


_JUDGE_DECIDES = (
    "a metric with provider.judge is decided by the judge (Pass, Fail or Inconclusive from its test); "
    "remove successCondition and failureCondition, and tune alpha, minEffect or minSamples instead"
)


class _MetricBase(ApiModel):
    """What a metric is, whatever the side: its name, how it is judged and where its value comes from."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!has(self.provider.judge) || (!has(self.successCondition) && !has(self.failureCondition))",
                _JUDGE_DECIDES,
            )
        )
    )

    name: str = Field(min_length=1, description="Name of the metric, unique in the template.")
    success_condition: str | None = Field(
        default=None, description="Expression over `result` that marks a measurement successful."
    )
    failure_condition: str | None = Field(
        default=None, description="Expression over `result` that marks a measurement failed."
    )
    provider: MetricProvider = Field(description="Where the value comes from.")

    @model_validator(mode="after")
    def _judge_decides(self) -> Self:
        if self.provider.judge is not None:
            for name, text in (
                ("successCondition", self.success_condition),
                ("failureCondition", self.failure_condition),
            ):
                if text is not None:
                    raise rule_error(_JUDGE_DECIDES, at=name)
        return self


def _count_needs_interval(count: int | None, interval: object) -> None:
    if count is not None and count > 1 and interval is None:
        raise rule_error(
            f"count is {count} but interval is not set; set an interval such as 1m", at="interval"
        )


_NO_LIMIT = " -1: no limit, failures never fail the metric (to wait on consecutiveSuccessLimit)."
_CONSECUTIVE_SUCCESS = (
    "Successful measurements in a row that make the metric Successful at once (0: off). If count"
    " runs out first the metric is Failed, or Inconclusive when failureLimit is also in use."
)


def _success_limit_within_count(limit: int, count: int | None) -> None:
    if count is not None and limit > count:
        raise rule_error(
            f"consecutiveSuccessLimit is {limit} but count is {count}, so it could never be reached; "
            "lower consecutiveSuccessLimit or raise count",
            at="consecutiveSuccessLimit",
        )


class Metric(_MetricBase):
    """One metric of a run: how to measure it, how often, how to judge it; every value resolved."""

    interval: DurationString | None = Field(
        default=None, description="Time between measurements, e.g. 1m; required when count > 1."
    )
    initial_delay: DurationString | None = Field(
        default=None, description="Wait this long before the first measurement, e.g. 30s."
    )
    count: int | None = Field(
        default=None, ge=0, description="Measurements to take; unset with an interval means until stopped."
    )
    failure_limit: int = Field(
        default=0,
        ge=NO_LIMIT,
        description="Failed measurements tolerated before the metric fails." + _NO_LIMIT,
    )
    inconclusive_limit: int = Field(
        default=0, ge=0, description="Inconclusive measurements tolerated before the metric is inconclusive."
    )
    consecutive_error_limit: int = Field(
        default=4, ge=0, description="Errors in a row tolerated before the metric errors."
    )
    consecutive_success_limit: int = Field(default=0, ge=0, description=_CONSECUTIVE_SUCCESS)

    @model_validator(mode="after")
    def _interval_for_count(self) -> Self:
        _count_needs_interval(self.count, self.interval)
        _success_limit_within_count(self.consecutive_success_limit, self.count)
        return self

    @property
    def interval_seconds(self) -> float | None:
        """The interval in seconds, or None when measured once."""
        return None if self.interval is None else parse_duration(self.interval).total_seconds()

    @property
    def initial_delay_seconds(self) -> float:
        """The initial delay in seconds (0 when unset)."""
        return 0.0 if self.initial_delay is None else parse_duration(self.initial_delay).total_seconds()


class TemplateMetric(_MetricBase):
    """One metric: how to measure it, how often, how to judge it; its counts and durations may be args."""

    interval: TemplatedDuration | None = Field(
        default=None,
        description="Time between measurements, e.g. 1m; required when count > 1." + _PLACEHOLDER_IN_DURATION,
    )
    initial_delay: TemplatedDuration | None = Field(
        default=None,
        description="Wait this long before the first measurement, e.g. 30s." + _PLACEHOLDER_IN_DURATION,
    )
    count: TemplatedInt | None = Field(
        default=None,
        description="Measurements to take; unset with an interval means until stopped." + _PLACEHOLDER_OK,
    )
    failure_limit: TemplatedLimit = Field(
        default=0,
        description="Failed measurements tolerated before the metric fails." + _NO_LIMIT + _PLACEHOLDER_OK,
    )
    inconclusive_limit: TemplatedInt = Field(
        default=0,
        description="Inconclusive measurements tolerated before the metric is inconclusive."
        + _PLACEHOLDER_OK,
    )
    consecutive_error_limit: TemplatedInt = Field(
        default=4, description="Errors in a row tolerated before the metric errors." + _PLACEHOLDER_OK
    )
    consecutive_success_limit: TemplatedInt = Field(
        default=0, description=_CONSECUTIVE_SUCCESS + _PLACEHOLDER_OK
    )

    @model_validator(mode="after")
    def _interval_for_count(self) -> Self:
        if not isinstance(self.count, ArgTemplate):  # a placeholder's value is checked when it is known
            _count_needs_interval(self.count, self.interval)
            if not isinstance(self.consecutive_success_limit, ArgTemplate):
                _success_limit_within_count(self.consecutive_success_limit, self.count)
        return self

    def placeholders(self) -> dict[str, ArgTemplate]:
        """The fields written with placeholders, by YAML name (``count``, ``initialDelay``, ...)."""
        found: dict[str, ArgTemplate] = {}
        for attribute, yaml_name in TEMPLATED_FIELDS.items():
            value = getattr(self, attribute)
            if isinstance(value, ArgTemplate):
                found[yaml_name] = value
        return found


class DryRun(ApiModel):
    """A metric measured and recorded but left out of the run's phase."""

    metric_name: str = Field(min_length=1, description="Name of the metric (a regular expression).")


class MeasurementRetention(ApiModel):
    """How many measurements of a metric to keep in the status."""

    metric_name: str = Field(min_length=1, description="Name of the metric (a regular expression).")
    limit: int = Field(ge=1, description="Measurements to keep.")


def _unique_names(metrics: Sequence[_MetricBase], args: Sequence[Argument] | None) -> None:
    for what, names in (("metrics", [m.name for m in metrics]), ("args", [a.name for a in args or []])):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise rule_error(f"{what} names must be unique; rename the repeated {duplicates}", at=what)
    _no_secret_in_jobs(metrics, args)


def _no_secret_in_jobs(metrics: Sequence[_MetricBase], args: Sequence[Argument] | None) -> None:
    """A Job keeps its spec in the API, readable by whoever can read Jobs: a Secret's value pasted
    into it would leak. The Job's container reads the Secret itself instead."""
    secret = {a.name for a in args or [] if a.value_from is not None and a.value_from.secret_key_ref}
    for index, metric in enumerate(metrics):
        job = metric.provider.job
        if job is None or not secret:
            continue
        used = sorted(set(ARG_PLACEHOLDER.findall(job.model_dump_json())) & secret)
        if used:
            raise rule_error(
                f"metric {metric.name!r} (metrics[{index}]) pastes the Secret-backed argument(s) "
                f"{used} into its Job, whose spec anyone who can read Jobs could read; give the "
                "container an env entry with valueFrom.secretKeyRef instead",
                at="metrics",
            )


class TtlStrategy(ApiModel):
    """How long a finished AnalysisRun is kept before it is deleted (as in Argo Rollouts)."""

    seconds_after_completion: int | None = Field(
        default=None, ge=0, description="Seconds to keep a finished run whose phase has no field of its own."
    )
    seconds_after_failure: int | None = Field(
        default=None, ge=0, description="Seconds to keep a Failed or Error run (else secondsAfterCompletion)."
    )
    seconds_after_success: int | None = Field(
        default=None, ge=0, description="Seconds to keep a Successful run (else secondsAfterCompletion)."
    )


class _SpecBase(ApiModel):
    """What a template's spec and a run's spec share besides their metrics."""

    args: list[Argument] | None = Field(default=None, description="Arguments the metrics use.")
    dry_run: list[DryRun] | None = Field(default=None, description="Metrics that run in dry-run mode.")
    measurement_retention: list[MeasurementRetention] | None = Field(
        default=None, description="Measurement retention per metric."
    )
    ttl_strategy: TtlStrategy | None = Field(
        default=None,
        description=(
            "Delete the run this long after it finished. A run a Rollout still reads is deleted"
            " only once the Rollout's status holds its verdict. Unset: kept (within the Rollout's"
            " run history limits)."
        ),
    )


class AnalysisTemplateSpec(_SpecBase):
    """The metrics of a template and the arguments they take."""

    metrics: list[TemplateMetric] = Field(min_length=1, max_length=100, description="Metrics to measure.")

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        _unique_names(self.metrics, self.args)
        return self


class AnalysisRunSpec(_SpecBase):
    """The metrics of one run, with its arguments resolved."""

    metrics: list[Metric] = Field(min_length=1, max_length=100, description="Metrics to measure.")
    terminate: bool = Field(default=False, description="Stop the run; set by the controller or a user.")

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        _unique_names(self.metrics, self.args)
        return self


class AnalysisTemplate(TopLevelObject):
    """Reusable metrics a Rollout runs as an AnalysisRun, in the Rollout's namespace."""

    api_version: Literal["rollouts.dev/v1alpha1"] = Field(
        default=GROUP_VERSION, description="rollouts.dev/v1alpha1"
    )
    kind: Literal["AnalysisTemplate"] = Field(default="AnalysisTemplate", description="AnalysisTemplate")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: AnalysisTemplateSpec = Field(description="The metrics and their arguments.")


class ClusterAnalysisTemplate(TopLevelObject):
    """An AnalysisTemplate usable from every namespace (referenced with clusterScope: true)."""

    api_version: Literal["rollouts.dev/v1alpha1"] = Field(
        default=GROUP_VERSION, description="rollouts.dev/v1alpha1"
    )
    kind: Literal["ClusterAnalysisTemplate"] = Field(
        default="ClusterAnalysisTemplate", description="ClusterAnalysisTemplate"
    )
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: AnalysisTemplateSpec = Field(description="The metrics and their arguments.")


class AnalysisRun(TopLevelObject):
    """One execution of analysis templates for a Rollout, with its measurements in the status."""

    api_version: Literal["rollouts.dev/v1alpha1"] = Field(
        default=GROUP_VERSION, description="rollouts.dev/v1alpha1"
    )
    kind: Literal["AnalysisRun"] = Field(default="AnalysisRun", description="AnalysisRun")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: AnalysisRunSpec = Field(description="The metrics and their resolved arguments.")
    status: AnalysisRunStatus | None = Field(
        default=None, description="Observed state, written by the controller."
    )
