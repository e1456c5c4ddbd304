"""The canary judge metric (``provider.judge``): the same PromQL for canary and baseline, compared.

A judge metric queries one expression twice over a window, once for the canary's pods and once for
the baseline's, and lets the Mann-Whitney test in ``rollouts.engine.judge_stats`` decide Pass, Fail
or Inconclusive. Its fields are what that test needs; the API layer cannot import the engine, so the
defaults are written here again and a unit test keeps them equal to the engine's ``DEFAULT_*``.

Why the judge refuses ``successCondition``/``failureCondition`` (see ``analysis._MetricBase``): its
verdict is the decision; a condition over the p-value would be a second, weaker judge that users
would have to keep consistent with ``alpha``.

Why ``direction`` has no default: an error rate gets worse upwards, a success rate or throughput
downwards. A default would judge half the metrics users write in the wrong direction, and a canary
whose success rate dropped would pass silently.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from rollouts.api.common import ApiModel, DurationString, WebMetricHeader, cel, parse_duration, rule_error

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_EFFECT",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_STEP",
    "DEFAULT_WINDOW",
    "DIRECTIONS",
    "MAX_POINTS",
    "JudgeMetric",
]

DEFAULT_ALPHA: Final = 0.05
DEFAULT_MIN_SAMPLES: Final = 10
DEFAULT_MIN_EFFECT: Final = 0.0
DEFAULT_WINDOW: Final = "5m"
DEFAULT_STEP: Final = "30s"
"""5m at 30s: 11 points per series, just above the default minSamples of 10 for one aggregated series."""

DIRECTIONS: Final = ("HigherIsWorse", "LowerIsWorse")

MAX_POINTS: Final = 11_000
"""Prometheus refuses a range query of more points per series ("exceeded maximum resolution")."""

_QUERY = (
    "; may use {{args.<name>}}. A range query over the window: every value of every series it returns "
    "(one per step; per pod, if the query keeps a pod label) is one sample."
)


class JudgeMetric(ApiModel):
    """Judge the canary against a baseline: the same metric queried for both over a window and
    compared with a one-sided Mann-Whitney U test. Pass, Fail or Inconclusive (too few samples)."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "duration(self.window) > duration(self.step)",
                "window must be longer than step (one sample per series per step)",
            )
        )
    )

    address: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Base URL of Prometheus, e.g. http://prometheus.monitoring:9090; may use {{args.<name>}}. "
            "When unset, the controller's --prometheus-address (or $PROMETHEUS_ADDRESS) is used."
        ),
    )
    canary_query: str = Field(min_length=1, description="PromQL of the canary's metric" + _QUERY)
    baseline_query: str = Field(
        min_length=1,
        description="The same PromQL for the baseline (or stable) pods" + _QUERY,
    )
    window: DurationString = Field(
        default=DEFAULT_WINDOW, description="The range queried, ending at the measurement, e.g. 5m."
    )
    step: DurationString = Field(
        default=DEFAULT_STEP,
        description="Resolution of the range query, e.g. 30s: one sample per series per step.",
    )
    direction: Literal["HigherIsWorse", "LowerIsWorse"] = Field(
        description=(
            "Which way the metric gets worse: HigherIsWorse (error rate, latency) or LowerIsWorse "
            "(success rate, throughput). No default: the wrong one would pass a regression."
        ),
    )
    min_samples: int = Field(
        default=DEFAULT_MIN_SAMPLES,
        ge=1,
        description="Samples each side needs; fewer is Inconclusive, never Pass.",
    )
    alpha: float = Field(
        default=DEFAULT_ALPHA,
        gt=0.0,
        le=0.5,
        allow_inf_nan=False,
        description=(
            "Significance level: the canary fails when the one-sided p-value is below it. It is the "
            "chance that a canary no worse than its baseline fails one measurement."
        ),
    )
    min_effect: float = Field(
        default=DEFAULT_MIN_EFFECT,
        ge=0.0,
        allow_inf_nan=False,
        description=(
            "How much worse the canary's median must be to fail, in the metric's own unit (0.005 for "
            "an error rate as a fraction: half a percentage point). 0: any significant shift fails."
        ),
    )
    timeout: int | None = Field(
        default=None, ge=1, description="Seconds each of the two queries may take before it is an error."
    )
    headers: list[WebMetricHeader] | None = Field(default=None, description="Headers sent with the queries.")
    insecure: bool | None = Field(
        default=None,
        description=(
            "Skip the TLS certificate check of an https address (a self-signed certificate). The "
            "queries are still encrypted, but anyone on the path could answer them."
        ),
    )

    @model_validator(mode="after")
    def _window_holds_steps(self) -> Self:
        window, step = self.window_span, self.step_span
        if step <= timedelta(0):
            raise rule_error("step must be longer than 0; write one such as 30s", at="step")
        if window <= step:
            raise rule_error(
                f"window ({self.window}) must be longer than step ({self.step}), which gives one sample "
                "per series per step; lengthen the window or shorten the step",
                at="window",
            )
        points = window / step
        if points > MAX_POINTS:
            raise rule_error(
                f"window {self.window} at step {self.step} asks for {points:.0f} points per series, more "
                f"than Prometheus answers ({MAX_POINTS}); lengthen the step",
                at="step",
            )
        return self

    @property
    def window_span(self) -> timedelta:
        """The window as a timedelta."""
        return parse_duration(self.window)

    @property
    def step_span(self) -> timedelta:
        """The step as a timedelta."""
        return parse_duration(self.step)
