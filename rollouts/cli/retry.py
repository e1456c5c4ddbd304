"""``kubectl rollouts retry NAME``: start an aborted update again from its first step.

Clears ``status.abort`` and keeps ``status.abortedAt``: that pair is how the engine knows the
update was retried (and starts fresh analysis runs instead of re-reading the failed one).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TextIO

from rollouts.cli import steering
from rollouts.cli.apply import add_name, steer

__all__ = ["register"]


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    return steer(args, out=out, decide=lambda rollout, _: steering.retry(rollout, now=datetime.now(UTC)))


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser("retry", parents=[common], help="retry an aborted update from its first step")
    add_name(parser)
    parser.set_defaults(run=run)
