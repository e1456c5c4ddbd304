"""``kubectl rollouts list rollouts|experiments [-A] [-w]``: every Rollout (or Experiment) of a
namespace, or of all, in one table."""

from __future__ import annotations

import argparse
import contextlib
from datetime import UTC, datetime
from typing import Any, TextIO

from rollouts.cli.cluster import EXPERIMENT_API, ROLLOUT_API, Session, run_in_cluster, transient
from rollouts.cli.errors import EXIT_OK
from rollouts.cli.experiment_view import render_experiment_table
from rollouts.cli.facts import ExperimentObjects, RolloutFacts
from rollouts.cli.options import add_all_namespaces, add_output_flag, cluster_options, output_options
from rollouts.cli.output import dump
from rollouts.cli.table import render_table
from rollouts.cli.watch import Frame, watch

__all__ = ["list_experiments", "list_rollouts", "register"]

_FROZEN = datetime(2000, 1, 1, tzinfo=UTC)
EXPERIMENT_NAMES = ("experiments", "experiment", "exp")


async def list_rollouts(session: Session, *, all_namespaces: bool) -> list[dict[str, Any]]:
    """The Rollouts of the session's namespace, or of every namespace."""
    namespace = None if all_namespaces else session.namespace
    found = await session.client.list(*ROLLOUT_API, namespace=namespace)
    return found.items


async def list_experiments(session: Session, *, all_namespaces: bool) -> list[dict[str, Any]]:
    """The Experiments of the session's namespace, or of every namespace."""
    namespace = None if all_namespaces else session.namespace
    found = await session.client.list(*EXPERIMENT_API, namespace=namespace)
    return found.items


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    options, cluster = output_options(args), cluster_options(args)

    async def experiments_frame(session: Session) -> Frame:
        experiments = await list_experiments(session, all_namespaces=cluster.all_namespaces)
        if options.format is not None:
            return dump({"apiVersion": "v1", "kind": "List", "items": experiments}, options.format), False
        if not experiments:
            where = "any namespace" if cluster.all_namespaces else f"namespace {session.namespace}"
            return f"No experiments found in {where}.\n", False
        objects = [ExperimentObjects(experiment=e) for e in experiments]
        text = render_experiment_table(
            objects, now=datetime.now(UTC), all_namespaces=cluster.all_namespaces, style=options.style
        )
        key = render_experiment_table(objects, now=_FROZEN, all_namespaces=cluster.all_namespaces)
        return text, False, key  # ages that only grow are no change

    async def operation(session: Session) -> None:
        async def frame() -> Frame:
            if args.resource in EXPERIMENT_NAMES:
                return await experiments_frame(session)
            rollouts = await list_rollouts(session, all_namespaces=cluster.all_namespaces)
            if options.format is not None:
                return dump({"apiVersion": "v1", "kind": "List", "items": rollouts}, options.format), False
            if not rollouts:
                where = "any namespace" if cluster.all_namespaces else f"namespace {session.namespace}"
                return f"No rollouts found in {where}.\n", False
            facts = [RolloutFacts.of(rollout) for rollout in rollouts]
            return render_table(facts, all_namespaces=cluster.all_namespaces, style=options.style), False

        if args.watch:
            await watch(frame, out=out, tty=out.isatty(), transient=transient)
        else:
            out.write((await frame())[0])

    with contextlib.suppress(KeyboardInterrupt):  # -w ends with Ctrl-C
        run_in_cluster(cluster, operation)
    return EXIT_OK


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser("list", parents=[common], help="list Rollouts or Experiments in a table")
    parser.add_argument(
        "resource",
        choices=("rollouts", "rollout", "ro", *EXPERIMENT_NAMES),
        help="what to list: rollouts or experiments",
    )
    add_all_namespaces(parser)
    parser.add_argument("-w", "--watch", action="store_true", help="redraw in place until interrupted")
    add_output_flag(parser)
    parser.set_defaults(run=run)
