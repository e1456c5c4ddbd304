"""Cached objects to the engine's view: what a pass may and may not believe about a ReplicaSet."""

from __future__ import annotations

from rollouts.api import Rollout, parse_rollout
from rollouts.controller.caches import _trim_keeping_appliers
from rollouts.controller.observe import observed_pod, observed_replica_set, shared_field
from rollouts.engine.references import SERVICE
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
    # The spec changed (say 4 -> 2 -> 4) and the status still speaks of an older spec.
    view = observed_replica_set(replica_set(generation=3, observed=2, available=4))
    assert view is not None and view.available == 0 and not view.fully_available


def test_after_a_scale_up_the_pods_a_stale_status_counted_still_serve() -> None:
    # Scaled from 1 to 4: the status of the 1-pod spec still counts that pod, which keeps serving
    # (a canary growing for its next step keeps its weight); 1 of 4 is not fully available.
    rs = replica_set(generation=3, observed=2, available=1)
    rs["status"] = {**rs["status"], "replicas": 1}  # type: ignore[dict-item]
    view = observed_replica_set(rs)
    assert view is not None and view.available == 1 and view.ready == 1 and not view.fully_available


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


def _service(*entries: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"name": "web", "managedFields": list(entries)}, "spec": {"selector": {"app": "web"}}}


def _entry(manager: str, operation: str, spec: dict[str, object]) -> dict[str, object]:
    return {
        "manager": manager,
        "operation": operation,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": spec},
    }


def test_a_service_selector_other_server_side_appliers_own_is_shared() -> None:
    service = _service(
        _entry("kustomize-controller", "Apply", {"f:selector": {}, "f:ports": {}}),
        _entry("kube-rollouts", "Apply", {"f:selector": {}}),  # ours
        _entry("kubectl-client-side-apply", "Update", {"f:selector": {}}),  # patches key by key
        _entry("argocd-controller", "Apply", {"f:ports": {}}),  # applies the Service, not its selector
    )
    shared = shared_field(SERVICE, service)
    assert shared is not None and shared.appliers == ("kustomize-controller",) and shared.name == "web"
    assert shared.field.path == "spec.selector"


def test_a_service_without_managed_fields_shares_nothing() -> None:
    assert shared_field(SERVICE, {"metadata": {"name": "web"}}) is None


def test_the_cache_keeps_only_who_applies_the_written_field() -> None:
    service = _service(
        _entry("kustomize-controller", "Apply", {"f:selector": {}, "f:ports": {"k:{...}": {}}}),
        _entry("kubectl-client-side-apply", "Update", {"f:selector": {}, "f:type": {}}),
    )
    trim = _trim_keeping_appliers(SERVICE)
    trimmed = trim(service)
    assert trimmed["metadata"]["managedFields"] == [
        {"manager": "kustomize-controller", "operation": "Apply", "fieldsV1": {"f:spec": {"f:selector": {}}}}
    ]
    shared = shared_field(SERVICE, trimmed)
    assert shared is not None and shared.appliers == ("kustomize-controller",)
    assert "managedFields" not in trim(_service())["metadata"]
