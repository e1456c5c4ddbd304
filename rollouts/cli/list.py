"""``kubectl rollouts list rollouts [-A] [-w]``: every Rollout of a namespace (or all) in one table."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any, TextIO

from rollouts.cli.cluster import ROLLOUT_API, Session, run_in_cluster, transient
from rollouts.cli.errors import EXIT_OK
from rollouts.cli.facts import RolloutFacts
from rollouts.cli.options import add_all_namespaces, add_output_flag, cluster_options, output_options
from rollouts.cli.output import dump
from rollouts.cli.table import render_table
from rollouts.cli.watch import watch

__all__ = ["list_rollouts", "register"]


async def list_rollouts(session: Session, *, all_namespaces: bool) -> list[dict[str, Any]]:
    """The Rollouts of the session's namespace, or of every namespace."""
    namespace = None if all_namespaces else session.namespace
    found = await session.client.list(*ROLLOUT_API, namespace=namespace)
    return found.items


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    options, cluster = output_options(args), cluster_options(args)

    async def operation(session: Session) -> None:
        async def frame() -> tuple[str, bool]:
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
    parser = verbs.add_parser("list", parents=[common], help="list Rollouts in a table")
    parser.add_argument("resource", choices=("rollouts", "rollout", "ro"), help="what to list: rollouts")
    add_all_namespaces(parser)
    parser.add_argument("-w", "--watch", action="store_true", help="redraw in place until interrupted")
    add_output_flag(parser)
    parser.set_defaults(run=run)
