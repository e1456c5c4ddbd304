"""``kubectl rollouts version``: which plugin this is, for bug reports and for matching the controller."""

from __future__ import annotations

import argparse
import platform
from importlib import metadata
from typing import TextIO

from rollouts.api import GROUP_VERSION
from rollouts.cli.errors import EXIT_OK

__all__ = ["plugin_version", "register"]


def plugin_version() -> str:
    """The installed kube-rollouts version (``0.0.0+unknown`` when run from a bare checkout)."""
    try:
        return metadata.version("kube-rollouts")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    out.write(
        f"kubectl-rollouts v{plugin_version()} (API {GROUP_VERSION}, Python {platform.python_version()})\n"
    )
    return EXIT_OK


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser("version", parents=[common], help="print the plugin version")
    parser.set_defaults(run=run)
