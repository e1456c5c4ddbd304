"""Failures of a pass, by who must act: the user (fix the manifest or a named object) or nobody (retry)."""

from __future__ import annotations

__all__ = ["HashCollision", "UserError"]


class UserError(Exception):
    """Something the user must fix; the message names the object, the field and the fix.

    The pass writes it into the Rollout's status as an ``InvalidSpec`` condition (as Argo Rollouts
    does for a missing Service or Ingress) and records a Warning Event with ``reason``.
    """

    def __init__(self, message: str, *, reason: str = "InvalidSpec") -> None:
        super().__init__(message)
        self.reason = reason


class HashCollision(Exception):
    """A ReplicaSet named for the desired revision exists but is not that revision's: bump collisionCount."""

    def __init__(self, name: str) -> None:
        super().__init__(f"ReplicaSet {name} exists with another pod template; bumping status.collisionCount")
        self.name = name
