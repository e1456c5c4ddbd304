"""What answers behind a Service: its ready pods, grouped into revisions.

The simulator sees the cluster as plain object dicts (as `kubectl get -o json` prints them), one
`NamespaceObjects` per watched namespace. This module turns a Service (optionally narrowed by the labels
of an Istio subset) into the revisions that would receive its traffic: only Ready, non-terminating pods
count, as only they are in the Service's endpoints; traffic is spread over them evenly, so a revision's
share is its number of ready pods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from e2e.simulator.profiles import Profile, profile_for

Obj = dict[str, Any]

ROLLOUTS_HASH_LABEL = "rollouts-pod-template-hash"
DEPLOYMENT_HASH_LABEL = "pod-template-hash"


@dataclass(frozen=True)
class NamespaceObjects:
    """Everything the simulator reads from one namespace, as the API server returned it."""

    namespace: str
    services: tuple[Obj, ...] = ()
    pods: tuple[Obj, ...] = ()
    replica_sets: tuple[Obj, ...] = ()
    ingresses: tuple[Obj, ...] = ()
    virtual_services: tuple[Obj, ...] = ()
    destination_rules: tuple[Obj, ...] = ()
    _services_by_name: dict[str, Obj] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_services_by_name", {name_of(s): s for s in self.services})

    def service(self, name: str) -> Obj | None:
        return self._services_by_name.get(name)


@dataclass(frozen=True)
class Revision:
    """One version of a workload behind a Service, and how many of its pods are ready to serve."""

    workload: str
    pod_template_hash: str
    version: str
    profile: Profile
    ready_pods: int


def name_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def labels_of(obj: Obj) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def is_ready(pod: Obj) -> bool:
    """Ready and not being deleted: what puts a pod into a Service's endpoints."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _controller(obj: Obj) -> Obj | None:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


def _pod_hash(pod: Obj) -> str:
    labels = labels_of(pod)
    return labels.get(ROLLOUTS_HASH_LABEL) or labels.get(DEPLOYMENT_HASH_LABEL) or ""


def workload_of(pod: Obj, replica_sets: Mapping[str, Obj]) -> str:
    """The workload a pod belongs to, as a mesh names it: the owner of its ReplicaSet (the Rollout or
    Deployment), else the ReplicaSet's name without its trailing `-<pod-template-hash>`."""
    owner = _controller(pod)
    if owner is None:
        return name_of(pod)
    if owner.get("kind") != "ReplicaSet":
        return str(owner.get("name", ""))
    rs_name = str(owner.get("name", ""))
    rs = replica_sets.get(rs_name)
    rs_owner = _controller(rs) if rs is not None else None
    if rs_owner is not None:
        return str(rs_owner.get("name", ""))
    suffix = f"-{_pod_hash(pod)}"
    return rs_name[: -len(suffix)] if suffix != "-" and rs_name.endswith(suffix) else rs_name


def _images(pod: Obj) -> tuple[str, ...]:
    containers = pod.get("spec", {}).get("containers") or []
    return tuple(str(c.get("image", "")) for c in containers)


def revisions_behind(
    objects: NamespaceObjects, *, service: str, subset_labels: Mapping[str, str] | None = None
) -> tuple[Revision, ...]:
    """The revisions serving `service` (and the subset's labels, if given), each with its ready pods.

    Empty when the Service does not exist, selects nothing (no selector), or no selected pod is ready:
    a request sent there gets the proxy's 503.
    """
    svc = objects.service(service)
    selector = dict((svc or {}).get("spec", {}).get("selector") or {})
    if not selector:
        return ()
    wanted = {**selector, **(subset_labels or {})}
    replica_sets = {name_of(rs): rs for rs in objects.replica_sets}
    counts: Counter[tuple[str, str, str, Profile]] = Counter()
    for pod in objects.pods:
        labels = labels_of(pod)
        if not is_ready(pod) or any(labels.get(k) != v for k, v in wanted.items()):
            continue
        key = (
            workload_of(pod, replica_sets),
            _pod_hash(pod),
            labels.get("version", "unknown"),
            profile_for(_images(pod)),
        )
        counts[key] += 1
    return tuple(
        Revision(workload=w, pod_template_hash=h, version=v, profile=p, ready_pods=n)
        for (w, h, v, p), n in sorted(counts.items(), key=lambda item: item[0][:3])
    )
