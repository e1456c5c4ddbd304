"""What a scenario does and reads through the API, as a user (or ``kubectl rollouts``) would.

Manifests are built as dicts and applied with the real kubectl; reads go through kubectl too.
Steering uses the same fields the plugin will write: ``spec.paused``, ``status.pauseConditions``
(cleared = promote), ``status.promoteFull``, ``status.abort`` (cleared = retry).
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

from tests.support import Kubectl, eventually, kubectl_json

HASH = "rollouts-pod-template-hash"


def service(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def gitops_service(name: str) -> dict[str, Any]:
    """A Service in the GitOps form: ports only; ``spec.selector`` is the controller's alone."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}]},
    }


def rollout(
    name: str, *, strategy: dict[str, Any], replicas: int = 4, image: str = "v1", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"example.com/{name}:{image}"}]},
            },
            "strategy": strategy,
            **spec,
        },
    }


def apply(kubectl: Kubectl, *objects: dict[str, Any]) -> None:
    kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    )


def get_rollout(kubectl: Kubectl, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kubectl_json(kubectl, "get", "rollout.rollouts.dev", name)
    return result


def status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    return get_rollout(kubectl, name).get("status") or {}


def set_image(kubectl: Kubectl, name: str, image: str) -> None:
    container = {"name": "app", "image": f"example.com/{name}:{image}"}
    patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
    kubectl("patch", "rollout.rollouts.dev", name, "--type=merge", "-p", json.dumps(patch))


def patch_status(kubectl: Kubectl, name: str, status_patch: dict[str, Any]) -> None:
    kubectl(
        "patch",
        "rollout.rollouts.dev",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status_patch}),
    )


def promote(kubectl: Kubectl, name: str) -> None:
    patch_status(kubectl, name, {"pauseConditions": None})


def promote_full(kubectl: Kubectl, name: str) -> None:
    patch_status(kubectl, name, {"promoteFull": True})


def abort(kubectl: Kubectl, name: str) -> None:
    patch_status(kubectl, name, {"abort": True})


def retry(kubectl: Kubectl, name: str) -> None:
    patch_status(kubectl, name, {"abort": False})


def replica_sets(kubectl: Kubectl, name: str) -> dict[str, dict[str, int]]:
    """hash -> {replicas, ready, available} of the Rollout's ReplicaSets."""
    found: dict[str, dict[str, int]] = {}
    for rs in kubectl_json(kubectl, "get", "replicasets", "-l", f"app={name}")["items"]:
        owners = [ref for ref in rs["metadata"].get("ownerReferences") or [] if ref.get("kind") == "Rollout"]
        if not owners or owners[0]["name"] != name:
            continue
        st = rs.get("status") or {}
        found[rs["metadata"]["labels"][HASH]] = {
            "replicas": rs["spec"]["replicas"],
            "ready": st.get("readyReplicas", 0),
            "available": st.get("availableReplicas", 0),
        }
    return found


def sizes(kubectl: Kubectl, name: str) -> dict[str, int]:
    return {h: rs["replicas"] for h, rs in replica_sets(kubectl, name).items()}


def selector_hash(kubectl: Kubectl, service_name: str) -> str | None:
    svc = kubectl_json(kubectl, "get", "service", service_name)
    value: str | None = (svc["spec"].get("selector") or {}).get(HASH)
    return value


def events(kubectl: Kubectl, name: str) -> list[tuple[str, str]]:
    """(reason, message) of the Rollout's Events, oldest first."""
    items = kubectl_json(
        kubectl,
        "get",
        "events",
        "--field-selector",
        f"involvedObject.kind=Rollout,involvedObject.name={name}",
    )["items"]
    items.sort(key=lambda e: e.get("eventTime") or e.get("firstTimestamp") or "")
    return [(e.get("reason", ""), e.get("message", "")) for e in items]


def steps_completed(kubectl: Kubectl, name: str) -> list[str]:
    """``Step N/M`` of every step the Rollout's Events say completed, in order (one Event tells
    all the steps a pass completed)."""
    return [
        step
        for reason, message in events(kubectl, name)
        if reason == "RolloutStepCompleted"
        for step in re.findall(r"Step \d+/\d+", message)
    ]


def weights_told(kubectl: Kubectl, name: str) -> list[str]:
    """Every ``Canary weight set to ...`` the Rollout's Events tell (a step's or a promotion's
    Event tells the weight it moved to; other moves have their own TrafficWeightUpdated)."""
    return [
        w
        for _, message in events(kubectl, name)
        for w in re.findall(r"Canary weight set to [^;]*?\(stable [^)]*\)", message)
    ]


def condition(st: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in st.get("conditions") or [] if c.get("type") == kind), {})


def wait_status(kubectl: Kubectl, name: str, what: str, check: Any, timeout: float = 40) -> dict[str, Any]:
    """Poll the Rollout's status until ``check(status)`` is truthy; fail showing the last status."""

    def probe() -> dict[str, Any] | None:
        st = status(kubectl, name)
        return st if check(st) else None

    result: dict[str, Any] = eventually(probe, timeout=timeout, what=f"Rollout {name} {what}")
    return result


def wait_healthy(
    kubectl: Kubectl, name: str, pod_hash: str | None = None, timeout: float = 40
) -> dict[str, Any]:
    return wait_status(
        kubectl,
        name,
        f"Healthy at {pod_hash or 'its current revision'}",
        lambda st: (
            st.get("phase") == "Healthy"
            and (pod_hash is None or st.get("stableRS") == pod_hash)
            and st.get("stableRS") == st.get("currentPodHash")
        ),
        timeout,
    )


class TrafficWatch(threading.Thread):
    """Samples the ReplicaSets of Rollout ``name``, then the Services, then the ReplicaSets again,
    every 0.2 s, and records any Service selecting a revision with no available pod in both
    ReplicaSet reads (traffic sent to pods that are not ready).

    Two reads are not one snapshot, so one ReplicaSet read cannot judge a Service read: read
    before it, a revision that became available just before the Service switched to it looks
    unavailable (a cold CI run, the machine loaded, caught that false violation); read after it,
    an old revision scaled down just after the Service left it does. A revision unavailable both
    before and after the Service read was unavailable while the Service selected it. A read that
    fails (the API server down) is counted, not fatal.
    """

    def __init__(self, kubectl: Kubectl, name: str = "web") -> None:
        super().__init__(daemon=True)
        self.kubectl = kubectl
        self.name = name
        self.violations: list[str] = []
        self.samples = 0
        self.failed_reads = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                before = replica_sets(self.kubectl, self.name)
                services = kubectl_json(self.kubectl, "get", "services")["items"]
                after = replica_sets(self.kubectl, self.name)
            except AssertionError:  # kubectl failed
                self.failed_reads += 1
                time.sleep(0.2)
                continue
            for svc in services:
                selected = (svc["spec"].get("selector") or {}).get(HASH)
                unavailable = [
                    rs[selected] for rs in (before, after) if rs.get(selected, {}).get("available") == 0
                ]
                if selected and len(unavailable) == 2:
                    self.violations.append(f"{svc['metadata']['name']} -> {selected} with {unavailable[1]}")
            self.samples += 1
            time.sleep(0.2)
