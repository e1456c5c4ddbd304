"""``kubectl rollouts get rollout|experiment NAME [-w]``: where one Rollout (or Experiment) stands.

A Rollout: a header (phase with icon, message, strategy, step, weights, the current step's
Experiment, images, pod counts) and a tree of its revisions, each with its ReplicaSet, pods,
AnalysisRuns and Experiments. An Experiment: a header (phase, message, the Rollout that started it,
duration and time left) and a table of its templates (ReplicaSet, hash, pods, Service) and one of
its analyses (AnalysisRun, phase). ``-w`` redraws it every second until interrupted; ``-o
json|yaml`` prints the objects themselves for scripts.
"""

from __future__ import annotations

import argparse
import contextlib
from datetime import UTC, datetime
from typing import Any, TextIO

from rollouts.cli.cluster import (
    Session,
    fetch_experiment,
    fetch_objects,
    get_experiment,
    get_rollout,
    run_in_cluster,
    transient,
)
from rollouts.cli.errors import EXIT_OK
from rollouts.cli.experiment_view import render_experiment
from rollouts.cli.facts import ExperimentObjects, RolloutFacts, RolloutObjects
from rollouts.cli.header import render_header
from rollouts.cli.options import OutputOptions, add_output_flag, cluster_options, output_options
from rollouts.cli.output import dump
from rollouts.cli.style import PLAIN, Style
from rollouts.cli.tree import build_tree, render_tree
from rollouts.cli.watch import Frame, watch

__all__ = ["EXPERIMENT_NAMES", "as_data", "experiment_data", "register", "render_rollout"]

ROLLOUT_NAMES = ("rollout", "rollouts", "ro")
EXPERIMENT_NAMES = ("experiment", "experiments", "exp")

_FROZEN = datetime(2000, 1, 1, tzinfo=UTC)


def render_rollout(objects: RolloutObjects, *, now: datetime, style: Style = PLAIN) -> str:
    """Header and tree of one Rollout: a pure function of its objects and ``now``."""
    facts = RolloutFacts.of(objects.rollout, objects.replica_sets)
    tree = build_tree(objects, now=now, style=style)
    return render_header(facts, style=style) + "\n" + render_tree(tree, style=style)


def as_data(objects: RolloutObjects) -> dict[str, Any]:
    """The objects for ``-o json|yaml``: the Rollout and what it owns, as the API server has them."""
    return {
        "rollout": objects.rollout,
        "replicaSets": objects.replica_sets,
        "pods": objects.pods,
        "analysisRuns": objects.analysis_runs,
        "experiments": [experiment_data(e) for e in objects.experiments],
    }


def experiment_data(objects: ExperimentObjects) -> dict[str, Any]:
    """An Experiment and what it owns, for ``-o json|yaml``."""
    return {
        "experiment": objects.experiment,
        "replicaSets": objects.replica_sets,
        "pods": objects.pods,
        "analysisRuns": objects.analysis_runs,
    }


async def _rollout_frame(session: Session, name: str, options: OutputOptions) -> Frame:
    objects = await fetch_objects(session, await get_rollout(session, name))
    if options.format is not None:
        return dump(as_data(objects), options.format), False
    text = render_rollout(objects, now=datetime.now(UTC), style=options.style)
    return text, False, render_rollout(objects, now=_FROZEN)  # ages that only grow are no change


async def _experiment_frame(session: Session, name: str, options: OutputOptions) -> Frame:
    objects = await fetch_experiment(session, await get_experiment(session, name))
    if options.format is not None:
        return dump(experiment_data(objects), options.format), False
    text = render_experiment(objects, now=datetime.now(UTC), style=options.style)
    return text, False, render_experiment(objects, now=_FROZEN)  # nor does the time left running out


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    options = output_options(args)
    read = _experiment_frame if args.resource in EXPERIMENT_NAMES else _rollout_frame

    async def operation(session: Session) -> None:
        async def frame() -> Frame:
            return await read(session, args.name, options)

        if args.watch:
            await watch(frame, out=out, tty=out.isatty(), transient=transient)
        else:
            out.write((await frame())[0])

    with contextlib.suppress(KeyboardInterrupt):  # -w ends with Ctrl-C
        run_in_cluster(cluster_options(args), operation)
    return EXIT_OK


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser(
        "get",
        parents=[common],
        help="show a Rollout (status, weights, images, revisions, pods, analysis runs) or an Experiment",
    )
    parser.add_argument(
        "resource", choices=(*ROLLOUT_NAMES, *EXPERIMENT_NAMES), help="what to get: rollout or experiment"
    )
    parser.add_argument("name", help="name of the Rollout or Experiment")
    parser.add_argument("-w", "--watch", action="store_true", help="redraw in place until interrupted")
    add_output_flag(parser)
    parser.set_defaults(run=run)
