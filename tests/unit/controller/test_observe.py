"""Cached objects to the engine's view: what a pass may and may not believe about a ReplicaSet."""

from __future__ import annotations

from rollouts.api import Rollout, parse_rollout
from rollouts.controller.observe import observed_pod, observed_replica_set
from rollouts.traffic import declared_kinds, references_of


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


def _rollout(routing: dict[str, object], **canary: object) -> Rollout:
    return parse_rollout(
        {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "apps", "uid": "u1"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                },
                "strategy": {
                    "canary": {
                        "canaryService": "c",
                        "stableService": "s",
                        "trafficRouting": routing,
                        **canary,
                    }
                },
            },
        }
    )


def _named(rollout: Rollout) -> set[tuple[str, str]]:
    return {(ref.kind.kind, ref.name) for ref in references_of(rollout)}


def test_references_name_services_and_router_objects() -> None:
    nginx = _rollout({"nginx": {"stableIngress": "web"}})
    assert _named(nginx) == {
        ("Service", "c"),
        ("Service", "s"),
        ("Ingress", "web"),
        ("Ingress", "web-web-canary"),
    }
    istio = _rollout({"istio": {"virtualService": {"name": "vs"}, "destinationRule": {
        "name": "dr", "canarySubsetName": "canary", "stableSubsetName": "stable"}}})  # fmt: skip
    assert _named(istio) == {
        ("Service", "c"),
        ("Service", "s"),
        ("VirtualService", "vs"),
        ("DestinationRule", "dr"),
    }


def test_references_name_analysis_templates_of_every_analysis_block() -> None:
    rollout = _rollout(
        {"nginx": {"stableIngress": "web"}},
        steps=[{"analysis": {"templates": [{"templateName": "rate"}]}}],
        analysis={"templates": [{"templateName": "latency", "clusterScope": True}]},
    )
    refs = {(ref.kind.kind, ref.name): ref for ref in references_of(rollout)}
    assert (
        refs[("AnalysisTemplate", "rate")].path
        == "spec.strategy.canary.steps[0].analysis.templates[0].templateName"
    )
    assert refs[("ClusterAnalysisTemplate", "latency")].kind.cluster_scoped


def test_every_kind_a_rollout_can_name_is_watched() -> None:
    """The caches watch what the declarations name: no reference of a kind nobody watches."""
    watched = {kind.key for kind in declared_kinds()}
    for rollout in (
        _rollout({"nginx": {"stableIngress": "web"}}, analysis={"templates": [{"templateName": "t"}]}),
        _rollout({"istio": {"virtualService": {"name": "vs"}}}),
    ):
        assert {ref.kind.key for ref in references_of(rollout)} <= watched
