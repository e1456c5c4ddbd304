"""What the demo reads of the namespace, and the lines it prints when something really changed.

One `kubectl get` per poll reads the Rollout, its ReplicaSets, the Ingresses, the Services and the
AnalysisRuns; `State.read` turns that list into the handful of facts the demo talks about:
- the Rollout's phase and message, its step, its stable and current pod-template hashes;
- the canary weight as written in the canary Ingress (what NGINX would route), not as the status says;
- the hash the stable Service selects;
- ready pods per ReplicaSet;
- each AnalysisRun's phase and every measurement it recorded, with the measured value.

`changes(before, after)` says in words what differs between two reads; the demo prints exactly those
lines, so the terminal shows one line per real change and nothing that was not read from the cluster.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from rollouts.engine.hashing import POD_TEMPLATE_HASH_LABEL

CANARY_ANNOTATION_SUFFIX = "/canary"
WEIGHT_ANNOTATION_SUFFIX = "/canary-weight"


@dataclass(frozen=True)
class Measured:
    """One measurement of one metric of an AnalysisRun."""

    metric: str
    number: int
    phase: str
    value: str
    message: str
    finished_at: str

    def text(self, *, why: bool = True) -> str:
        shown = self.value or "(no value)"
        reason = f": {one_line(self.message)}" if why and self.message and self.phase != "Successful" else ""
        return f"{self.metric} #{self.number} = {shown} -> {self.phase}{reason}"


@dataclass(frozen=True)
class Run:
    """An AnalysisRun as the demo shows it."""

    name: str
    pod_hash: str
    phase: str
    message: str
    measurements: tuple[Measured, ...]


@dataclass(frozen=True)
class State:
    """The facts of one read of the demo namespace."""

    phase: str
    message: str
    step_index: int | None
    steps: tuple[str, ...]
    aborted: bool
    stable_hash: str
    current_hash: str
    image: str
    canary_ingress: str
    canary_weight: int | None
    stable_service: str
    stable_selector: str
    ready_pods: tuple[tuple[str, int, int], ...]
    unschedulable: tuple[str, ...]
    runs: tuple[Run, ...]

    @classmethod
    def read(cls, items: list[dict[str, Any]], *, rollout: str) -> State:
        """The facts of the objects `kubectl get ... -o json` listed (the Rollout must be among them)."""
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            by_kind.setdefault(str(item.get("kind")), []).append(item)
        found = [r for r in by_kind.get("Rollout", []) if r["metadata"]["name"] == rollout]
        if not found:
            raise LookupError(f"Rollout {rollout} not found")
        spec = found[0].get("spec") or {}
        status: dict[str, Any] = found[0].get("status") or {}
        canary = (spec.get("strategy") or {}).get("canary") or {}
        stable_service = str(canary.get("stableService") or "")
        ingress, weight = _canary_weight(by_kind.get("Ingress", []))
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
        return cls(
            phase=str(status.get("phase") or "-"),
            message=str(status.get("message") or ""),
            step_index=status.get("currentStepIndex"),
            steps=tuple(describe_step(step) for step in canary.get("steps") or []),
            aborted=bool(status.get("abort")),
            stable_hash=str(status.get("stableRS") or ""),
            current_hash=str(status.get("currentPodHash") or ""),
            image=str(containers[0].get("image") or ""),
            canary_ingress=ingress,
            canary_weight=weight,
            stable_service=stable_service,
            stable_selector=_selected_hash(by_kind.get("Service", []), stable_service),
            ready_pods=_ready_pods(by_kind.get("ReplicaSet", [])),
            unschedulable=_unschedulable(by_kind.get("Pod", [])),
            runs=tuple(_run(item) for item in _by_creation(by_kind.get("AnalysisRun", []))),
        )

    def step_text(self) -> str:
        if self.step_index is None:
            return "-"
        if self.step_index >= len(self.steps):
            return f"{self.step_index}/{len(self.steps)} (all steps done)"
        return f"{self.step_index}/{len(self.steps)} ({self.steps[self.step_index]})"

    def weight_text(self) -> str:
        if self.canary_weight is None:
            return "no canary Ingress yet: all traffic on the stable Ingress"
        return f"canary Ingress {self.canary_ingress}: canary-weight {self.canary_weight}"

    def run_for(self, pod_hash: str) -> Run | None:
        """The newest AnalysisRun of a revision."""
        runs = [run for run in self.runs if run.pod_hash == pod_hash]
        return runs[-1] if runs else None


def describe_step(step: dict[str, Any]) -> str:
    """A canary step in a few words: `setWeight 20`, `analysis success-rate-demo`, `pause 10s`."""
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}"
    if "analysis" in step:
        names = [t.get("templateName", "?") for t in (step["analysis"] or {}).get("templates") or []]
        return f"analysis {', '.join(names)}"
    if "pause" in step:
        duration = (step["pause"] or {}).get("duration")
        return f"pause {duration}" if duration else "pause until promoted"
    return ", ".join(sorted(step)) or "empty step"


def changes(before: State | None, after: State) -> list[str]:
    """What a user would want to hear about `after`, given they last saw `before`."""
    lines: list[str] = []
    if before is None or (before.phase, before.message) != (after.phase, after.message):
        why = f": {one_line(after.message)}" if after.message else ""
        lines.append(f"phase {after.phase}{why}")
    if before is None or before.step_index != after.step_index:
        lines.append(f"step {after.step_text()}")
    if before is None or (before.canary_ingress, before.canary_weight) != (
        after.canary_ingress,
        after.canary_weight,
    ):
        lines.append(after.weight_text())
    if before is None or before.stable_selector != after.stable_selector:
        lines.append(
            f"stable Service {after.stable_service} selects {POD_TEMPLATE_HASH_LABEL}="
            f"{after.stable_selector or '(none yet)'}"
        )
    if before is None or before.ready_pods != after.ready_pods:
        pods = ", ".join(f"{name} {ready}/{want}" for name, ready, want in after.ready_pods) or "none"
        lines.append(f"ready/wanted pods per ReplicaSet: {pods}")
    if (before.unschedulable if before else ()) != after.unschedulable:
        if after.unschedulable:
            why = one_line(after.unschedulable[0])
            lines.append(f"{len(after.unschedulable)} pod(s) cannot be scheduled yet: {why}")
        else:
            lines.append("every pod is scheduled")
    seen_runs = {run.name: run for run in before.runs} if before else {}
    for run in after.runs:
        old = seen_runs.get(run.name)
        # The measurements first: they are why the run's phase changes.
        known = set(old.measurements) if old else set()
        lines += [f"AnalysisRun {run.name}: {m.text()}" for m in run.measurements if m not in known]
        if old is None or (old.phase, old.message) != (run.phase, run.message):
            why = f": {one_line(run.message)}" if run.message else ""
            lines.append(f"AnalysisRun {run.name} {run.phase}{why}")
    return lines


def _canary_weight(ingresses: list[dict[str, Any]]) -> tuple[str, int | None]:
    """The canary Ingress's name and its weight annotation (ingress-nginx reads any prefix)."""
    for ingress in ingresses:
        notes: dict[str, str] = ingress["metadata"].get("annotations") or {}
        prefixes = [k[: -len(CANARY_ANNOTATION_SUFFIX)] for k, v in notes.items() if _is_canary(k, v)]
        if prefixes:
            weight = notes.get(prefixes[0] + WEIGHT_ANNOTATION_SUFFIX, "0")
            return str(ingress["metadata"]["name"]), int(weight) if weight.isdigit() else 0
    return "", None


def _is_canary(key: str, value: str) -> bool:
    return key.endswith(CANARY_ANNOTATION_SUFFIX) and str(value).lower() == "true"


def _selected_hash(services: list[dict[str, Any]], name: str) -> str:
    for service in services:
        if service["metadata"]["name"] == name:
            selector: dict[str, str] = (service.get("spec") or {}).get("selector") or {}
            return selector.get(POD_TEMPLATE_HASH_LABEL, "")
    return ""


def _ready_pods(replica_sets: list[dict[str, Any]]) -> tuple[tuple[str, int, int], ...]:
    """(name, ready, wanted) of every ReplicaSet that wants or has pods, oldest first."""
    rows = []
    for rs in _by_creation(replica_sets):
        wanted = int((rs.get("spec") or {}).get("replicas") or 0)
        ready = int((rs.get("status") or {}).get("readyReplicas") or 0)
        if wanted or ready:
            rows.append((str(rs["metadata"]["name"]), ready, wanted))
    return tuple(rows)


def _unschedulable(pods: list[dict[str, Any]]) -> tuple[str, ...]:
    """The scheduler's message for each pod it could not place (e.g. the shared nodes are full)."""
    found = []
    for pod in _by_creation(pods):
        for condition in (pod.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                found.append(str(condition.get("message") or condition.get("reason") or "unschedulable"))
    return tuple(found)


def one_line(text: str) -> str:
    """Messages that quote a multi-line query, on one line."""
    return " ".join(text.split())


def _by_creation(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: (i["metadata"].get("creationTimestamp", ""), i["metadata"]["name"]))


def _run(item: dict[str, Any]) -> Run:
    status: dict[str, Any] = item.get("status") or {}
    measured: list[Measured] = []
    for result in status.get("metricResults") or []:
        kept = result.get("measurements") or []
        # Older measurements beyond measurementRetention are dropped; number the kept ones by count.
        first = int(result.get("count") or len(kept)) - len(kept) + 1
        for offset, m in enumerate(kept):
            if not m.get("finishedAt"):
                continue  # still being taken: shown once it has a result
            measured.append(
                Measured(
                    metric=str(result.get("name")),
                    number=first + offset,
                    phase=str(m.get("phase") or "-"),
                    value=format_value(str(m.get("value") or "")),
                    message=str(m.get("message") or ""),
                    finished_at=str(m["finishedAt"]),
                )
            )
    labels: dict[str, str] = item["metadata"].get("labels") or {}
    return Run(
        name=str(item["metadata"]["name"]),
        pod_hash=labels.get(POD_TEMPLATE_HASH_LABEL, ""),
        phase=str(status.get("phase") or "Pending"),
        message=str(status.get("message") or ""),
        measurements=tuple(measured),
    )


def format_value(value: str) -> str:
    """A measured value as recorded, with long floats cut to 4 decimals (`[0.99912...]` -> `[0.9991]`)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, float) and math.isfinite(parsed):
        return f"{parsed:.4f}"
    if isinstance(parsed, list) and all(_finite(v) for v in parsed):
        return "[" + ", ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in parsed) + "]"
    return value


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
