"""The shared body of every steering verb: read the Rollout, decide the patches, send them in order.

The decision is a pure function (``steering.py``, ``edits.py``) of the Rollout as just read (and
its ReplicaSets, for ``undo``), so a verb module only says which function and which arguments.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO

from rollouts.cli.cluster import Session, fetch_objects, get_rollout, patch_rollout, run_in_cluster
from rollouts.cli.errors import EXIT_OK
from rollouts.cli.options import cluster_options
from rollouts.cli.steering import Steer

__all__ = ["Decision", "add_name", "steer"]

Decision = Callable[[dict[str, Any], list[dict[str, Any]]], Steer]
"""(the Rollout, its ReplicaSets) -> what to patch."""


async def apply_steer(session: Session, name: str, decide: Decision, *, replica_sets: bool = False) -> Steer:
    """Read the Rollout ``name``, decide, and send the patches one by one."""
    rollout = await get_rollout(session, name)
    owned = (await fetch_objects(session, rollout)).replica_sets if replica_sets else []
    decision = decide(rollout, owned)
    for patch in decision.patches:
        await patch_rollout(session, name, patch.body, status=patch.status, patch_type=patch.type)
    return decision


def steer(args: argparse.Namespace, *, out: TextIO, decide: Decision, replica_sets: bool = False) -> int:
    """Run one steering verb against the cluster and print its line."""

    async def operation(session: Session) -> Steer:
        return await apply_steer(session, args.name, decide, replica_sets=replica_sets)

    decision = run_in_cluster(cluster_options(args), operation)
    out.write(decision.message + "\n")
    return EXIT_OK


def add_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="name of the Rollout")
