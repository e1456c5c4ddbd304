"""``kubectl rollouts restart NAME [--in D]``: restart every pod, a few at a time (``spec.restartAt``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TextIO

from rollouts.api import parse_duration
from rollouts.cli import steering
from rollouts.cli.apply import add_name, steer
from rollouts.cli.errors import CliError

__all__ = ["register"]


def _delay(text: str | None) -> timedelta:
    if not text:
        return timedelta(0)
    try:
        return parse_duration(int(text) if text.isdigit() else text)
    except ValueError as exc:
        raise CliError(f"--in {text!r}: {exc}; use seconds or a duration such as 30s, 5m") from None


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    at = datetime.now(UTC) + _delay(args.delay)
    return steer(args, out=out, decide=lambda rollout, _: steering.restart(rollout, at=at))


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser("restart", parents=[common], help="restart the Rollout's pods (spec.restartAt)")
    add_name(parser)
    parser.add_argument(
        "--in", dest="delay", metavar="D", help="restart after D (e.g. 30s, 10m) instead of now"
    )
    parser.set_defaults(run=run)
