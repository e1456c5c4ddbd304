"""``kubectl rollouts undo NAME [--to-revision N]``: put an earlier revision's pod template back.

Going back to the stable revision skips every step (the engine's rollback to stable); going back
to an older one is delivered like any new revision.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from rollouts.cli import edits
from rollouts.cli.apply import add_name, steer

__all__ = ["register"]


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    return steer(
        args,
        out=out,
        decide=lambda rollout, replica_sets: edits.undo(rollout, replica_sets, to_revision=args.to_revision),
        replica_sets=True,
    )


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser(
        "undo", parents=[common], help="roll back to the previous (or a given) revision"
    )
    add_name(parser)
    parser.add_argument(
        "--to-revision", type=int, metavar="N", help="revision to go back to (default: the previous)"
    )
    parser.set_defaults(run=run)
