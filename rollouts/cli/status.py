"""``kubectl rollouts status NAME [--no-watch] [--timeout D]``: the phase, as an exit code CI can branch on.

By default the command watches (as ``kubectl argo rollouts status`` does): it prints the phase and
its message each time they change, and ends when the Rollout is Healthy (exit 0) or Degraded
(exit 3), or when ``--timeout`` runs out first (exit 2, with a message that says what it is still
waiting for). A Paused Rollout keeps it waiting: a pause step waits for a promote. So a pipeline
step ``kubectl rollouts status web --timeout 15m`` passes only when the delivery finished. ``-w``
is accepted (it is the default). ``--no-watch`` prints the phase once; its exit code is the
phase's: 0 Healthy, 3 Degraded, 4 Progressing, 5 Paused. Errors (the Rollout not found, access
denied, no cluster) exit 1 and bad flags 2, as in every verb (``EXIT_CODES`` is the table
``--help`` prints).

A phase the controller wrote before it saw the latest spec (``observedGeneration`` behind) counts as
Progressing, so a status checked right after ``kubectl apply`` never reports the old revision's
Healthy. While watching, an API-server blip after the first good read is waited out (``watch``); a
first read that fails (a wrong kubeconfig, no cluster) fails at once.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from rollouts.api import parse_duration
from rollouts.cli.cluster import Session, get_rollout, run_in_cluster, transient
from rollouts.cli.errors import (
    EXIT_DEGRADED,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PAUSED,
    EXIT_PROGRESSING,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CliError,
)
from rollouts.cli.facts import dig, phase_of
from rollouts.cli.options import add_output_flag, cluster_options, output_options
from rollouts.cli.output import dump
from rollouts.cli.style import PLAIN, Style
from rollouts.cli.watch import watch

__all__ = ["EXIT_CODES", "exit_code_for", "register", "render_status", "status_data"]

_FINAL = ("Healthy", "Degraded")

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "Healthy: the delivery finished"),
    (EXIT_ERROR, "error: the Rollout not found, access denied, no cluster, ..."),
    (EXIT_TIMEOUT, "--timeout ran out before Healthy or Degraded (2 is also a bad flag)"),
    (EXIT_DEGRADED, "Degraded: aborted, failed analysis, invalid spec, deadline passed"),
    (EXIT_PROGRESSING, "Progressing (--no-watch only)"),
    (EXIT_PAUSED, "Paused: waiting for a promote or a resume (--no-watch only)"),
)
"""The exit codes of ``status``, as ``--help`` and docs/cli.md list them."""


def exit_code_for(phase: str) -> int:
    """The exit code of ``--no-watch`` for ``phase`` (an unknown phase counts as Progressing)."""
    return {"Healthy": EXIT_OK, "Degraded": EXIT_DEGRADED, "Paused": EXIT_PAUSED}.get(phase, EXIT_PROGRESSING)


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


def _waiting_for(name: str, phase: str, message: str | None) -> str:
    """What a timed-out watch was still waiting for, and what the Rollout is doing instead."""
    return (
        f"waiting for rollout {name} to be Healthy or Degraded "
        f"(it is {phase}{': ' + message if message else ''})"
    )


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    options = output_options(args)
    if not args.watch and args.timeout is not None:
        raise CliError(
            f"--timeout {args.timeout} has no effect with --no-watch (it prints the phase once); "
            "drop one of them",
            exit_code=EXIT_USAGE,
        )
    timeout = _timeout(args.timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    code = EXIT_OK
    read = False

    def text(rollout: dict[str, Any]) -> str:
        if options.format is not None:
            return dump(status_data(rollout), options.format)
        return render_status(rollout, style=options.style)

    def blip(exc: Exception) -> bool:
        """Wait out a retryable API error while watching, once the Rollout was read at least once."""
        return bool(args.watch and read and transient(exc))

    async def operation(session: Session) -> None:
        async def frame() -> tuple[str, bool]:
            nonlocal code, read
            rollout = await get_rollout(session, args.name)
            read = True
            phase = phase_of(rollout)
            code = exit_code_for(phase)
            if phase in _FINAL or not args.watch:
                return text(rollout), True
            if deadline is not None and time.monotonic() >= deadline:
                message = dig(rollout, "status", "message")
                raise CliError(
                    f"timed out after {args.timeout} {_waiting_for(args.name, phase, message)}",
                    exit_code=EXIT_TIMEOUT,
                )
            return text(rollout), False

        await watch(frame, out=out, tty=False, transient=blip)

    run_in_cluster(cluster_options(args), operation)
    return code


def _epilog() -> str:
    rows = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES)
    return (
        f"exit codes:\n{rows}\n\n"
        "Watches by default until Healthy or Degraded (a Paused Rollout keeps it waiting).\n"
        "In CI: kubectl rollouts status web --timeout 15m"
    )


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser(
        "status",
        parents=[common],
        help="wait until Healthy (exit 0) or Degraded (3), or --timeout (2); --no-watch: print once",
        description="Print the Rollout's phase and message; by default, watch until it settles.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", help="name of the Rollout")
    parser.add_argument(
        "-w",
        "--watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until Healthy or Degraded (the default); --no-watch prints the phase once and "
        "exits with its code",
    )
    parser.add_argument(
        "--timeout", metavar="D", help="give up waiting after D (e.g. 90s, 10m): exit 2; default: no limit"
    )
    add_output_flag(parser)
    parser.set_defaults(run=run)
