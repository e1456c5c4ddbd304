"""Facts about a Rollout and what it owns, read from the objects exactly as the API server returns them.

``get``, ``list`` and ``status`` show the same things (phase, step, weights, images, pod counts),
so they read them here, once. The inputs are plain dicts, not API models: the plugin must show a
Rollout whatever state it is in, including one an older or newer controller wrote, so a missing
or unexpected field reads as "unknown" instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollouts.api import parse_timestamp
from rollouts.engine.analysis_runs import (
    ANALYSIS_KIND_LABEL,
    EXPERIMENT_ANALYSIS_LABEL,
    ROLLOUT_LABEL,
    STEP_INDEX_LABEL,
)
from rollouts.engine.experiment import EXPERIMENT_TEMPLATE_LABEL
from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL

__all__ = [
    "ANALYSIS_KIND_LABEL",
    "EXPERIMENT_ANALYSIS_LABEL",
    "EXPERIMENT_TEMPLATE_LABEL",
    "POD_TEMPLATE_HASH_LABEL",
    "REVISION_ANNOTATION",
    "ROLLOUT_LABEL",
    "STEP_INDEX_LABEL",
    "ExperimentObjects",
    "RolloutFacts",
    "RolloutObjects",
    "created",
    "dig",
    "images_of",
    "labels_of",
    "parse_time",
    "phase_of",
    "revision_of",
]

REVISION_ANNOTATION = "rollouts.dev/revision"


def dig(obj: Any, *path: str | int) -> Any:
    """``obj[path[0]][path[1]]...``, or ``None`` as soon as a step is missing."""
    for key in path:
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and -len(obj) <= key < len(obj) else None
        else:
            obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from an object's dict; ``None`` when absent, not a string or bad."""
    return parse_timestamp(value) if isinstance(value, str) else None


def created(obj: Mapping[str, Any]) -> datetime | None:
    return parse_time(dig(obj, "metadata", "creationTimestamp"))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = dig(obj, "metadata", "labels")
    return dict(labels) if isinstance(labels, Mapping) else {}


def revision_of(replica_set: Mapping[str, Any]) -> int:
    return _int(dig(replica_set, "metadata", "annotations", REVISION_ANNOTATION))


def images_of(template: Any) -> list[str]:
    """The images of a pod template's containers, in order."""
    containers = dig(template, "spec", "containers")
    return [str(c.get("image")) for c in containers or [] if isinstance(c, Mapping) and c.get("image")]


def phase_of(rollout: Mapping[str, Any]) -> str:
    """The Rollout's phase; ``Progressing`` while the controller has not seen the latest spec."""
    phase = dig(rollout, "status", "phase")
    observed = dig(rollout, "status", "observedGeneration")
    generation = dig(rollout, "metadata", "generation")
    if not phase:
        return "Progressing"
    if observed is not None and generation is not None and _int(observed) < _int(generation):
        return "Progressing"
    return str(phase)


@dataclass(frozen=True, kw_only=True)
class ExperimentObjects:
    """An Experiment and the objects it owns (its templates' ReplicaSets and their pods, its
    AnalysisRuns), as read in one go."""

    experiment: dict[str, Any]
    replica_sets: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    analysis_runs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RolloutObjects:
    """A Rollout and the objects it owns, as read in one go (``experiments``: those its
    experiment steps started, each with what it owns)."""

    rollout: dict[str, Any]
    replica_sets: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    analysis_runs: list[dict[str, Any]] = field(default_factory=list)
    experiments: list[ExperimentObjects] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RolloutFacts:
    """What the header of ``get``, a row of ``list`` and ``status`` say about one Rollout."""

    name: str
    namespace: str
    phase: str
    message: str
    strategy: str
    step: str
    set_weight: str
    actual_weight: str
    ping_pong: str
    routes: str
    experiment: tuple[str, str] | None
    """The current step's Experiment and its phase as the Rollout last read them, while the
    current step is an experiment step."""
    stable_images: list[str]
    canary_images: list[str]
    desired: int
    current: int
    updated: int
    ready: int
    available: int

    @classmethod
    def of(cls, rollout: Mapping[str, Any], replica_sets: list[dict[str, Any]] | None = None) -> RolloutFacts:
        spec, status = rollout.get("spec") or {}, rollout.get("status") or {}
        canary = dig(spec, "strategy", "canary")
        steps = dig(canary, "steps") or []
        index = dig(status, "currentStepIndex")
        step, set_weight, actual = "-", "-", "-"
        if isinstance(canary, Mapping):
            if steps and index is not None:
                step = f"{_int(index)}/{len(steps)}"
            total = _int(dig(canary, "trafficRouting", "maxTrafficWeight") or 100)
            of = "" if total == 100 else f"/{total}"
            set_weight = f"{_set_weight(steps, index, total)}{of}"
            actual = _actual_weight(status, canary, replica_sets or [], of=of)
        stable_hash, current_hash = status.get("stableRS"), status.get("currentPodHash")
        by_hash = {labels_of(rs).get(POD_TEMPLATE_HASH_LABEL): rs for rs in replica_sets or []}
        stable_images = images_of(dig(by_hash.get(stable_hash), "spec", "template"))
        # With spec.workloadRef the template is the Deployment's: the current ReplicaSet holds it.
        template = spec.get("template") or dig(by_hash.get(current_hash), "spec", "template")
        canary_images: list[str] = []
        if current_hash and current_hash != stable_hash:
            canary_images = images_of(template)
        elif not stable_images:
            stable_images = images_of(template)
        return cls(
            name=str(dig(rollout, "metadata", "name") or ""),
            namespace=str(dig(rollout, "metadata", "namespace") or ""),
            phase=phase_of(rollout),
            message=str(status.get("message") or ""),
            strategy="BlueGreen" if dig(spec, "strategy", "blueGreen") is not None else "Canary",
            step=step,
            set_weight=set_weight,
            actual_weight=actual,
            ping_pong=_ping_pong(canary, status),
            routes=_routes(canary, status, steps),
            experiment=_experiment(status, steps),
            stable_images=stable_images,
            canary_images=canary_images,
            desired=_int(spec.get("replicas", 1)),
            current=_int(status.get("replicas")),
            updated=_int(status.get("updatedReplicas")),
            ready=_int(status.get("readyReplicas")),
            available=_int(status.get("availableReplicas")),
        )


def _ping_pong(canary: Any, status: Mapping[str, Any]) -> str:
    """``web-pong (pong) is stable, web-ping (ping) takes the canary`` for a pingPong canary; "" otherwise."""
    services = dig(canary, "pingPong")
    if not isinstance(services, Mapping):
        return ""
    stable = dig(status, "canary", "stablePingPong") or "ping"
    other = "pong" if stable == "ping" else "ping"
    return (
        f"{services.get(stable + 'Service')} ({stable}) is stable, "
        f"{services.get(other + 'Service')} ({other}) takes the canary"
    )


def _routes(canary: Any, status: Mapping[str, Any], steps: list[Any]) -> str:
    """The header and mirror routes the steps have set so far (``beta (header), copy (mirror)``),
    ``none`` between them, "" for a canary without ``managedRoutes``. The controller writes them
    once the canary is ready, so in the cluster they may still be on their way."""
    names = [dig(r, "name") for r in dig(canary, "trafficRouting", "managedRoutes") or []]
    if not names:
        return ""
    index = dig(status, "currentStepIndex")
    if index is None or _int(index) >= len(steps) or dig(status, "abort"):
        return "none"
    kinds: dict[str, str | None] = {}
    for step in steps[: _int(index) + 1]:
        for key, kind in (("setHeaderRoute", "header"), ("setMirrorRoute", "mirror")):
            route = dig(step, key)
            if isinstance(route, Mapping):
                kinds[str(route.get("name"))] = kind if route.get("match") else None
    held = [f"{name} ({kinds[name]})" for name in names if kinds.get(name)]
    return ", ".join(held) or "none"


def _experiment(status: Mapping[str, Any], steps: list[Any]) -> tuple[str, str] | None:
    """(name, phase) of ``status.canary.currentExperiment`` while at an experiment step."""
    index = dig(status, "currentStepIndex")
    step = dig(steps, _int(index)) if index is not None else None
    current = dig(status, "canary", "currentExperiment")
    if dig(step, "experiment") is None or not isinstance(current, Mapping) or not current.get("name"):
        return None
    return str(current["name"]), str(current.get("status") or "Pending")


def _set_weight(steps: list[Any], index: Any, total: int) -> int:
    """The weight the steps ask for at ``index``: the last setWeight at or before it (``total``,
    100 unless ``maxTrafficWeight`` says otherwise, when done)."""
    if index is None or _int(index) >= len(steps):
        return total
    weight = 0
    for step in steps[: _int(index) + 1]:
        if isinstance(step, Mapping) and step.get("setWeight") is not None:
            weight = _int(step["setWeight"])
    return weight


def _actual_weight(
    status: Mapping[str, Any], canary: Mapping[str, Any], replica_sets: list[dict[str, Any]], *, of: str
) -> str:
    """The canary's share of traffic now: the router's verified weight (``of`` names a
    ``maxTrafficWeight`` other than 100: ``/1000``), or the pod ratio without a router."""
    weight = dig(status, "canary", "weights", "canary", "weight")
    if canary.get("trafficRouting") is not None:
        if weight is None:
            return f"0{of}"
        verified = dig(status, "canary", "weights", "verified")
        return f"{_int(weight)}{of}" + ("" if verified is not False else " (not yet verified)")
    current, stable = status.get("currentPodHash"), status.get("stableRS")
    if not current or current == stable:
        return "100"
    available = {
        labels_of(rs).get(POD_TEMPLATE_HASH_LABEL): _int(dig(rs, "status", "availableReplicas"))
        for rs in replica_sets
    }
    total = sum(available.values())
    return str(round(100 * available.get(current, 0) / total)) if total else "0"
