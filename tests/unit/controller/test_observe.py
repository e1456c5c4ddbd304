"""Cached objects to the engine's view: what a pass may and may not believe about a ReplicaSet."""

from __future__ import annotations

from rollouts.controller.caches import references_of
from rollouts.controller.observe import observed_pod, observed_replica_set


def replica_set(*, generation: int, observed: int, available: int) -> dict[str, object]:
    return {
        "metadata": {
            "name": "web-abc",
            "generation": generation,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"rollouts-pod-template-hash": "abc"},
            "annotations": {
                "rollouts.dev/revision": "3",
                "rollouts.dev/scale-down-deadline": "2026-01-01T00:01:00Z",
            },
        },
        "spec": {"replicas": 4},
        "status": {
            "observedGeneration": observed,
            "replicas": 4,
            "readyReplicas": available,
            "availableReplicas": available,
        },
    }


def test_a_current_status_is_read_as_is() -> None:
    view = observed_replica_set(replica_set(generation=2, observed=2, available=4))
    assert view is not None and view.fully_available and view.revision == 3
    assert view.scale_down_at is not None and view.created.year == 2026


def test_a_status_older_than_the_spec_counts_no_pod_available() -> None:
    # Just scaled from 1 to 4: the old status still says 4 available of... the old size.
    view = observed_replica_set(replica_set(generation=3, observed=2, available=4))
    assert view is not None and view.available == 0 and not view.fully_available


def test_objects_without_the_hash_label_are_not_revisions() -> None:
    assert observed_replica_set({"metadata": {"name": "x", "labels": {}}}) is None
    assert observed_pod({"metadata": {"name": "p", "labels": {}}}) is None


def test_references_name_services_and_router_objects() -> None:
    rollout = {
        "spec": {
            "strategy": {
                "canary": {
                    "canaryService": "c",
                    "stableService": "s",
                    "trafficRouting": {
                        "nginx": {"stableIngress": "web"},
                        "istio": {"virtualService": {"name": "vs"}, "destinationRule": {"name": "dr"}},
                    },
                }
            }
        }
    }
    assert references_of(rollout) == {
        ("Service", "c"),
        ("Service", "s"),
        ("Ingress", "web"),
        ("VirtualService", "vs"),
        ("DestinationRule", "dr"),
    }
