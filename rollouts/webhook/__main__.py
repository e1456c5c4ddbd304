"""``kube-rollouts-webhook``: the validating admission webhook process.

    kube-rollouts-webhook (--service NAMESPACE/NAME[:PORT] | --url-host HOST)
                          [--bind ADDR] [--port N] [--health-port N] [--configuration NAME]
                          [--kubeconfig PATH] [--context NAME] [--log-format text|json]

kopf serves HTTPS on ``--bind:--port`` with a certificate made at start in memory
(:mod:`rollouts.webhook.certificate`) and keeps the ValidatingWebhookConfiguration
``--configuration`` pointing at it: at the Service ``--service`` in a cluster (the chart), or at
``https://HOST:PORT`` with ``--url-host`` (an API server on this host, as in the local test
cluster). ``--health-port`` serves kopf's ``/healthz``. Login is the controller's
(``--kubeconfig``/``$KUBECONFIG``/``~/.kube/config``, else in-cluster).

It runs apart from the controller (its own Deployment in the chart): admission must answer
whatever replica of the controller leads, and a self-signed certificate made in memory can only
be the one in the configuration's ``caBundle`` if exactly one process serves it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import kopf

from rollouts.controller.__main__ import JsonFormatter
from rollouts.kube import ConfigError, KubeClient, load_config
from rollouts.webhook.certificate import self_signed
from rollouts.webhook.handlers import build_registry
from rollouts.webhook.server import AdmissionServer, ServiceReference

__all__ = ["main"]

DEFAULT_CONFIGURATION = "kube-rollouts.rollouts.dev"
DRY_RUN_TIMEOUT = 5.0
"""Seconds the pod template's dry-run may take: well inside the API server's wait for the webhook."""

log = logging.getLogger("kube-rollouts.webhook")


def _service(text: str) -> ServiceReference:
    where, _, port = text.partition(":")
    namespace, _, name = where.partition("/")
    if not namespace or not name or (port and not port.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAMESPACE/NAME or NAMESPACE/NAME:PORT")
    return ServiceReference(namespace=namespace, name=name, port=int(port or 443))


def _configuration(text: str) -> str:
    # kopf names each webhook "<handler id>.<configuration>", and the API server wants a webhook's
    # name to be a domain of three or more labels.
    if "." not in text.strip("."):
        raise argparse.ArgumentTypeError(f"{text!r}: use a domain-like name, such as {DEFAULT_CONFIGURATION}")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kube-rollouts-webhook",
        description="Validate Rollouts, AnalysisTemplates and ClusterAnalysisTemplates at apply time.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--service",
        type=_service,
        metavar="NAMESPACE/NAME[:PORT]",
        help="the Service the API server calls (in a cluster; port default 443)",
    )
    where.add_argument(
        "--url-host", metavar="HOST", help="call https://HOST:PORT instead (API server on a host)"
    )
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=9443, help="HTTPS port to listen on (default 9443)")
    parser.add_argument("--health-port", type=int, default=8081, help="port of /healthz (-1: off)")
    parser.add_argument(
        "--configuration",
        type=_configuration,
        default=DEFAULT_CONFIGURATION,
        metavar="NAME",
        help=f"the ValidatingWebhookConfiguration kopf keeps (default {DEFAULT_CONFIGURATION})",
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def _settings(args: argparse.Namespace, *, certfile: str, pkeyfile: str) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.admission.server = AdmissionServer(
        service=args.service,
        addr=args.bind,
        port=args.port,
        host=args.url_host,
        certfile=certfile,
        pkeyfile=pkeyfile,
    )
    settings.admission.managed = args.configuration
    # Nothing kopf-specific on any object, and no cluster-wide reads beyond discovery: no Events
    # from kopf, no peering objects (one process serves), no watch on CRDs or namespaces (the
    # kinds are resolved once at start; the chart installs the CRDs before this pod).
    settings.posting.enabled = False
    settings.peering.standalone = True
    settings.scanning.disabled = True
    return settings


async def _run(args: argparse.Namespace) -> int:
    try:
        config = load_config(kubeconfig=args.kubeconfig, context=args.context)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    hostnames = args.service.hostnames if args.service else [args.url_host]
    log.info("starting: %s, configuration %s", config.source, args.configuration)
    async with KubeClient(config, user_agent="kube-rollouts-webhook", timeout=DRY_RUN_TIMEOUT) as client:
        with self_signed(hostnames) as cert:
            await kopf.operator(
                registry=build_registry(client, config),
                settings=_settings(args, certfile=cert.certfile, pkeyfile=cert.pkeyfile),
                standalone=True,
                clusterwide=True,
                liveness_endpoint=f"http://{args.bind}:{args.health_port}/healthz"
                if args.health_port >= 0
                else None,
            )
    log.info("stopped")
    return 0


class _RefusalsAreInfo(logging.Filter):
    """kopf logs every refused object at ERROR ("... failed permanently: <message>"), as it does any
    handler's permanent error; here the only permanent error is the refusal (AdmissionError), which
    is the webhook doing its job. INFO keeps it in the log without paging anyone; a handler that
    crashes is still logged by kopf at ERROR, with its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "kopf.objects" and " failed permanently: " in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RefusalsAreInfo())
    handler.setFormatter(
        JsonFormatter()
        if args.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "celpy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
