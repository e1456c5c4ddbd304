"""The controller's view of a workloadRef Deployment."""

from __future__ import annotations

from typing import Any

from rollouts.controller.workloads import WORKLOAD_REPLICAS_ANNOTATION, observed_workload


def _deployment(*, generation: int, observed: int, available: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "generation": generation,
            "annotations": {WORKLOAD_REPLICAS_ANNOTATION: "4"},
        },
        "spec": {"replicas": 4},
        "status": {"observedGeneration": observed, "availableReplicas": available},
    }


def test_available_pods_count_from_a_status_written_for_the_current_spec() -> None:
    seen = observed_workload(_deployment(generation=5, observed=5, available=4))
    assert seen is not None and (seen.replicas, seen.available, seen.original) == (4, 4, 4)


def test_a_status_older_than_the_scale_up_counts_no_pod() -> None:
    """Deleting the Rollout scales the Deployment back up; until the Deployment controller has
    seen that, its status may still say 4 available from a moment before."""
    seen = observed_workload(_deployment(generation=6, observed=5, available=4))
    assert seen is not None and seen.available == 0
