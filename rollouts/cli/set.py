"""``kubectl rollouts set image NAME CONTAINER=IMAGE [...]``: a new image is a new revision to deliver."""

from __future__ import annotations

import argparse
from typing import TextIO

from rollouts.cli.apply import add_name, steer
from rollouts.cli.edits import parse_assignments, set_image

__all__ = ["register"]


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    assignments = parse_assignments(args.assignments)
    return steer(args, out=out, decide=lambda rollout, _: set_image(rollout, assignments))


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser("set", parents=[common], help="change the Rollout's spec: set image")
    what = parser.add_subparsers(title="what to set", metavar="WHAT", parser_class=type(parser))
    what.required = True
    image = what.add_parser(
        "image", parents=[common], help="set container images (CONTAINER=IMAGE, * for all)"
    )
    add_name(image)
    image.add_argument(
        "assignments", nargs="+", metavar="CONTAINER=IMAGE", help="e.g. web=nginx:1.27 or *=nginx:1.27"
    )
    image.set_defaults(run=run)
