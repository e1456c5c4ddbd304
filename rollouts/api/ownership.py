"""The ownerReference every object the controller creates carries to its Rollout.

One definition for every creator (AnalysisRuns, a router's canary Ingress, ...), so garbage
collection and the ownership checks before a write read the same reference everywhere: the
Rollout's group/version and kind, its name and uid, ``controller: true`` (the Rollout adopts the
object) and ``blockOwnerDeletion: true`` (foreground deletion waits for it).
"""

from __future__ import annotations

from typing import Any

from rollouts.api.common import GROUP_VERSION
from rollouts.api.rollout import Rollout

__all__ = ["owner_reference", "rollout_owner_reference"]


def rollout_owner_reference(rollout: Rollout) -> dict[str, Any]:
    """The controller ownerReference to ``rollout``, as a dict ready for ``metadata.ownerReferences``.

    Raises ``ValueError`` when ``metadata.uid`` or ``metadata.name`` is missing: only the Rollout
    as the API server returns it has a uid, and a reference without one is rejected by the server
    (or, worse, points at nothing the garbage collector knows).
    """
    name, uid = rollout.metadata.name, rollout.metadata.uid
    if not uid or not name:
        missing = "metadata.uid" if name else "metadata.name and metadata.uid"
        raise ValueError(
            f"Rollout {name or '(unnamed)'!r} has no {missing}; an ownerReference to it needs the "
            "Rollout as read from the API server, not as written in a manifest"
        )
    return owner_reference("Rollout", name=name, uid=uid)


def owner_reference(kind: str, *, name: str, uid: str) -> dict[str, Any]:
    """The controller ownerReference to our object of ``kind`` (Rollout, Experiment)."""
    return {
        "apiVersion": GROUP_VERSION,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
