"""What ``get experiment`` and ``list experiments`` show of an Experiment, read from its objects.

Pure, like the Rollout views: the text depends only on the objects as the API server returned them
(plain dicts: a missing or unexpected field reads as "unknown"), the ``now`` times are measured
from, and the style. The Experiment's status says what the controller last decided; the
ReplicaSets and AnalysisRuns it owns, when found, say how they stand now, so their own counts and
phases win over the status's copy of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rollouts.api import parse_duration
from rollouts.cli.ages import age
from rollouts.cli.facts import (
    EXPERIMENT_ANALYSIS_LABEL,
    EXPERIMENT_TEMPLATE_LABEL,
    POD_TEMPLATE_HASH_LABEL,
    ROLLOUT_LABEL,
    STEP_INDEX_LABEL,
    ExperimentObjects,
    created,
    dig,
    labels_of,
    parse_time,
)
from rollouts.cli.style import PLAIN, Style
from rollouts.cli.timeline import format_duration
from rollouts.cli.tree import run_info

__all__ = [
    "AnalysisRow",
    "ExperimentFacts",
    "TemplateRow",
    "render_experiment",
    "render_experiment_table",
]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _seconds(value: Any) -> timedelta | None:
    """A spec duration (``600``, ``"10m"``) as a timedelta; ``None`` when absent or unreadable."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, kw_only=True)
class TemplateRow:
    """One template: its ReplicaSet, pods and Service."""

    name: str
    replica_set: str
    pod_hash: str
    available: int
    desired: int
    status: str
    service: str


@dataclass(frozen=True, kw_only=True)
class AnalysisRow:
    """One entry of ``spec.analyses``: its template, whether it is required, its run."""

    name: str
    template: str
    required: bool
    run: str
    phase: str
    info: str
    message: str


@dataclass(frozen=True, kw_only=True)
class ExperimentFacts:
    """What the view of ``get experiment`` and a row of ``list experiments`` say about one Experiment."""

    name: str
    namespace: str
    phase: str
    message: str
    created: datetime | None
    duration: timedelta | None
    duration_text: str
    available_at: datetime | None
    completed_at: datetime | None
    owner: str
    templates: list[TemplateRow]
    analyses: list[AnalysisRow]

    @classmethod
    def of(cls, objects: ExperimentObjects) -> ExperimentFacts:
        experiment = objects.experiment
        spec, status = experiment.get("spec") or {}, experiment.get("status") or {}
        raw = spec.get("duration")
        duration = _seconds(raw)
        return cls(
            name=str(dig(experiment, "metadata", "name") or ""),
            namespace=str(dig(experiment, "metadata", "namespace") or ""),
            phase=str(status.get("phase") or "Pending"),
            message=str(status.get("message") or ""),
            created=created(experiment),
            duration=duration,
            duration_text="-" if raw is None else (format_duration(duration) if duration else str(raw)),
            available_at=parse_time(status.get("availableAt")),
            completed_at=parse_time(status.get("completedAt")),
            owner=_owner(experiment),
            templates=_templates(spec, status, objects.replica_sets),
            analyses=_analyses(spec, status, objects.analysis_runs),
        )

    @property
    def completed(self) -> bool:
        return self.phase in ("Successful", "Failed", "Error", "Inconclusive")

    @property
    def required(self) -> list[str]:
        return [a.name for a in self.analyses if a.required]

    def time_left(self, now: datetime) -> str:
        """The ``Duration:`` line: how long it runs, and how much of that is left now."""
        if self.duration is None:
            if self.required:
                return f"none: runs until {', '.join(self.required)} succeeded"
            return "none: runs until terminated (or, started by a Rollout, until promoted)"
        text = self.duration_text
        if self.completed:
            return text
        if self.available_at is None:
            return f"{text} (counts once every template is available)"
        left = self.available_at + self.duration - now
        if left.total_seconds() <= 0:
            waiting = [a.name for a in self.analyses if a.required and a.phase != "Successful"]
            return f"{text} (over; waiting for {', '.join(waiting)})" if waiting else f"{text} (over)"
        return f"{text} ({format_duration(max(left, timedelta(seconds=1)))} left)"


def _owner(experiment: Mapping[str, Any]) -> str:
    """``Rollout web, step 3`` for an experiment a Rollout's step started; "" otherwise."""
    for ref in dig(experiment, "metadata", "ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("kind") == "Rollout" and ref.get("controller"):
            step = labels_of(experiment).get(STEP_INDEX_LABEL)
            return f"Rollout {ref.get('name')}" + (f", step {step}" if step else "")
    rollout = labels_of(experiment).get(ROLLOUT_LABEL)
    return f"Rollout {rollout}" if rollout else ""


def _replica_set_state(rs: Mapping[str, Any]) -> str | None:
    if dig(rs, "metadata", "deletionTimestamp"):
        return "Terminating"
    if _int(dig(rs, "spec", "replicas")) == 0:
        return "ScaledDown"
    return None


def _templates(
    spec: Mapping[str, Any], status: Mapping[str, Any], replica_sets: list[dict[str, Any]]
) -> list[TemplateRow]:
    statuses = {str(t.get("name")): t for t in status.get("templateStatuses") or [] if isinstance(t, Mapping)}
    by_template = {labels_of(rs).get(EXPERIMENT_TEMPLATE_LABEL): rs for rs in replica_sets}
    rows = []
    for template in spec.get("templates") or []:
        if not isinstance(template, Mapping):
            continue
        name = str(template.get("name") or "")
        recorded: Mapping[str, Any] = statuses.get(name) or {}
        rs = by_template.get(name)
        desired = template.get("replicas", 1)
        if rs is not None:
            available = _int(dig(rs, "status", "availableReplicas"))
            pod_hash = labels_of(rs).get(POD_TEMPLATE_HASH_LABEL) or recorded.get("podTemplateHash")
            state = _replica_set_state(rs) or str(recorded.get("status") or "Progressing")
            if state == "Running" and available < _int(desired):
                state = "Progressing"  # the status was written before a pod went away
        else:
            available = _int(recorded.get("availableReplicas"))
            pod_hash = recorded.get("podTemplateHash")
            state = str(recorded.get("status") or "Pending")
        rows.append(
            TemplateRow(
                name=name,
                replica_set=str(dig(rs, "metadata", "name") or recorded.get("replicaSetName") or "-"),
                pod_hash=str(pod_hash or "-"),
                available=available,
                desired=_int(desired),
                status=state,
                service=str(recorded.get("serviceName") or "-"),
            )
        )
    return rows


def _analyses(
    spec: Mapping[str, Any], status: Mapping[str, Any], runs: list[dict[str, Any]]
) -> list[AnalysisRow]:
    recorded = {str(r.get("name")): r for r in status.get("analysisRuns") or [] if isinstance(r, Mapping)}
    by_analysis = {labels_of(run).get(EXPERIMENT_ANALYSIS_LABEL): run for run in runs}
    rows = []
    for analysis in spec.get("analyses") or []:
        if not isinstance(analysis, Mapping):
            continue
        name = str(analysis.get("name") or "")
        seen: Mapping[str, Any] = recorded.get(name) or {}
        run = by_analysis.get(name)
        phase = dig(run, "status", "phase") or seen.get("phase")
        message = dig(run, "status", "message") or seen.get("message")
        template = str(analysis.get("templateName") or "")
        rows.append(
            AnalysisRow(
                name=name,
                template=("ClusterAnalysisTemplate " if analysis.get("clusterScope") else "") + template,
                required=bool(analysis.get("requiredForCompletion")),
                run=str(dig(run, "metadata", "name") or seen.get("analysisRun") or "-"),
                phase=str(phase or "Pending"),
                info=run_info(run) if run is not None else "",
                message=str(message or ""),
            )
        )
    return rows


def _columns(table: list[list[str]], *, style: Style, status_col: int, statuses: list[str]) -> list[str]:
    """Aligned columns; ``statuses`` replace the plain status cells (icon and color take
    ``style``), the header row in bold."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    widths[status_col] += 2  # the icon and its space
    lines = []
    for index, row in enumerate(table):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        if index:
            cells[status_col] = statuses[index - 1] + " " * (widths[status_col] - len(row[status_col]) - 2)
        line = "  ".join(cells).rstrip()
        lines.append(style.bold(line) if index == 0 else line)
    return lines


def render_experiment(objects: ExperimentObjects, *, now: datetime, style: Style = PLAIN) -> str:
    """The view of ``get experiment``: header, then a table of templates and one of analyses."""
    facts = ExperimentFacts.of(objects)
    lines: list[tuple[str, str]] = [
        ("Name:", facts.name),
        ("Namespace:", facts.namespace),
        ("Status:", style.status(facts.phase)),
    ]
    if facts.message:
        lines.append(("Message:", facts.message))
    if facts.owner:
        lines.append(("Started by:", facts.owner))
    lines.append(("Duration:", facts.time_left(now)))
    if facts.available_at is not None:
        lines.append(("Available:", f"{age(facts.available_at, now)} ago"))
    if facts.completed_at is not None:
        lines.append(("Completed:", f"{age(facts.completed_at, now)} ago"))
    width = max(len(label) for label, _ in lines) + 1
    out = [f"{label.ljust(width)}{value}".rstrip() for label, value in lines]
    out += ["", "Templates:"]
    table = [["  NAME", "REPLICASET", "HASH", "AVAILABLE", "STATUS", "SERVICE"]]
    table += [
        [f"  {t.name}", t.replica_set, t.pod_hash, f"{t.available}/{t.desired}", t.status, t.service]
        for t in facts.templates
    ]
    statuses = [style.status(t.status) for t in facts.templates]
    out += _columns(table, style=style, status_col=4, statuses=statuses)
    out += ["", "Analyses:"]
    if not facts.analyses:
        out.append("  none")
    else:
        table = [["  NAME", "TEMPLATE", "REQUIRED", "ANALYSISRUN", "STATUS", "INFO"]]
        table += [
            [f"  {a.name}", a.template, "yes" if a.required else "no", a.run, a.phase, a.info]
            for a in facts.analyses
        ]
        statuses = [style.status(a.phase) for a in facts.analyses]
        out += _columns(table, style=style, status_col=4, statuses=statuses)
        out += [f"  {a.name}: {a.message}" for a in facts.analyses if a.message]
    return "\n".join(out) + "\n"


def render_experiment_table(
    experiments: list[ExperimentObjects], *, now: datetime, all_namespaces: bool = False, style: Style = PLAIN
) -> str:
    """NAME, STATUS, AGE, DURATION, TEMPLATES (NAMESPACE first with -A), one row per Experiment."""
    facts = sorted((ExperimentFacts.of(e) for e in experiments), key=lambda f: (f.namespace, f.name))
    table = [["NAME", "STATUS", "AGE", "DURATION", "TEMPLATES"]]
    table += [
        [f.name, f.phase, age(f.created, now), f.duration_text, ",".join(t.name for t in f.templates) or "-"]
        for f in facts
    ]
    status_col = 1
    if all_namespaces:
        namespaces = ["NAMESPACE", *(f.namespace for f in facts)]
        table = [[ns, *row] for ns, row in zip(namespaces, table, strict=True)]
        status_col = 2
    statuses = [style.status(f.phase) for f in facts]
    return "\n".join(_columns(table, style=style, status_col=status_col, statuses=statuses)) + "\n"
