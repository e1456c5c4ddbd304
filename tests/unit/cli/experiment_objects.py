"""An Experiment a Rollout's experiment step started, and what it owns, as the API server returns them."""

from __future__ import annotations

from typing import Any

ROLLOUT_UID = "uid-rollout"
EXPERIMENT_UID = "uid-experiment"
NAME = "web-6f9c7d-1-1"


def _owned(kind: str, name: str, uid: str) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "rollouts.dev/v1alpha1", "kind": kind, "name": name, "uid": uid, "controller": True}
    ]


def experiment(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": {
            "name": NAME,
            "namespace": "shop",
            "uid": EXPERIMENT_UID,
            "creationTimestamp": "2024-05-01T11:55:00Z",
            "labels": {
                "rollouts-pod-template-hash": "6f9c7d",
                "rollouts.dev/step-index": "1",
                "rollouts.dev/rollout": "web",
            },
            "ownerReferences": _owned("Rollout", "web", ROLLOUT_UID),
        },
        "spec": {
            "duration": "10m",
            "templates": [
                {"name": "baseline", "replicas": 1, "selector": {}, "template": {}},
                {"name": "canary", "replicas": 2, "selector": {}, "template": {}, "service": {}},
            ],
            "analyses": [
                {"name": "judge", "templateName": "judge", "requiredForCompletion": True},
                {"name": "smoke", "templateName": "smoke"},
            ],
        },
        "status": {
            "phase": "Running",
            "message": "running until 2024-05-01T12:06:00Z",
            "availableAt": "2024-05-01T11:56:00Z",
            "templateStatuses": [
                {"name": "baseline", "status": "Running", "availableReplicas": 1, "podTemplateHash": "b1",
                 "replicaSetName": f"{NAME}-baseline"},
                {"name": "canary", "status": "Running", "availableReplicas": 2, "podTemplateHash": "c2",
                 "replicaSetName": f"{NAME}-canary", "serviceName": f"{NAME}-canary"},
            ],
            "analysisRuns": [
                {"name": "judge", "analysisRun": f"{NAME}-judge", "phase": "Running"},
            ],
            **status,
        },
    }  # fmt: skip


def replica_set(template: str, pod_hash: str, *, replicas: int, available: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{NAME}-{template}",
            "namespace": "shop",
            "uid": f"uid-rs-{template}",
            "creationTimestamp": "2024-05-01T11:55:01Z",
            "labels": {"rollouts.dev/experiment-template": template, "rollouts-pod-template-hash": pod_hash},
            "ownerReferences": _owned("Experiment", NAME, EXPERIMENT_UID),
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "availableReplicas": available},
    }


def pod(template: str, pod_hash: str, suffix: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{NAME}-{template}-{suffix}",
            "creationTimestamp": "2024-05-01T11:55:02Z",
            "labels": {"rollouts.dev/experiment-template": template, "rollouts-pod-template-hash": pod_hash},
            "ownerReferences": [{"kind": "ReplicaSet", "uid": f"uid-rs-{template}", "controller": True}],
        },
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Running", "containerStatuses": [{"ready": True}]},
    }


def analysis_run(analysis: str, phase: str, **counts: int) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": f"{NAME}-{analysis}",
            "creationTimestamp": "2024-05-01T11:56:00Z",
            "labels": {"rollouts.dev/experiment-analysis": analysis},
            "ownerReferences": _owned("Experiment", NAME, EXPERIMENT_UID),
        },
        "status": {"phase": phase, "metricResults": [{"name": "m", **counts}]},
    }
