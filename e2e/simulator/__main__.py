"""`python -m e2e.simulator --namespace NS [--namespace NS2 ...] [--port N] [--rate R] [--request-class C]...`

Serves simulated NGINX Ingress and Istio request metrics, and the applications' own per revision, for
the watched namespaces on `http://127.0.0.1:PORT/metrics` and registers itself with the local
Prometheus (a file in `$PROMETHEUS_TARGETS_DIR`), which it removes on exit (Ctrl-C or SIGTERM). The
first line on stdout is `serving http://HOST:PORT/metrics as NAME`, for whoever started it with
`--port 0`.

`--request-class` (repeatable) adds a class of tagged requests taking its share of every router's
rate, either as `share=0.2,name=beta,method=GET,path=/api,header:x-beta=yes,cookie:beta=always` or as
the same fields in JSON (`{"share": 0.2, "headers": {"x-beta": "yes"}}`); see `e2e.simulator.mix`.
Without it every request is plain (`GET /`, no headers), and the series are what they always were.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from e2e.simulator.mix import parse_request_class, request_mix
from e2e.simulator.server import Runner, Settings
from e2e.simulator.simulation import DEFAULT_RATE


def parse(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m e2e.simulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), help="default: $KUBECONFIG")
    parser.add_argument(
        "--namespace", "-n", action="extend", nargs="+", required=True, help="namespace(s) to watch"
    )
    parser.add_argument("--port", type=int, default=0, help="port to serve on (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--rate", type=float, default=DEFAULT_RATE, help="requests per second per Ingress / VirtualService"
    )
    parser.add_argument(
        "--targets-dir",
        default=os.environ.get("PROMETHEUS_TARGETS_DIR"),
        help="Prometheus file_sd folder to register in (default: $PROMETHEUS_TARGETS_DIR; '' for none)",
    )
    parser.add_argument("--name", default=None, help="scrape target name (default: traffic-simulator-<pid>)")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between cluster reads")
    parser.add_argument(
        "--request-class",
        action="append",
        default=[],
        metavar="SPEC",
        help="tagged requests, repeatable: 'share=0.2,name=beta,method=GET,path=/api,header:x-beta=yes,"
        "cookie:beta=always' or the same as JSON; their series carry request_class=NAME",
    )
    args = parser.parse_args(argv)
    try:
        classes = tuple(parse_request_class(spec) for spec in args.request_class)
        request_mix(classes)
    except ValueError as exc:
        parser.error(f"--request-class: {exc}")
    if args.rate < 0:
        parser.error(f"--rate must be zero or more requests per second, got {args.rate}")
    if args.poll_interval <= 0:
        parser.error(f"--poll-interval must be more than 0 seconds, got {args.poll_interval}")
    return Settings(
        kubeconfig=args.kubeconfig,
        namespaces=tuple(dict.fromkeys(args.namespace)),
        port=args.port,
        host=args.host,
        rate=args.rate,
        targets_dir=args.targets_dir or None,
        name=args.name or f"traffic-simulator-{os.getpid()}",
        poll_interval=args.poll_interval,
        request_classes=classes,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s simulator %(levelname)s %(message)s")
    settings = parse(sys.argv[1:] if argv is None else argv)
    try:
        runner = Runner(settings)
    except Exception as exc:  # a missing/unreadable kubeconfig, a port in use
        print(f"simulator: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    runner.start()
    print(f"serving http://{runner.address}/metrics as {settings.name}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        runner.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
