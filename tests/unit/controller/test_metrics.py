"""/metrics in the Prometheus text format."""

from __future__ import annotations

from rollouts.controller.metrics import ControllerMetrics


def test_render_counts_passes_errors_durations_and_phases() -> None:
    metrics = ControllerMetrics(phases=lambda: {"Healthy": 2, "Paused": 1})
    metrics.observe_reconcile(seconds=0.02, outcome="ok")
    metrics.observe_reconcile(seconds=3.0, outcome="error")
    metrics.observe_error("Conflict")
    lines = dict(line.rsplit(" ", 1) for line in metrics.render().splitlines() if not line.startswith("#"))
    assert lines['kube_rollouts_reconciles_total{outcome="ok"}'] == "1"
    assert lines['kube_rollouts_reconcile_errors_total{kind="Conflict"}'] == "1"
    assert lines['kube_rollouts_reconcile_duration_seconds_bucket{le="0.025"}'] == "1"
    assert lines['kube_rollouts_reconcile_duration_seconds_bucket{le="5.0"}'] == "2"
    assert lines['kube_rollouts_reconcile_duration_seconds_bucket{le="+Inf"}'] == "2"
    assert lines['kube_rollouts_rollouts{phase="Paused"}'] == "1"
    assert lines['kube_rollouts_rollouts{phase="Degraded"}'] == "0"


def test_api_requests_are_counted_by_verb_and_kind() -> None:
    metrics = ControllerMetrics(api_requests=lambda: {"PUT Rollout/status": 3, "POST Event": 5})
    lines = dict(line.rsplit(" ", 1) for line in metrics.render().splitlines() if not line.startswith("#"))
    assert lines['kube_rollouts_api_requests_total{kind="Rollout/status",verb="PUT"}'] == "3"
    assert lines['kube_rollouts_api_requests_total{kind="Event",verb="POST"}'] == "5"


def test_the_event_backlog_is_a_gauge() -> None:
    metrics = ControllerMetrics(events_queued=lambda: 7)
    lines = dict(line.rsplit(" ", 1) for line in metrics.render().splitlines() if not line.startswith("#"))
    assert lines["kube_rollouts_events_queued"] == "7"
