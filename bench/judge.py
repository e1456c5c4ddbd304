"""What the canary judge (rollouts/engine/judge_stats.py) can catch at its defaults, and what it costs.

Detection: per-interval error rates are noisy, so each trial draws the baseline's samples from
Normal(0.02, sigma) and the canary's from Normal(0.03, sigma), a canary with 1 percentage point more
errors, and the judge decides at its defaults (alpha 0.05, min_samples 10, min_effect 0). For each
sample size n (per side) the figure is the share of ``TRIALS`` seeded trials that Fail; the result is
the smallest n whose share is at least 95%. ``test_only_n`` is the same with min_samples 1, so it says
whether the test or the min_samples floor decides. ``false_fail_share`` is the share of trials that
Fail at that n when the canary has the baseline's distribution (about alpha, by construction).

Time: one ``judge()`` of 1000 vs 1000 (and 100 vs 100) samples with ``timeit``, the best and the
median of 5 repeats, in milliseconds.

Provider: one ``JudgeProvider.measure`` (two range queries, their JSON read into samples, the
judgment) against a local HTTP server that answers every query with a canned matrix of 11 points
(the default 5m window at 30s) or of 10 series x 100 points (per pod), median of 50 in ms. That is
the controller's own cost per measurement, over loopback; Prometheus' evaluation of the queries
comes on top and depends on the server. Run with ``python -m bench.judge``.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rollouts.api.analysis import Metric
from rollouts.engine.judge_stats import Decision, Direction, judge
from rollouts.metrics.judge import JudgeProvider

TRIALS = 200
BASELINE_RATE, CANARY_RATE = 0.02, 0.03
NOISE = (0.005, 0.01)  # sigma of one interval's error rate; 0.005 is the case the issue asks about


def _samples(rng: random.Random, n: int, mean: float, sigma: float) -> list[float]:
    return [rng.gauss(mean, sigma) for _ in range(n)]


def _fail_share(n: int, sigma: float, canary_rate: float, **options: Any) -> float:
    fails = 0
    for trial in range(TRIALS):
        rng = random.Random(f"judge-{sigma}-{n}-{trial}")
        baseline = _samples(rng, n, BASELINE_RATE, sigma)
        canary = _samples(rng, n, canary_rate, sigma)
        judgment = judge(canary, baseline, direction=Direction.HIGHER_IS_WORSE, **options)
        fails += judgment.decision is Decision.FAIL
    return fails / TRIALS


def _smallest_n(sigma: float, **options: Any) -> int:
    n = 1
    while _fail_share(n, sigma, CANARY_RATE, **options) < 0.95:
        n += 1
    return n


def _judge_ms(n: int) -> dict[str, float]:
    rng = random.Random(f"judge-time-{n}")
    baseline = _samples(rng, n, BASELINE_RATE, 0.005)
    canary = _samples(rng, n, CANARY_RATE, 0.005)
    timer = timeit.Timer(lambda: judge(canary, baseline, direction=Direction.HIGHER_IS_WORSE))
    number, _ = timer.autorange()
    per_call = [t / number * 1000 for t in timer.repeat(repeat=5, number=number)]
    return {"best_ms": round(min(per_call), 3), "median_ms": round(statistics.median(per_call), 3)}


@contextmanager
def _canned_prometheus(series: int, points: int) -> Iterator[str]:
    """A local server answering every query with ``series`` x ``points`` samples around 1 %."""
    rng = random.Random(f"judge-provider-{series}-{points}")
    result = [
        {
            "metric": {"pod": str(i)},
            "values": [[1e9 + 30 * j, str(rng.gauss(0.01, 0.002))] for j in range(points)],
        }
        for i in range(series)
    ]
    payload = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the provider's pooled client uses it
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed ACK

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _provider_ms(series: int, points: int) -> dict[str, float]:
    with _canned_prometheus(series, points) as address:
        judge_spec = {
            "address": address,
            "canaryQuery": "c",
            "baselineQuery": "b",
            "direction": "HigherIsWorse",
        }
        metric = Metric.model_validate({"name": "m", "provider": {"judge": judge_spec}})
        provider = JudgeProvider()
        provider.measure(metric)  # the client is made (and requests imported) once, not timed
        times = []
        for _ in range(50):
            start = time.perf_counter()
            provider.measure(metric)
            times.append((time.perf_counter() - start) * 1000)
    return {"best_ms": round(min(times), 2), "median_ms": round(statistics.median(times), 2)}


def run() -> dict[str, Any]:
    detection = {}
    for sigma in NOISE:
        n = _smallest_n(sigma)
        detection[f"sigma_{sigma}"] = {
            "n_per_side": n,
            "fail_share_at_n": _fail_share(n, sigma, CANARY_RATE),
            "fail_share_at_n_minus_1": _fail_share(n - 1, sigma, CANARY_RATE),
            "test_only_n": _smallest_n(sigma, min_samples=1),
            "false_fail_share": _fail_share(n, sigma, BASELINE_RATE),
        }
    return {
        "trials": TRIALS,
        "baseline_rate": BASELINE_RATE,
        "canary_rate": CANARY_RATE,
        "detection": detection,
        "judge_1000_vs_1000": _judge_ms(1000),
        "judge_100_vs_100": _judge_ms(100),
        "provider_11_points_per_side": _provider_ms(1, 11),
        "provider_1000_points_per_side": _provider_ms(10, 100),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
