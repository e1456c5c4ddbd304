"""Small helpers for the dict objects the API server returns: names, labels, owners."""

from __future__ import annotations

from typing import Any

from rollouts.kube.client import KubeObject

__all__ = ["controller_of", "is_owned_by", "meta", "owner_reference"]


def meta(obj: KubeObject) -> dict[str, Any]:
    """``metadata`` of an object (an empty dict when absent)."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


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
