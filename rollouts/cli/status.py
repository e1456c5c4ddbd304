"""``kubectl rollouts status NAME [-w] [--timeout D]``: the phase, as an exit code CI can branch on.

Prints the phase and its message. Exit codes: 0 Healthy, 1 Degraded, 2 when ``--timeout`` ran
out first. Without ``-w`` a Rollout that is still Progressing or Paused exits 0 after printing
(it is not failing); with ``-w`` the command waits until Healthy or Degraded, so a pipeline step
``kubectl rollouts status web -w --timeout 15m`` passes only when the delivery finished. A phase
the controller wrote before it saw the latest spec (``observedGeneration`` behind) counts as
Progressing, so a status checked right after ``kubectl apply`` never reports the old revision's
Healthy.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from rollouts.api import parse_duration
from rollouts.cli.cluster import Session, get_rollout, run_in_cluster, transient
from rollouts.cli.errors import EXIT_DEGRADED, EXIT_OK, EXIT_TIMEOUT, CliError
from rollouts.cli.facts import dig, phase_of
from rollouts.cli.options import add_output_flag, cluster_options, output_options
from rollouts.cli.output import dump
from rollouts.cli.style import PLAIN, Style
from rollouts.cli.watch import watch

__all__ = ["exit_code_for", "register", "render_status", "status_data"]

_FINAL = ("Healthy", "Degraded")


def exit_code_for(phase: str) -> int:
    return EXIT_DEGRADED if phase == "Degraded" else EXIT_OK


def status_data(rollout: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": dig(rollout, "metadata", "name"),
        "namespace": dig(rollout, "metadata", "namespace"),
        "phase": phase_of(rollout),
        "message": dig(rollout, "status", "message") or "",
    }


def render_status(rollout: dict[str, Any], *, style: Style = PLAIN) -> str:
    """``◌ Progressing - at step 1 of 4 (setWeight: 20)``: the phase, and the message when there is one."""
    data = status_data(rollout)
    message = f" - {data['message']}" if data["message"] else ""
    return f"{style.status(data['phase'])}{message}\n"


def _timeout(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        seconds = parse_duration(int(text) if text.isdigit() else text).total_seconds()
    except ValueError as exc:
        raise CliError(f"--timeout {text!r}: {exc}; use seconds or a duration such as 90s, 10m") from None
    return seconds


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    options = output_options(args)
    timeout = _timeout(args.timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    outcome = {"code": EXIT_OK}

    def text(rollout: dict[str, Any]) -> str:
        if options.format is not None:
            return dump(status_data(rollout), options.format)
        return render_status(rollout, style=options.style)

    async def operation(session: Session) -> None:
        async def frame() -> tuple[str, bool]:
            rollout = await get_rollout(session, args.name)
            phase = phase_of(rollout)
            outcome["code"] = exit_code_for(phase)
            if phase in _FINAL or not args.watch:
                return text(rollout), True
            if deadline is not None and time.monotonic() >= deadline:
                message = dig(rollout, "status", "message")
                raise CliError(
                    f"timed out after {args.timeout} waiting for rollout {args.name} to be Healthy "
                    f"or Degraded (it is {phase}{': ' + message if message else ''})",
                    exit_code=EXIT_TIMEOUT,
                )
            return text(rollout), False

        await watch(frame, out=out, tty=False, transient=transient if args.watch else lambda _: False)

    run_in_cluster(cluster_options(args), operation)
    return outcome["code"]


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser(
        "status",
        parents=[common],
        help="print the phase; exit 0 Healthy, 1 Degraded, 2 on --timeout (for CI)",
    )
    parser.add_argument("name", help="name of the Rollout")
    parser.add_argument("-w", "--watch", action="store_true", help="wait until Healthy or Degraded")
    parser.add_argument("--timeout", metavar="D", help="with -w, give up after D (e.g. 90s, 10m): exit 2")
    add_output_flag(parser)
    parser.set_defaults(run=run)
