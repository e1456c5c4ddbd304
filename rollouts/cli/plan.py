"""``kubectl rollouts plan -f FILE``: the delivery the controller would make, before it makes it.

For each Rollout in the files, :func:`~rollouts.cli.simulation.simulate` runs the real engine over
a synthetic cluster where everything goes right at once; :func:`~rollouts.cli.timeline.rows_of`
reads the steps off it. The output is the timeline (when each step starts, the traffic share of
the new revision and the pods of each revision after it, what it waits for) and the shortest time
to promotion, with the number of promotions a person must make. AnalysisTemplates in the same
files give analysis steps their shortest duration.

The engine also builds each AnalysisRun from the templates in the files, as the controller does,
so a run the controller would refuse (a missing template, an unknown or missing argument, one
metric name in two templates, conflicting defaults, a ``fieldRef`` to nothing) stops ``plan`` with
the engine's message for that Rollout instead of a plan the controller would not follow.

Templates applied from elsewhere: as in ``lint``, a reference is only checked when the files hold
objects of the referenced kind (``AnalysisTemplate`` in the Rollout's namespace, or a document
without one; ``ClusterAnalysisTemplate`` anywhere), counted over every ``-f`` given. A Rollout
whose every reference is of such a kind is simulated with the files' templates. A Rollout that
names a kind the files hold none of is simulated as before, without runs (those analyses count
as instant), and each of its analysis blocks naming only kinds the files hold is still built
once, offline, to report its errors.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, TextIO

import yaml

from rollouts.api import (
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    InvalidObjectError,
    Rollout,
    parse_object,
)
from rollouts.cli.errors import EXIT_OK, CliError
from rollouts.cli.manifests import Document, Manifest, read_manifests
from rollouts.cli.offline_runs import run_error
from rollouts.cli.options import add_filename_flag, add_output_flag, output_options
from rollouts.cli.simulation import Simulation, TemplateKey, simulate
from rollouts.cli.style import PLAIN, Style
from rollouts.cli.timeline import Row, format_duration, rows_of
from rollouts.cli.workloads import workload_template
from rollouts.engine.analysis_runs import AnalysisRunError
from rollouts.engine.references import analysis_references

__all__ = ["RolloutPlan", "plan_manifests", "register", "render_json", "render_text"]


@dataclass(frozen=True, kw_only=True)
class RolloutPlan:
    """The plan of one Rollout: the simulation and the rows read off it."""

    document: Document
    simulation: Simulation
    rows: tuple[Row, ...]

    @property
    def rollout(self) -> Rollout:
        return self.simulation.rollout


@dataclass(frozen=True, kw_only=True)
class _FileTemplate:
    """One (Cluster)AnalysisTemplate document of the files; ``template`` is ``None`` when invalid."""

    document: Document
    template: AnalysisTemplate | ClusterAnalysisTemplate | None
    error: str = ""

    @property
    def key(self) -> TemplateKey:
        return (self.document.kind == "ClusterAnalysisTemplate", self.document.name)


def _templates(manifests: list[Manifest]) -> list[_FileTemplate]:
    found: list[_FileTemplate] = []
    for manifest in manifests:
        for doc in manifest.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
            try:
                parsed = parse_object(doc.body)
            except InvalidObjectError as exc:
                found.append(_FileTemplate(document=doc, template=None, error=exc.errors[0]))
                continue
            if isinstance(parsed, AnalysisTemplate | ClusterAnalysisTemplate):
                found.append(_FileTemplate(document=doc, template=parsed))
    return found


def _in_scope(doc: Document, templates: list[_FileTemplate]) -> list[_FileTemplate]:
    """The templates a Rollout can use: cluster-scoped ones, and namespaced ones of its namespace
    (a document without a namespace matches any, as in ``lint``)."""
    namespace = doc.namespace
    return [
        t
        for t in templates
        if t.key[0] or t.document.namespace is None or namespace is None or t.document.namespace == namespace
    ]


def _check_references(doc: Document, rollout: Rollout, scope: list[_FileTemplate]) -> bool:
    """Whether the engine can build the Rollout's runs from ``scope``: every template it names is
    of a kind the files hold. Raises when a named template is in the files only as an invalid
    document, and, when not every kind is held, when a block of held kinds cannot be built."""
    held = {t.key[0] for t in scope}
    blocks = list(analysis_references(rollout))
    for ref in (ref for block in blocks for ref in block.analysis.templates):
        named = [t for t in scope if t.key == (ref.cluster_scope, ref.template_name)]
        if named and all(t.template is None for t in named):
            bad = named[0].document
            raise CliError(
                f"{bad.where} is invalid: {named[0].error}; run `kubectl rollouts lint -f {bad.source}` "
                "for every problem"
            )
    if all(ref.cluster_scope in held for block in blocks for ref in block.analysis.templates):
        return True
    valid = [t.template for t in scope if t.template is not None]
    for block in blocks:
        if all(ref.cluster_scope in held for ref in block.analysis.templates):
            error = run_error(
                rollout=rollout,
                kind=block.kind,
                step_index=block.step_index,
                analysis=block.analysis,
                templates=valid,
            )
            if error is not None:
                raise CliError(f"{doc.where}: {error}")
    return False


def _plan_one(doc: Document, rollout: Rollout, templates: list[_FileTemplate]) -> RolloutPlan:
    scope = _in_scope(doc, templates)
    durations = {t.key: t.template.spec for t in scope if t.template is not None}
    complete = _check_references(doc, rollout, scope)
    runs = [t.template for t in scope if t.template is not None] if complete else None
    try:
        sim = simulate(
            rollout,
            templates=durations,
            analysis_templates=runs,
            experiment_templates=[t.template for t in scope if t.template is not None],
        )
    except AnalysisRunError as exc:
        raise CliError(f"{doc.where}: {exc}") from None
    return RolloutPlan(document=doc, simulation=sim, rows=tuple(rows_of(sim, templates=durations)))


def plan_manifests(manifests: list[Manifest]) -> list[RolloutPlan]:
    """Plan every Rollout in ``manifests``; an invalid one, or one whose AnalysisRun the controller
    would refuse, stops with the message for it."""
    templates = _templates(manifests)
    plans: list[RolloutPlan] = []
    for manifest in manifests:
        for doc in manifest.of_kind("Rollout"):
            try:
                rollout = parse_object(doc.body)
            except InvalidObjectError as exc:
                raise CliError(
                    f"{doc.where} is invalid: {exc.errors[0]}; run `kubectl rollouts lint -f "
                    f"{doc.source}` for every problem"
                ) from None
            assert isinstance(rollout, Rollout)
            workload = workload_template(rollout, (d for m in manifests for d in m.documents))
            if workload.rollout is None:
                where = workload.deployment.where if workload.deployment is not None else doc.where
                raise CliError(
                    f"{where}: {workload.problem}; plan takes the pods from the Deployment spec.workloadRef "
                    "names: give it the file that holds it (-f FILE once more)"
                )
            plans.append(_plan_one(doc, workload.rollout, templates))
    if not plans:
        sources = ", ".join(m.source for m in manifests)
        raise CliError(f"no Rollout in {sources}; plan needs a file with at least one kind: Rollout")
    return plans


# --- text ---------------------------------------------------------------------------------------


def _strategy(rollout: Rollout) -> str:
    strategy = rollout.spec.strategy
    if strategy.blue_green is not None:
        bg = strategy.blue_green
        preview = f", preview Service {bg.preview_service}" if bg.preview_service else ""
        return f"blue-green, active Service {bg.active_service}{preview}"
    canary = strategy.canary
    routing = canary.traffic_routing if canary is not None else None
    if routing is not None and routing.nginx is not None:
        return f"canary, traffic by NGINX Ingress {routing.nginx.stable_ingress}"
    if routing is not None and routing.istio is not None:
        return f"canary, traffic by Istio VirtualService {routing.istio.virtual_service.name}"
    return "canary without a traffic router (traffic follows the pod counts)"


def _wait(row: Row) -> str:
    if row.manual:
        return "until promoted"
    if row.wait is None or not row.wait:
        return "-"
    return format_duration(row.wait)


def _table(rows: tuple[Row, ...], *, blue_green: bool) -> list[list[str]]:
    new, old = ("NEW", "OLD") if blue_green else ("CANARY", "STABLE")
    table = [["AT", "STEP", "ACTION", "TRAFFIC", new, old, "WAITS", "NOTE"]]
    for row in rows:
        table.append(
            [
                format_duration(row.at),
                "-" if row.step is None else str(row.step),
                row.action,
                f"{row.weight:g}%",
                str(row.new_replicas),
                str(row.old_replicas),
                _wait(row),
                row.note,
            ]
        )
    return table


def _columns(table: list[list[str]], *, right: set[int]) -> list[str]:
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = []
    for line in table:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def render_text(plans: list[RolloutPlan], *, style: Style = PLAIN) -> str:
    """The timeline of each Rollout, as a table, and its totals."""
    out: list[str] = []
    for plan in plans:
        rollout = plan.rollout
        steps = rollout.spec.strategy.canary.steps if rollout.spec.strategy.canary else None
        count = f", {len(steps)} steps" if steps else ""
        out.append(
            style.bold(f"Rollout {plan.document.name}")
            + f" ({plan.document.source}:{plan.document.line}): {_strategy(rollout)}, "
            f"{rollout.spec.replicas} replicas{count}"
        )
        table = _table(plan.rows, blue_green=rollout.spec.strategy.blue_green is not None)
        lines = _columns(table, right={3, 4, 5})
        out.append(style.bold(lines[0]))
        out.extend(lines[1:])
        out.extend(_totals(plan, style))
        out.append("")
    return "\n".join(out)


def _totals(plan: RolloutPlan, style: Style) -> list[str]:
    sim = plan.simulation
    if sim.blocked:
        return [style.paint(f"Never promoted: {sim.blocked}", "red")]
    promoted, completed = sim.promoted_at, sim.completed_at
    lines = []
    if promoted is not None:
        manual = sim.manual_promotions
        hands = (
            f", after {manual} promotion{'s' if manual != 1 else ''} by hand "
            f"(kubectl rollouts promote {plan.document.name})"
            if manual
            else ", with no promotion by hand"
        )
        lines.append(style.bold(f"Shortest time to promotion: {format_duration(promoted)}") + hands)
    if completed is not None and completed != promoted:
        lines.append(f"Old pods gone after {format_duration(completed)}")
    return lines


# --- json / yaml ----------------------------------------------------------------------------------


def _seconds(value: Any) -> float | None:
    return None if value is None else value.total_seconds()


def as_data(plans: list[RolloutPlan]) -> dict[str, Any]:
    """The plans as plain data (camelCase keys, durations in seconds) for -o json|yaml."""
    items = []
    for plan in plans:
        sim = plan.simulation
        items.append(
            {
                "name": plan.document.name,
                "namespace": plan.document.namespace,
                "source": f"{plan.document.source}:{plan.document.line}",
                "strategy": "blueGreen" if plan.rollout.spec.strategy.blue_green else "canary",
                "replicas": plan.rollout.spec.replicas,
                "steps": [
                    {
                        "atSeconds": row.at.total_seconds(),
                        "stepIndex": row.step,
                        "action": row.action,
                        "trafficWeight": row.weight,
                        "newReplicas": row.new_replicas,
                        "oldReplicas": row.old_replicas,
                        "waitSeconds": _seconds(row.wait),
                        "untilPromoted": row.manual,
                        "note": row.note or None,
                    }
                    for row in plan.rows
                ],
                "promotedAfterSeconds": _seconds(sim.promoted_at),
                "completedAfterSeconds": _seconds(sim.completed_at),
                "manualPromotions": sim.manual_promotions,
                "blocked": sim.blocked or None,
            }
        )
    return {"rollouts": items}


def render_json(plans: list[RolloutPlan]) -> str:
    return json.dumps(as_data(plans), indent=2) + "\n"


def render_yaml(plans: list[RolloutPlan]) -> str:
    return yaml.safe_dump(as_data(plans), sort_keys=False)


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    plans = plan_manifests(read_manifests(args.filename))
    options = output_options(args)
    if options.format == "json":
        out.write(render_json(plans))
    elif options.format == "yaml":
        out.write(render_yaml(plans))
    else:
        out.write(render_text(plans, style=options.style))
    return EXIT_OK


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser(
        "plan",
        parents=[common],
        help="print the delivery timeline the controller would follow, offline",
        description="Simulate the delivery of each Rollout in the files with the controller's own engine "
        "(everything healthy, pods ready at once) and print each step, the traffic and pods after it, "
        "what it waits for, and the shortest time to promotion.",
    )
    add_filename_flag(
        parser, help="YAML file, directory, or - for stdin; repeatable (templates may come from another file)"
    )
    add_output_flag(parser)
    parser.set_defaults(run=run)
