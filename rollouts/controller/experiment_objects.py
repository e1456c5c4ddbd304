"""The objects an Experiment creates for a template: its ReplicaSet and, if asked, its Service.

Built from the Experiment exactly as the API server holds it (its pod template copied verbatim),
owned by it (``controller: true``), so deleting the Experiment deletes them, and labelled with the
template's name (``rollouts.dev/experiment-template``) so the controller reads them back by name.
The ReplicaSet's selector is the template's plus the pod-template hash, so two templates with the
same labels, or a Rollout's ReplicaSet, never select each other's pods; the Service selects the
same. A template that asks for a Service must declare container ports (the model checks it). The
``trafficService`` selects the pods of several templates by their traffic label instead.
"""

from __future__ import annotations

import copy
from typing import Any

from rollouts.api.experiment import ExperimentSpec, ExperimentTemplate
from rollouts.api.ownership import owner_reference
from rollouts.engine.experiment import (
    EXPERIMENT_TEMPLATE_LABEL,
    EXPERIMENT_TRAFFIC_LABEL,
    CreateTemplateReplicaSet,
    CreateTemplateService,
    template_pod_template,
    traffic_service_of,
)
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.kube import KubeObject, meta

__all__ = ["MANAGED_BY", "template_replica_set", "template_service", "traffic_service"]

MANAGED_BY = {"rollouts.dev/managed-by": "kube-rollouts"}


def _owner(experiment: KubeObject) -> dict[str, Any]:
    m = meta(experiment)
    return owner_reference("Experiment", name=str(m["name"]), uid=str(m["uid"]))


def _selector(template: ExperimentTemplate, pod_hash: str) -> dict[str, Any]:
    selector = template.selector.model_dump(by_alias=True, exclude_none=True, mode="json")
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH_LABEL: pod_hash}
    return selector


def template_replica_set(
    experiment: KubeObject,
    spec: ExperimentSpec,
    template: ExperimentTemplate,
    action: CreateTemplateReplicaSet,
) -> KubeObject:
    """The ReplicaSet ``action`` asks for."""
    m = meta(experiment)
    pods = template_pod_template(str(m["name"]), template, traffic=traffic_service_of(spec, template.name))
    pods["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = action.pod_template_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": action.name,
            "namespace": m["namespace"],
            "labels": dict(pods["metadata"]["labels"]),
            "annotations": dict(MANAGED_BY),
            "ownerReferences": [_owner(experiment)],
        },
        "spec": {
            "replicas": action.replicas,
            "minReadySeconds": template.min_ready_seconds,
            "selector": _selector(template, action.pod_template_hash),
            "template": pods,
        },
    }


def template_service(
    experiment: KubeObject, template: ExperimentTemplate, action: CreateTemplateService
) -> KubeObject:
    """The Service ``action`` asks for: the template's container ports, its pods only."""
    m = meta(experiment)
    selector = _selector(template, action.pod_template_hash)
    ports = []
    for container in (template.template.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            entry = {
                "port": port["containerPort"],
                "targetPort": port["containerPort"],
                "protocol": port.get("protocol", "TCP"),
            }
            if port.get("name"):
                entry["name"] = port["name"]
            ports.append(entry)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": action.name,
            "namespace": m["namespace"],
            "labels": {EXPERIMENT_TEMPLATE_LABEL: template.name},
            "annotations": dict(MANAGED_BY),
            "ownerReferences": [_owner(experiment)],
        },
        "spec": {"selector": copy.deepcopy(selector["matchLabels"]), "ports": ports},
    }


def traffic_service(experiment: KubeObject, spec: ExperimentSpec) -> KubeObject:
    """The ``trafficService``: the listed templates' pods, by their traffic label."""
    traffic = spec.traffic_service
    assert traffic is not None
    m = meta(experiment)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": traffic.name,
            "namespace": m["namespace"],
            "annotations": dict(MANAGED_BY),
            "ownerReferences": [_owner(experiment)],
        },
        "spec": {"selector": {EXPERIMENT_TRAFFIC_LABEL: traffic.name}, "ports": copy.deepcopy(traffic.ports)},
    }
