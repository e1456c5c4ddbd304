"""What the canary judge (rollouts/engine/judge_stats.py) can catch at its defaults, and what it costs.

Detection: per-interval error rates are noisy, so each trial draws the baseline's samples from
Normal(0.02, sigma) and the canary's from Normal(0.03, sigma), a canary with 1 percentage point more
errors, and the judge decides at its defaults (alpha 0.05, min_samples 10, min_effect 0). For each
sample size n (per side) the figure is the share of ``TRIALS`` seeded trials that Fail; the result is
the smallest n whose share is at least 95%. ``test_only_n`` is the same with min_samples 1, so it says
whether the test or the min_samples floor decides. ``false_fail_share`` is the share of trials that
Fail at that n when the canary has the baseline's distribution (about alpha, by construction).

Time: one ``judge()`` of 1000 vs 1000 (and 100 vs 100) samples with ``timeit``, the best and the
median of 5 repeats, in milliseconds. Run with ``python -m bench.judge``.
"""

from __future__ import annotations

import random
import statistics
import timeit
from typing import Any

from rollouts.engine.judge_stats import Decision, Direction, judge

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
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
