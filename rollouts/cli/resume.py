"""``kubectl rollouts resume NAME``: undo ``pause`` (``spec.paused: false``); pause steps stay."""

from __future__ import annotations

import argparse
from typing import TextIO

from rollouts.cli import steering
from rollouts.cli.apply import add_name, steer

__all__ = ["register"]


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    return steer(args, out=out, decide=lambda rollout, _: steering.resume(rollout))


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser("resume", parents=[common], help="resume a Rollout paused with pause")
    add_name(parser)
    parser.set_defaults(run=run)
