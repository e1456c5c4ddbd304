"""Run the benchmarks named on the command line (all when none), printing each one's figures as JSON."""

from __future__ import annotations

import importlib
import json
import sys
import time

# name -> what it measures; the module bench/<name>.py has run() -> dict.
BENCHMARKS = {
    "cluster": "warm start of the local control plane and its memory",
    "controller": "N Rollouts (BENCH_ROLLOUTS, default 200) in a 3-step NGINX canary: step latency, RSS, CPU",
    "scale": "200 and 1,000 Rollouts stepping at once, 10 updates in one process, 10,000 at rest",
    "simulator": "traffic simulator core: observe, 100 ms tick and scrape cost for 40 routers",
    "engine": "time of one decide() for a 10-step routed canary in representative states",
    "traffic_routers": "one router weight change written and read back (NGINX, Istio host and subset level)",
    "analysis": "measurements per second one AnalysisRun controller sustains against the real Prometheus",
    "delivery": "first failing measurement to canary weight 0 in the Ingress, real controller and Prometheus",
    "failover": "20 Rollouts delivering while the leader is SIGKILLed 50 times: convergence, steps, traffic",
    "judge": "canary-vs-baseline judge: samples needed to fail a 1-point error-rate rise, time per judgment",
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        known = ", ".join(BENCHMARKS)
        print(f"bench: unknown benchmark(s) {', '.join(unknown)}; known: {known}", file=sys.stderr)
        return 2
    for name in names:
        started = time.monotonic()
        figures = importlib.import_module(f"bench.{name}").run()
        print(json.dumps({"benchmark": name, "about": BENCHMARKS[name], **figures}, indent=2))
        print(f"# {name}: {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
