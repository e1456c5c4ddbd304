"""What each steering verb changes on a Rollout, as patches: pure functions of the Rollout object.

The controller reads people's requests from two places, and every verb writes exactly one of them:

* ``spec.paused`` (``pause``/``resume``; a promote also lifts it), ``spec.restartAt``
  (``restart``), ``spec.template`` (``set image``, ``undo``): the spec, because these are changes
  a GitOps repository may want to hold too;
* the **status subresource** for the requests that steer the delivery in progress, so they leave
  no drift in the spec a GitOps tool compares: ``pauseConditions`` cleared (promote past a pause
  or an inconclusive analysis), ``currentStepIndex`` + 1 (promote past a step that is not a
  pause), ``promoteFull: true`` (promote --full), ``abort: true`` with ``abortedAt`` (abort),
  ``abort: false`` keeping ``abortedAt`` (retry: the engine tells a retry from "never aborted" by
  ``abortedAt`` being set while ``abort`` is not).

Each function returns a :class:`Steer` (patches in the order to apply, and the line to print) or
raises :class:`CliError` when the request makes no sense for the Rollout's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from rollouts.cli.errors import CliError
from rollouts.cli.facts import dig

__all__ = ["Patch", "Steer", "abort", "pause", "promote", "restart", "resume", "retry", "rfc3339"]


@dataclass(frozen=True, kw_only=True)
class Patch:
    """One PATCH request: its body, its type, and whether it goes to the status subresource."""

    body: Any
    status: bool = False
    type: Literal["merge", "json"] = "merge"


@dataclass(frozen=True, kw_only=True)
class Steer:
    """What a verb does: the patches, in order, and the one line it prints."""

    patches: tuple[Patch, ...]
    message: str


def rfc3339(moment: datetime) -> str:
    """``2024-05-01T12:00:00Z``: the time format Kubernetes fields use (whole seconds, UTC)."""
    if moment.tzinfo is None:
        raise ValueError("rfc3339 needs a timezone-aware time")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name(rollout: dict[str, Any]) -> str:
    return str(dig(rollout, "metadata", "name"))


def _updating(rollout: dict[str, Any]) -> bool:
    """An update is under way: the desired revision is not (yet) the stable one."""
    status = rollout.get("status") or {}
    current, stable = status.get("currentPodHash"), status.get("stableRS")
    return bool(current) and current != stable


def promote(rollout: dict[str, Any], *, full: bool = False) -> Steer:
    """Promote past the current pause (or step), or with ``full`` past every step and analysis."""
    name, status = _name(rollout), rollout.get("status") or {}
    paused_by_user = bool(dig(rollout, "spec", "paused"))
    unpause = (Patch(body={"spec": {"paused": False}}),) if paused_by_user else ()
    if full:
        if not _updating(rollout):
            raise CliError(
                f"rollout {name} is not updating (its current revision is stable); nothing to promote"
            )
        return Steer(
            patches=(Patch(body={"status": {"promoteFull": True}}, status=True), *unpause),
            message=f"rollout '{name}' fully promoted",
        )
    if status.get("pauseConditions"):
        clear = Patch(body={"status": {"pauseConditions": None}}, status=True)
        return Steer(patches=(clear, *unpause), message=f"rollout '{name}' promoted")
    steps = dig(rollout, "spec", "strategy", "canary", "steps") or []
    index = status.get("currentStepIndex")
    if _updating(rollout) and steps and isinstance(index, int) and index < len(steps):
        skip = Patch(body={"status": {"currentStepIndex": index + 1}}, status=True)
        return Steer(patches=(skip, *unpause), message=f"rollout '{name}' promoted (step {index} skipped)")
    if unpause:
        return Steer(patches=unpause, message=f"rollout '{name}' promoted (spec.paused cleared)")
    raise CliError(
        f"rollout {name} is not paused and has no step left to skip; nothing to promote "
        f"(use --full to skip analysis and pauses of an update in progress)"
    )


def abort(rollout: dict[str, Any], *, now: datetime) -> Steer:
    """Abort the update in progress: all traffic back to stable, phase Degraded until retry."""
    name = _name(rollout)
    if not _updating(rollout):
        raise CliError(
            f"rollout {name} has no update in progress (its current revision is the stable one); "
            "nothing to abort"
        )
    if dig(rollout, "status", "abort"):
        return Steer(patches=(), message=f"rollout '{name}' is already aborted")
    body = {"status": {"abort": True, "abortedAt": rfc3339(now)}}
    return Steer(patches=(Patch(body=body, status=True),), message=f"rollout '{name}' aborted")


def retry(rollout: dict[str, Any], *, now: datetime) -> Steer:
    """Retry an aborted update from its first step (with fresh analysis runs)."""
    name, status = _name(rollout), rollout.get("status") or {}
    if not status.get("abort"):
        raise CliError(f"rollout {name} is not aborted; retry only restarts an aborted update")
    aborted_at = status.get("abortedAt") or rfc3339(now)
    body = {"status": {"abort": False, "abortedAt": aborted_at}}
    return Steer(patches=(Patch(body=body, status=True),), message=f"rollout '{name}' retried")


def pause(rollout: dict[str, Any]) -> Steer:
    name = _name(rollout)
    if dig(rollout, "spec", "paused"):
        return Steer(patches=(), message=f"rollout '{name}' is already paused")
    return Steer(patches=(Patch(body={"spec": {"paused": True}}),), message=f"rollout '{name}' paused")


def resume(rollout: dict[str, Any]) -> Steer:
    """Lift ``spec.paused``; a pause step is not skipped (that is what ``promote`` does)."""
    name = _name(rollout)
    if not dig(rollout, "spec", "paused"):
        waiting = dig(rollout, "status", "pauseConditions")
        hint = (
            f"; it waits at a pause step: `kubectl rollouts promote {name}` continues it" if waiting else ""
        )
        return Steer(patches=(), message=f"rollout '{name}' is not paused (spec.paused is false){hint}")
    return Steer(patches=(Patch(body={"spec": {"paused": False}}),), message=f"rollout '{name}' resumed")


def restart(rollout: dict[str, Any], *, at: datetime) -> Steer:
    """Restart every pod (a few at a time) once ``at`` has passed, through ``spec.restartAt``."""
    name = _name(rollout)
    when = rfc3339(at)
    return Steer(
        patches=(Patch(body={"spec": {"restartAt": when}}),),
        message=f"rollout '{name}' restarts its pods from {when}",
    )
