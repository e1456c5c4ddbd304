"""``kube-rollouts run``: the controller process.

    kube-rollouts run [--namespace NS]... [--all-namespaces] [--metrics-port N] [--health-port N]
                      [--kubeconfig PATH] [--context NAME] [--workers N] [--log-format text|json]
                      [--prometheus-address URL] [--instance-id ID]
                      [--leader-elect [--leader-election-namespace NS] ...]

Uses ``--kubeconfig``/``$KUBECONFIG``/``~/.kube/config``, else the in-cluster service account.
Without ``--namespace`` it watches the kubeconfig context's namespace; ``--all-namespaces`` watches
every namespace. ``--prometheus-address`` (default ``$PROMETHEUS_ADDRESS``) is the Prometheus of
analysis metrics that name no address. ``--instance-id ID`` serves only the Rollouts labelled
``rollouts.dev/instance: ID`` (without it: only those without the label), so several controllers
can split a cluster; each shard elects its own leader (Lease ``kube-rollouts-ID``). Logs go to
stderr, one line per event, each naming the Rollout it is about.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import uuid
from datetime import UTC, datetime

from rollouts.controller.controller import Controller, ControllerOptions
from rollouts.controller.leader import LeaseOptions, LostLeadership
from rollouts.engine.shards import INSTANCE_LABEL, InvalidInstanceId, check_instance_id
from rollouts.kube import ConfigError, KubeClient, load_config

__all__ = ["main"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kube-rollouts", description="The kube-rollouts controller.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="watch Rollouts and carry them through their strategy")
    run.add_argument(
        "--namespace",
        "-n",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="watch this namespace (repeatable); default: the kubeconfig context's",
    )
    run.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace")
    run.add_argument("--metrics-port", type=int, default=8080, help="port of /metrics (0: any free, -1: off)")
    run.add_argument("--health-port", type=int, default=8081, help="port of /healthz and /readyz (-1: off)")
    run.add_argument("--bind", default="0.0.0.0", help="address the HTTP endpoints listen on")
    run.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    run.add_argument("--context", help="kubeconfig context (default: the current one)")
    run.add_argument("--workers", type=int, default=8, help="Rollouts reconciled at once (default 8)")
    run.add_argument(
        "--prometheus-address",
        metavar="URL",
        default=os.environ.get("PROMETHEUS_ADDRESS") or None,
        help="Prometheus of analysis metrics that name no address (default: $PROMETHEUS_ADDRESS)",
    )
    run.add_argument(
        "--instance-id",
        metavar="ID",
        default=os.environ.get("KUBE_ROLLOUTS_INSTANCE_ID") or None,
        help="serve only Rollouts labelled rollouts.dev/instance=ID (default: $KUBE_ROLLOUTS_INSTANCE_ID; "
        "none: only the unlabelled ones)",
    )
    elect = run.add_argument_group(
        "leader election", "run several replicas: only the one holding the Lease acts, the others wait"
    )
    elect.add_argument("--leader-elect", action="store_true", help="act only while holding the Lease")
    elect.add_argument(
        "--leader-election-namespace",
        metavar="NS",
        help="namespace of the Lease (default: the in-cluster or kubeconfig context's namespace)",
    )
    elect.add_argument(
        "--leader-election-id",
        metavar="NAME",
        help="name of the Lease (default: kube-rollouts, or kube-rollouts-ID with --instance-id ID)",
    )
    elect.add_argument("--lease-duration", type=float, default=15.0, metavar="S", help="default 15 s")
    elect.add_argument("--renew-deadline", type=float, default=10.0, metavar="S", help="default 10 s")
    elect.add_argument("--retry-period", type=float, default=2.0, metavar="S", help="default 2 s")
    run.add_argument("--log-format", choices=("text", "json"), default="text")
    run.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def _logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "celpy"):  # celpy logs every evaluation step at DEBUG
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _run(args: argparse.Namespace) -> int:
    try:
        config = load_config(kubeconfig=args.kubeconfig, context=args.context)
    except ConfigError as exc:
        logging.getLogger("kube-rollouts").error("%s", exc)
        return 2
    namespaces = None if args.all_namespaces else (args.namespaces or [config.namespace])
    try:
        instance_id = check_instance_id(args.instance_id)
    except InvalidInstanceId as exc:
        logging.getLogger("kube-rollouts").error("%s", exc)
        return 2
    # The pod name (the hostname in a pod) says who leads; the suffix keeps two processes on one host
    # apart. It is in the User-Agent too, so the API server's audit log tells the replicas apart.
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    try:
        lease = (
            _lease(args, identity=identity, default_namespace=config.namespace, instance_id=instance_id)
            if args.leader_elect
            else None
        )
    except ValueError as exc:
        logging.getLogger("kube-rollouts").error("%s", exc)
        return 2
    options = ControllerOptions(
        leader_election=lease,
        namespaces=namespaces,
        metrics_port=args.metrics_port,
        health_port=args.health_port,
        bind=args.bind,
        workers=max(1, args.workers),
        prometheus_address=args.prometheus_address,
        instance_id=instance_id,
    )
    log = logging.getLogger("kube-rollouts")
    log.info(
        "starting: %s, namespaces %s, %s",
        config.source,
        ", ".join(namespaces) if namespaces else "all",
        f"Rollouts labelled {INSTANCE_LABEL}={instance_id}"
        if instance_id
        else f"Rollouts without the {INSTANCE_LABEL} label",
    )
    async with KubeClient(config, user_agent=f"kube-rollouts ({identity})") as client:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel if task else (lambda: None))
        lost: BaseException | None = None
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await Controller(client, options).run()
        except* LostLeadership as group:
            lost = group.exceptions[0]
    if lost is not None:
        log.error("%s; exiting so that a fresh start waits for the Lease", lost)
        return 1
    log.info("stopped")
    return 0


def _lease(
    args: argparse.Namespace, *, identity: str, default_namespace: str, instance_id: str | None
) -> LeaseOptions:
    """One Lease per shard: the controllers of two instance ids both lead, each its own Rollouts."""
    default_name = f"kube-rollouts-{instance_id}" if instance_id else "kube-rollouts"
    return LeaseOptions(
        namespace=args.leader_election_namespace or default_namespace,
        name=args.leader_election_id or default_name,
        identity=identity,
        lease_seconds=args.lease_duration,
        renew_deadline_seconds=args.renew_deadline,
        retry_seconds=args.retry_period,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _logging(args.log_format, args.log_level)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
