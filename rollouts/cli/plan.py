"""``kubectl rollouts plan -f FILE``: the delivery the controller would make, before it makes it.

For each Rollout in the files, :func:`~rollouts.cli.simulation.simulate` runs the real engine over
a synthetic cluster where everything goes right at once; :func:`~rollouts.cli.timeline.rows_of`
reads the steps off it. The output is the timeline (when each step starts, the traffic share of
the new revision and the pods of each revision after it, what it waits for) and the shortest time
to promotion, with the number of promotions a person must make. AnalysisTemplates in the same
files give analysis steps their shortest duration.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, TextIO

import yaml

from rollouts.api import (
    AnalysisTemplate,
    AnalysisTemplateSpec,
    ClusterAnalysisTemplate,
    InvalidObjectError,
    Rollout,
    parse_object,
)
from rollouts.cli.errors import EXIT_OK, CliError
from rollouts.cli.manifests import Document, Manifest, read_manifests
from rollouts.cli.options import add_output_flag, output_options
from rollouts.cli.simulation import Simulation, TemplateKey, simulate
from rollouts.cli.style import PLAIN, Style
from rollouts.cli.timeline import Row, format_duration, rows_of

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


def _templates(manifests: list[Manifest]) -> dict[TemplateKey, AnalysisTemplateSpec]:
    found: dict[TemplateKey, AnalysisTemplateSpec] = {}
    for manifest in manifests:
        for doc in manifest.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
            try:
                parsed = parse_object(doc.body)
            except InvalidObjectError:
                continue  # lint reports it; plan only needs the durations of valid templates
            if isinstance(parsed, AnalysisTemplate | ClusterAnalysisTemplate):
                cluster = isinstance(parsed, ClusterAnalysisTemplate)
                found[(cluster, parsed.metadata.name or "")] = parsed.spec
    return found


def plan_manifests(manifests: list[Manifest]) -> list[RolloutPlan]:
    """Plan every Rollout in ``manifests``; an invalid one stops with lint's message for it."""
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
            sim = simulate(rollout, templates=templates)
            plans.append(
                RolloutPlan(document=doc, simulation=sim, rows=tuple(rows_of(sim, templates=templates)))
            )
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
                f"{row.weight}%",
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
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="YAML file, directory, or - for stdin; repeatable (templates may come from another file)",
    )
    add_output_flag(parser)
    parser.set_defaults(run=run)
