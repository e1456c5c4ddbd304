"""Flags every verb shares, parsed once into small frozen objects the operations take.

``--kubeconfig``, ``--context``, ``-n/--namespace`` and (where it makes sense) ``-A`` mean what
they mean to kubectl. They may be given before or after the verb (``kubectl rollouts -n shop get
rollout web`` and ``kubectl rollouts get rollout web -n shop``): the copies on each verb default
to "not given", so a flag before the verb is not overwritten by the verb's default.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

from rollouts.cli.style import PLAIN, Style, color_wanted

__all__ = [
    "ClusterOptions",
    "OutputFormat",
    "OutputOptions",
    "add_all_namespaces",
    "add_cluster_flags",
    "add_output_flag",
    "cluster_options",
    "output_options",
]

OutputFormat = Literal["json", "yaml"]


@dataclass(frozen=True, kw_only=True)
class ClusterOptions:
    """Which cluster and namespace a verb talks to (``None``: kubectl's own default)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False


@dataclass(frozen=True, kw_only=True)
class OutputOptions:
    """How a verb prints: machine format (``-o``) or text, with or without color."""

    format: OutputFormat | None = None
    style: Style = PLAIN


def add_cluster_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add ``--kubeconfig/--context/-n``; ``suppress`` leaves them unset unless given (verb copies)."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("cluster")
    group.add_argument("--kubeconfig", default=default, metavar="PATH", help="kubeconfig file to use")
    group.add_argument("--context", default=default, metavar="NAME", help="kubeconfig context to use")
    group.add_argument(
        "-n", "--namespace", default=default, metavar="NS", help="namespace (default: the context's)"
    )
    group.add_argument(
        "--no-color",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="never color the output (it is plain anyway when not a terminal)",
    )


def add_all_namespaces(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="list those of every namespace")


MANIFEST_FILES_HELP = "YAML file (may hold many documents), directory, or - for stdin; repeatable"


def add_filename_flag(parser: argparse.ArgumentParser, *, help: str = MANIFEST_FILES_HELP) -> None:
    """``-f FILE`` of the offline verbs (``lint``, ``plan``, ``convert``): repeatable, required."""
    parser.add_argument("-f", "--filename", action="append", required=True, metavar="FILE", help=help)


def add_output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", choices=("json", "yaml"), default=None, help="print machine-readable JSON or YAML"
    )


def cluster_options(args: argparse.Namespace) -> ClusterOptions:
    return ClusterOptions(
        kubeconfig=getattr(args, "kubeconfig", None),
        context=getattr(args, "context", None),
        namespace=getattr(args, "namespace", None),
        all_namespaces=bool(getattr(args, "all_namespaces", False)),
    )


def output_options(args: argparse.Namespace) -> OutputOptions:
    output = getattr(args, "output", None)
    color = color_wanted(no_color=bool(getattr(args, "no_color", False)))
    return OutputOptions(format=output, style=Style(color=color and output is None))
