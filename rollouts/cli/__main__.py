"""Entry point of ``kubectl-rollouts`` (``kubectl rollouts ...`` through kubectl's plugin discovery).

Builds one argparse parser from the verb modules (each adds its own sub-parser and ``run``), runs
the chosen verb, and turns every problem a user can cause into one line on stderr and a non-zero
exit code: a :class:`CliError` from a verb, a bad flag (argparse, exit 2), Ctrl-C (130). Anything
else is a bug; it is reported in one line too, with a hint to re-run with ``KUBECTL_ROLLOUTS_DEBUG=1``
for the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from rollouts.cli import (
    abort,
    convert,
    get,
    lint,
    pause,
    plan,
    promote,
    restart,
    resume,
    retry,
    status,
    undo,
    version,
)
from rollouts.cli import list as list_verb
from rollouts.cli import set as set_verb
from rollouts.cli.errors import EXIT_USAGE, CliError
from rollouts.cli.options import add_cluster_flags

__all__ = ["build_parser", "main"]

PROG = "kubectl rollouts"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (with the usage hint), not the whole usage text."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see '{self.prog} --help')", exit_code=EXIT_USAGE)


#: Every verb module, in the order ``--help`` lists them.
VERBS = (
    get,
    list_verb,
    status,
    promote,
    abort,
    retry,
    pause,
    resume,
    restart,
    set_verb,
    undo,
    lint,
    convert,
    plan,
    version,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="See and steer kube-rollouts deliveries.")
    add_cluster_flags(parser, suppress=False)
    common = _Parser(add_help=False)
    add_cluster_flags(common, suppress=True)
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    verbs.required = True
    for module in VERBS:
        module.register(verbs, common)
    return parser


def run(argv: Sequence[str], *, out: TextIO, err: TextIO) -> int:
    """Parse ``argv`` and run the verb; return the exit code. Tests call this directly."""
    try:
        args = build_parser().parse_args(list(argv))
        code: int = args.run(args, out=out)
        return code
    except CliError as exc:
        err.write(f"error: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("KUBECTL_ROLLOUTS_DEBUG"):
            raise
        err.write(
            f"error: unexpected {type(exc).__name__}: {exc} (this is a bug in kubectl-rollouts; "
            "re-run with KUBECTL_ROLLOUTS_DEBUG=1 for the traceback and report it)\n"
        )
        return 1


def main() -> None:
    sys.exit(run(sys.argv[1:], out=sys.stdout, err=sys.stderr))


if __name__ == "__main__":
    main()
