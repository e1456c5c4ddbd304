"""Hand-written object dicts, shaped as the API server returns them, for the simulator's unit tests."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def replica_set(name: str, *, owner: str | None = None, pod_hash: str = "") -> Obj:
    meta: Obj = {"name": name, "labels": {"rollouts-pod-template-hash": pod_hash} if pod_hash else {}}
    if owner:
        meta["ownerReferences"] = [{"kind": "Rollout", "name": owner, "controller": True}]
    return {"metadata": meta}


def pod(
    name: str,
    *,
    labels: dict[str, str],
    image: str,
    ready: bool = True,
    replica_set: str | None = None,
    deleting: bool = False,
) -> Obj:
    meta: Obj = {"name": name, "labels": labels}
    if replica_set:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": replica_set, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def pods(app: str, pod_hash: str, *, image: str, ready: int, not_ready: int = 0, **labels: str) -> list[Obj]:
    """`ready` + `not_ready` pods of one revision, owned by ReplicaSet `<app>-<hash>`."""
    all_labels = {"app": app, "rollouts-pod-template-hash": pod_hash, **labels}
    return [
        pod(
            f"{app}-{pod_hash}-{i}",
            labels=all_labels,
            image=image,
            ready=i < ready,
            replica_set=f"{app}-{pod_hash}",
        )
        for i in range(ready + not_ready)
    ]


def service(name: str, **selector: str) -> Obj:
    return {"metadata": {"name": name}, "spec": {"selector": selector, "ports": [{"port": 80}]}}


def ingress(
    name: str, *, service_name: str, host: str = "web.example.com", path: str = "/", **notes: str
) -> Obj:
    return {
        "metadata": {"name": name, "annotations": notes},
        "spec": {
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": path,
                                "backend": {"service": {"name": service_name, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }


def canary_ingress(
    name: str, *, service_name: str, weight: int | str, prefix: str = "nginx.ingress.kubernetes.io"
) -> Obj:
    return ingress(
        name,
        service_name=service_name,
        **{f"{prefix}/canary": "true", f"{prefix}/canary-weight": str(weight)},
    )


def virtual_service(name: str, *routes: list[Obj]) -> Obj:
    return {"metadata": {"name": name}, "spec": {"http": [{"route": r} for r in routes]}}


def destination_rule(name: str, *, host: str, **subsets: dict[str, str]) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"host": host, "subsets": [{"name": n, "labels": ls} for n, ls in subsets.items()]},
    }


def header_canary_ingress(
    name: str, *, service_name: str, weight: int = 0, prefix: str = "nginx.ingress.kubernetes.io", **by: str
) -> Obj:
    """A canary Ingress with `canary-by-<key>` annotations: `header="x-beta", header_value="yes"`
    becomes `<prefix>/canary-by-header: x-beta`, `<prefix>/canary-by-header-value: yes`."""
    notes = {f"{prefix}/canary-by-{key.replace('_', '-')}": value for key, value in by.items()}
    return ingress(
        name,
        service_name=service_name,
        **{f"{prefix}/canary": "true", f"{prefix}/canary-weight": str(weight), **notes},
    )


def http_virtual_service(name: str, *http: Obj) -> Obj:
    """A VirtualService with these `spec.http` routes as they are (names, matches, mirrors)."""
    return {"metadata": {"name": name}, "spec": {"http": list(http)}}
