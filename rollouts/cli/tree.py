"""The tree of ``get rollout``: the Rollout, each revision, its ReplicaSet, pods and AnalysisRuns.

Pure: the text depends only on the objects, the ``now`` ages are measured from, and the style.
Revisions are listed newest first; within one, the ReplicaSet (with its pods) comes before the
AnalysisRuns of that revision, then the Experiments its experiment steps started (each with its
templates' ReplicaSets, their pods, and its AnalysisRuns). The INFO column says what a ReplicaSet
is to the Rollout (stable, canary, active, preview; an experiment's: its template), how many of a
pod's containers are ready, and an AnalysisRun's measurement counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from rollouts.cli.ages import age
from rollouts.cli.facts import (
    EXPERIMENT_TEMPLATE_LABEL,
    POD_TEMPLATE_HASH_LABEL,
    ExperimentObjects,
    RolloutObjects,
    created,
    dig,
    labels_of,
    phase_of,
    revision_of,
)
from rollouts.cli.style import PLAIN, Style

__all__ = ["Node", "build_tree", "experiment_node", "render_tree", "run_info"]


@dataclass(frozen=True, kw_only=True)
class Node:
    """One line of the tree and the lines below it."""

    icon: str
    name: str
    kind: str = ""
    status: str = ""
    age: str = ""
    info: str = ""
    children: list[Node] = field(default_factory=list)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _roles(rollout: Mapping[str, Any]) -> dict[str, list[str]]:
    status = rollout.get("status") or {}
    roles: dict[str, list[str]] = {}

    def add(pod_hash: Any, role: str) -> None:
        if isinstance(pod_hash, str) and pod_hash:
            roles.setdefault(pod_hash, []).append(role)

    add(status.get("stableRS"), "stable")
    if dig(rollout, "spec", "strategy", "blueGreen") is not None:
        add(dig(status, "blueGreen", "activeSelector"), "active")
        add(dig(status, "blueGreen", "previewSelector"), "preview")
    elif status.get("currentPodHash") != status.get("stableRS"):
        add(status.get("currentPodHash"), "canary")
    return roles


def _replica_set_status(rs: Mapping[str, Any]) -> str:
    desired = _int(dig(rs, "spec", "replicas"))
    available = _int(dig(rs, "status", "availableReplicas"))
    if dig(rs, "metadata", "deletionTimestamp"):
        return "Terminating"
    if desired == 0:
        return "ScaledDown"
    return "Healthy" if available >= desired else "Progressing"


def _pod_status(pod: Mapping[str, Any]) -> tuple[str, str]:
    statuses = dig(pod, "status", "containerStatuses") or []
    ready = sum(1 for s in statuses if isinstance(s, Mapping) and s.get("ready"))
    total = len(dig(pod, "spec", "containers") or []) or len(statuses)
    info = f"ready:{ready}/{total}"
    if dig(pod, "metadata", "deletionTimestamp"):
        return "Terminating", info
    phase = str(dig(pod, "status", "phase") or "Pending")
    if phase == "Running":
        return ("Running" if ready >= total else "Progressing"), info
    if phase == "Succeeded":
        return "Successful", info
    return phase, info


def run_info(run: Mapping[str, Any]) -> str:
    counts = {"successful": 0, "failed": 0, "error": 0, "inconclusive": 0}
    for result in dig(run, "status", "metricResults") or []:
        for key in counts:
            counts[key] += _int(result.get(key)) if isinstance(result, Mapping) else 0
    marks = (("✔", "successful"), ("✖", "failed"), ("⚠", "error"), ("?", "inconclusive"))
    return " ".join(f"{mark} {counts[key]}" for mark, key in marks if counts[key])


def _pod_nodes(pods: list[dict[str, Any]], *, now: datetime, style: Style) -> list[Node]:
    nodes = []
    for pod in sorted(pods, key=lambda p: str(dig(p, "metadata", "name"))):
        status, info = _pod_status(pod)
        nodes.append(
            Node(
                icon="□",
                name=str(dig(pod, "metadata", "name")),
                kind="Pod",
                status=style.status(status, looks_like="Healthy" if status == "Running" else None),
                age=age(created(pod), now),
                info=info,
            )
        )
    return nodes


def _replica_set_node(
    rs: Mapping[str, Any], pods: list[dict[str, Any]], *, now: datetime, style: Style
) -> Node:
    return Node(
        icon="⧉",
        name=str(dig(rs, "metadata", "name")),
        kind="ReplicaSet",
        status=style.status(_replica_set_status(rs)),
        age=age(created(rs), now),
        children=_pod_nodes(pods, now=now, style=style),
    )


def _run_node(run: Mapping[str, Any], *, now: datetime, style: Style) -> Node:
    return Node(
        icon="α",  # noqa: RUF001 - the Greek letter is the AnalysisRun icon
        name=str(dig(run, "metadata", "name")),
        kind="AnalysisRun",
        status=style.status(str(dig(run, "status", "phase") or "Pending")),
        age=age(created(run), now),
        info=run_info(run),
    )


def experiment_node(objects: ExperimentObjects, *, now: datetime, style: Style = PLAIN) -> Node:
    """An Experiment with its templates' ReplicaSets (INFO: the template), their pods, and its runs."""
    experiment = objects.experiment
    pods_by_hash: dict[str, list[dict[str, Any]]] = {}
    for pod in objects.pods:
        pods_by_hash.setdefault(labels_of(pod).get(POD_TEMPLATE_HASH_LABEL, ""), []).append(pod)
    children = []
    for rs in sorted(objects.replica_sets, key=lambda r: str(dig(r, "metadata", "name"))):
        pods = pods_by_hash.get(labels_of(rs).get(POD_TEMPLATE_HASH_LABEL, ""), [])
        node = _replica_set_node(rs, pods, now=now, style=style)
        children.append(replace(node, info=labels_of(rs).get(EXPERIMENT_TEMPLATE_LABEL, "")))
    children += [
        _run_node(run, now=now, style=style)
        for run in sorted(objects.analysis_runs, key=lambda r: str(dig(r, "metadata", "name")))
    ]
    return Node(
        icon="Σ",
        name=str(dig(experiment, "metadata", "name")),
        kind="Experiment",
        status=style.status(str(dig(experiment, "status", "phase") or "Pending")),
        age=age(created(experiment), now),
        children=children,
    )


def build_tree(objects: RolloutObjects, *, now: datetime, style: Style = PLAIN) -> Node:
    """The tree of one Rollout from its objects (only those owned by it, already filtered)."""
    rollout = objects.rollout
    roles = _roles(rollout)
    revisions: dict[int, list[Node]] = {}
    hash_revision: dict[str, int] = {}
    pods_by_hash: dict[str, list[dict[str, Any]]] = {}
    for pod in objects.pods:
        pods_by_hash.setdefault(labels_of(pod).get(POD_TEMPLATE_HASH_LABEL, ""), []).append(pod)
    for rs in sorted(objects.replica_sets, key=lambda r: str(dig(r, "metadata", "name"))):
        pod_hash = labels_of(rs).get(POD_TEMPLATE_HASH_LABEL, "")
        revision = revision_of(rs)
        hash_revision[pod_hash] = revision
        node = _replica_set_node(rs, pods_by_hash.get(pod_hash, []), now=now, style=style)
        revisions.setdefault(revision, []).append(replace(node, info=",".join(roles.get(pod_hash, []))))
    for run in sorted(objects.analysis_runs, key=lambda r: str(dig(r, "metadata", "name"))):
        revision = hash_revision.get(labels_of(run).get(POD_TEMPLATE_HASH_LABEL, ""), 0)
        revisions.setdefault(revision, []).append(_run_node(run, now=now, style=style))
    for experiment in sorted(objects.experiments, key=lambda e: str(dig(e.experiment, "metadata", "name"))):
        revision = hash_revision.get(labels_of(experiment.experiment).get(POD_TEMPLATE_HASH_LABEL, ""), 0)
        revisions.setdefault(revision, []).append(experiment_node(experiment, now=now, style=style))
    children = [
        Node(icon="#", name=f"revision:{revision}" if revision else "revision:unknown", children=nodes)
        for revision, nodes in sorted(revisions.items(), reverse=True)
    ]
    return Node(
        icon="⟳",
        name=str(dig(rollout, "metadata", "name")),
        kind="Rollout",
        status=style.status(phase_of(rollout)),
        age=age(created(rollout), now),
        children=children,
    )


def _lines(node: Node, prefix: str, branch: str, out: list[tuple[str, Node]]) -> None:
    out.append((f"{prefix}{branch}{node.icon} {node.name}", node))
    if branch:
        prefix += "│  " if branch == "├──" else "   "
    for index, child in enumerate(node.children):
        _lines(child, prefix, "└──" if index == len(node.children) - 1 else "├──", out)


def _visible(text: str) -> int:
    """Printed width of ``text`` (ANSI color codes take no room)."""
    width, skipping = 0, False
    for char in text:
        if char == "\033":
            skipping = True
        elif skipping and char == "m":
            skipping = False
        elif not skipping:
            width += 1
    return width


def render_tree(root: Node, *, style: Style = PLAIN) -> str:
    """The tree as aligned columns: NAME, KIND, STATUS, AGE, INFO."""
    rows: list[tuple[str, Node]] = []
    _lines(root, "", "", rows)
    table = [("NAME", "KIND", "STATUS", "AGE", "INFO")]
    table += [(name, node.kind, node.status, node.age, node.info) for name, node in rows]
    widths = [max(_visible(row[i]) for row in table) for i in range(4)]
    out = []
    for index, row in enumerate(table):
        cells = [cell + " " * (widths[i] - _visible(cell)) for i, cell in enumerate(row[:4])]
        line = "  ".join([*cells, row[4]]).rstrip()
        out.append(style.bold(line) if index == 0 else line)
    return "\n".join(out) + "\n"
