"""Who owns an object: the ownerReference a router puts on what it creates, and the check before writing.

A router only ever writes an object it created itself, recognised by a *controller* ownerReference
carrying the Rollout's uid. The uid, not the name, decides: a Rollout deleted and re-created under the
same name is a different owner, and the garbage collector has (or will have) removed the old objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollouts.api import API_GROUP, Rollout, rollout_owner_reference

__all__ = ["describe_owner", "is_controlled_by", "owner_reference"]


def owner_reference(rollout: Rollout) -> dict[str, Any]:
    """The controller ownerReference to ``rollout`` (needs ``metadata.uid``; ``ValueError`` without)."""
    return rollout_owner_reference(rollout)


def _controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((ref for ref in refs if ref.get("controller")), None)


def is_controlled_by(obj: Mapping[str, Any], rollout: Rollout) -> bool:
    """True when ``obj``'s controller ownerReference is this very Rollout (same uid)."""
    ref = _controller_ref(obj)
    return (
        ref is not None
        and ref.get("kind") == "Rollout"
        and str(ref.get("apiVersion", "")).partition("/")[0] == API_GROUP  # any version of our API
        and ref.get("uid") == rollout.metadata.uid
    )


def describe_owner(obj: Mapping[str, Any]) -> str:
    """Who controls ``obj``, for an error message: ``Rollout other (uid ...)``, or that nobody does."""
    ref = _controller_ref(obj)
    if ref is None:
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        if refs:
            names = ", ".join(f"{r.get('kind')} {r.get('name')}" for r in refs)
            return f"no controller (owners without controller=true: {names})"
        return "no controller (no ownerReferences: created by hand or by another tool)"
    return f"{ref.get('kind')} {ref.get('name')} (uid {ref.get('uid')})"
