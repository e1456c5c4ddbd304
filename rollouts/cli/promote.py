"""``kubectl rollouts promote NAME [--full]``: continue past a pause, or skip to the end of the update.

Without ``--full``: a Rollout held by a pause (step, blue-green pre-promotion, inconclusive
analysis) continues; a canary at a step that is not a pause skips that step. ``--full`` skips
every remaining step, pause and analysis (``status.promoteFull``). Both go through the status
subresource; a ``spec.paused`` set by ``pause`` is lifted too.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from rollouts.cli import steering
from rollouts.cli.apply import add_name, steer

__all__ = ["register"]


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    return steer(args, out=out, decide=lambda rollout, _: steering.promote(rollout, full=args.full))


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser(
        "promote", parents=[common], help="continue a paused Rollout (--full: skip to the end)"
    )
    add_name(parser)
    parser.add_argument("--full", action="store_true", help="skip every remaining step, pause and analysis")
    parser.set_defaults(run=run)
