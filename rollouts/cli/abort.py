"""``kubectl rollouts abort NAME``: stop the update, all traffic back to stable, phase Degraded.

Sets ``status.abort`` and ``status.abortedAt`` (when the abort scale-down delay starts); the spec
is untouched, so the desired template stays what Git says until a retry or a new revision.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TextIO

from rollouts.cli import steering
from rollouts.cli.apply import add_name, steer

__all__ = ["register"]


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    return steer(args, out=out, decide=lambda rollout, _: steering.abort(rollout, now=datetime.now(UTC)))


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser("abort", parents=[common], help="abort the update: all traffic back to stable")
    add_name(parser)
    parser.set_defaults(run=run)
