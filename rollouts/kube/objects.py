"""Small helpers for the dict objects the API server returns: names, labels, owners, appliers."""

from __future__ import annotations

from typing import Any

from rollouts.kube.client import KubeObject

__all__ = ["appliers_of", "controller_of", "is_owned_by", "meta", "owner_reference", "pod_ready"]


def meta(obj: KubeObject) -> dict[str, Any]:
    """``metadata`` of an object (an empty dict when absent)."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def pod_ready(pod: KubeObject) -> bool:
    """The pod's Ready condition is True (it takes traffic unless it is being deleted)."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def owner_reference(owner: KubeObject, *, controller: bool = True) -> dict[str, Any]:
    """An ownerReference to ``owner``: garbage-collected with it, and (``controller``) adopted by it."""
    m = meta(owner)
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": m["name"],
        "uid": m["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: KubeObject) -> dict[str, Any] | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def is_owned_by(obj: KubeObject, owner: KubeObject) -> bool:
    """True when ``obj`` has an ownerReference to ``owner`` (same uid)."""
    uid = meta(owner).get("uid")
    return any(ref.get("uid") == uid for ref in meta(obj).get("ownerReferences") or [])


def appliers_of(obj: KubeObject, *path: str) -> tuple[str, ...]:
    """The server-side apply managers that own the field at ``path`` (``"spec", "selector"``).

    Read from ``metadata.managedFields``. Only ``Apply`` entries count: those are the managers
    whose next apply of their manifest conflicts with, or (forced) overwrites, a change someone
    else made to that field. ``Update`` owners (a client-side ``kubectl apply``, a patch) merge.
    """
    managers: set[str] = set()
    for entry in meta(obj).get("managedFields") or []:
        if not isinstance(entry, dict) or entry.get("operation") != "Apply":
            continue
        fields: Any = entry.get("fieldsV1") or {}
        for key in path:
            fields = fields.get(f"f:{key}") if isinstance(fields, dict) else None
        if fields is not None:
            managers.add(str(entry.get("manager") or "(unnamed)"))
    return tuple(sorted(managers))
