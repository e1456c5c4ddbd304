"""What an AnalysisRun has observed: measurements, per-metric results, and the run's status.

A measurement is a value, not an exception (DESIGN.md section 6): a provider that cannot measure
returns a Measurement in phase Error whose message says why and shows the query.
"""

from __future__ import annotations

from pydantic import Field

from rollouts.api.common import ApiModel, Timestamp
from rollouts.api.enums import AnalysisPhase

__all__ = ["AnalysisRunStatus", "Measurement", "MetricResult", "RunSummary"]


class Measurement(ApiModel):
    """One measurement of a metric."""

    phase: AnalysisPhase = Field(description="Result of this measurement.")
    message: str | None = Field(default=None, description="Why the measurement errored, with the query.")
    started_at: Timestamp | None = Field(default=None, description="When the measurement started.")
    finished_at: Timestamp | None = Field(default=None, description="When the measurement finished.")
    value: str | None = Field(default=None, description="The measured value, as text (e.g. [0.97]).")
    metadata: dict[str, str] | None = Field(
        default=None, description="Provider details, e.g. the resolved query."
    )
    resume_at: Timestamp | None = Field(
        default=None, description="When to check again on a measurement still in progress."
    )


class MetricResult(ApiModel):
    """The measurements of one metric and the counts its phase is judged from."""

    name: str = Field(description="Name of the metric.")
    phase: AnalysisPhase = Field(description="Phase of the metric, from its counts and limits.")
    measurements: list[Measurement] | None = Field(
        default=None, description="Most recent measurements (capped by measurementRetention)."
    )
    message: str | None = Field(default=None, description="Why the metric is in its phase.")
    count: int = Field(default=0, ge=0, description="Measurements taken.")
    successful: int = Field(default=0, ge=0, description="Measurements that met successCondition.")
    failed: int = Field(default=0, ge=0, description="Measurements that met failureCondition.")
    inconclusive: int = Field(default=0, ge=0, description="Measurements neither successful nor failed.")
    error: int = Field(default=0, ge=0, description="Measurements that could not be taken.")
    consecutive_error: int = Field(default=0, ge=0, description="Errors in a row since the last good one.")
    consecutive_success: int = Field(
        default=0, ge=0, description="Successful measurements in a row (for consecutiveSuccessLimit)."
    )
    dry_run: bool | None = Field(
        default=None, description="The metric is in dry-run: recorded but not counted in the run's phase."
    )
    metadata: dict[str, str] | None = Field(default=None, description="Provider details for the metric.")


class RunSummary(ApiModel):
    """How many metrics ended in each phase."""

    count: int = Field(default=0, ge=0, description="Metrics in the run.")
    successful: int = Field(default=0, ge=0, description="Successful metrics.")
    failed: int = Field(default=0, ge=0, description="Failed metrics.")
    inconclusive: int = Field(default=0, ge=0, description="Inconclusive metrics.")
    error: int = Field(default=0, ge=0, description="Errored metrics.")


class AnalysisRunStatus(ApiModel):
    """Observed state of an AnalysisRun, written by the controller."""

    phase: AnalysisPhase = Field(
        default=AnalysisPhase.PENDING, description="Phase of the run (worst metric)."
    )
    message: str | None = Field(default=None, description="Why the run is in its phase.")
    started_at: Timestamp | None = Field(default=None, description="When the run started.")
    completed_at: Timestamp | None = Field(
        default=None, description="When the run reached its final phase (ttlStrategy counts from it)."
    )
    metric_results: list[MetricResult] | None = Field(default=None, description="Result of each metric.")
    run_summary: RunSummary | None = Field(default=None, description="Counts of metrics by phase.")
    dry_run_summary: RunSummary | None = Field(
        default=None, description="Counts of dry-run metrics by phase."
    )
