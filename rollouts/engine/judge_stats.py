"""The statistics of the canary judge: is the canary's metric worse than the baseline's?

The judge queries one PromQL expression for the canary's pods and for a baseline (pods of the stable
version started at the same time, so both see the same traffic and warm-up), and compares the two
samples with a Mann-Whitney U test, as Kayenta's classifier does: it is rank-based, so it needs no
assumption about the metric's distribution (error rates and latencies are skewed and bounded), and
one outlier interval cannot carry it.

Pure functions over plain floats, standard library only, so the numbers are checked against scipy
in the unit tests and the provider that queries Prometheus only decides *what* to sample.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_EFFECT",
    "DEFAULT_MIN_SAMPLES",
    "Alternative",
    "Decision",
    "Direction",
    "Judgment",
    "MannWhitney",
    "judge",
    "mann_whitney_u",
]

Alternative = Literal["two-sided", "less", "greater"]

# scipy's 'auto' rule (scipy.stats._mannwhitneyu._mwu_choose_method, 1.17 and 1.18): the exact
# distribution when the smaller sample has at most this many values and no value occurs twice.
_EXACT_MAX_SIZE = 8


@dataclass(frozen=True, kw_only=True)
class MannWhitney:
    """Result of :func:`mann_whitney_u`: U of the first sample, its p-value, and how p was found."""

    statistic: float
    p_value: float
    method: Literal["exact", "asymptotic"]


def mann_whitney_u(
    x: Sequence[float], y: Sequence[float], *, alternative: Alternative = "two-sided"
) -> MannWhitney:
    """The Mann-Whitney U test of x against y, as ``scipy.stats.mannwhitneyu`` computes it by default.

    Written out so the controller needs no scipy at run time; it follows scipy's defaults
    (``method="auto"``, ``use_continuity=True``) so every p-value can be checked against scipy:

    * the statistic is U1 = R1 - n1(n1+1)/2 of ``x``, with average ranks for ties;
    * ``"greater"`` tests whether x is stochastically greater than y, ``"less"`` smaller;
    * exact null distribution when the smaller sample has at most 8 values and there are no ties
      (scipy's rule: the exact method when *either* sample is that small);
      otherwise the normal approximation with tie and continuity corrections.

    When every value is the same the tie-corrected variance is 0 and the p-value is 1.0: nothing
    tells the samples apart. scipy 1.17 returns 1.0 there too, by dividing -0.5 by a zero deviation
    (z = -inf) with numpy's division warnings silenced; scipy 1.18 gives the same for one-sided tests
    but NaN (0/0) for two-sided. Here it is a case of its own, never a division by zero.

    Raises ValueError for an empty sample or a NaN, as scipy does.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u: both samples need at least one value")
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"mann_whitney_u: unknown alternative {alternative!r}")
    values = [float(v) for v in (*x, *y)]
    if any(math.isnan(v) for v in values):
        raise ValueError("mann_whitney_u: the samples must not contain NaN")
    ranks, ties = _average_ranks(values)
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    u2 = n1 * n2 - u1
    # Like scipy, every alternative is an upper tail: P(U >= u) for the U that the alternative makes large.
    u, factor = {"greater": (u1, 1), "less": (u2, 1), "two-sided": (max(u1, u2), 2)}[alternative]
    if min(n1, n2) <= _EXACT_MAX_SIZE and all(t == 1 for t in ties):
        p = _exact_upper_tail(round(u), n1, n2)
        method: Literal["exact", "asymptotic"] = "exact"
    else:
        p = _normal_upper_tail(u, n1, n2, ties)
        method = "asymptotic"
    return MannWhitney(statistic=u1, p_value=min(1.0, p * factor), method=method)


def _average_ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """1-based ranks with tied values given their average rank, and the size of each group of equal values."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and values[order[end]] == values[order[start]]:
            end += 1
        for i in order[start:end]:
            ranks[i] = (start + 1 + end) / 2  # the mean of ranks start+1 .. end
        ties.append(end - start)
        start = end
    return ranks, ties


def _exact_upper_tail(u: int, n1: int, n2: int) -> float:
    """P(U >= u) under the null hypothesis, from exact integer counts of the rank arrangements.

    U is symmetric about n1*n2/2, so P(U >= u) = P(U <= n1*n2 - u); the count of arrangements with
    U = k is the coefficient of q^k in the Gaussian binomial [n1+n2 choose n1]_q, the product over
    i = 1..m of (1 - q^(n+i)) / (1 - q^i) with m = min(n1, n2) <= 8, n = max(n1, n2). Only the
    coefficients up to the tail's end are built, so one tail costs O(m * n1 * n2) integer steps.
    """
    m, n = min(n1, n2), max(n1, n2)
    total = math.comb(m + n, m)
    k = n1 * n2 - u
    if 2 * k > n1 * n2:  # the shorter sum is the complement
        return (total - _arrangements_at_most(n1 * n2 - k - 1, m, n)) / total
    return _arrangements_at_most(k, m, n) / total


def _arrangements_at_most(k: int, m: int, n: int) -> int:
    """How many of the C(m+n, m) rank arrangements give U <= k (0 when k < 0)."""
    if k < 0:
        return 0
    coefficients = [1] + [0] * k
    for i in range(1, m + 1):
        step = n + i
        for j in range(k, step - 1, -1):  # times (1 - q^step)
            coefficients[j] -= coefficients[j - step]
        for j in range(i, k + 1):  # divided by (1 - q^i)
            coefficients[j] += coefficients[j - i]
    return sum(coefficients)


def _normal_upper_tail(u: float, n1: int, n2: int, ties: Sequence[int]) -> float:
    """P(U >= u) by the normal approximation, with scipy's tie correction and continuity correction."""
    n = n1 + n2
    tie_term = sum(t**3 - t for t in ties)
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))  # n >= 2: both samples have a value
    if variance <= 0.0:
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


# --- the judge ---------------------------------------------------------------------------------------

# 5%: the conventional level. It is the chance that one judgment of a canary no worse than its
# baseline fails; a metric judged repeatedly fails by chance more often, which the metric's
# failureLimit (or a lower alpha) absorbs.
DEFAULT_ALPHA = 0.05
# 10 per side: enough for a clearly worse canary to fail (complete separation gives p ~ 1e-4, and from
# 9 per side scipy itself trusts the normal approximation), and at a 1-minute query step it is 10
# minutes of traffic. Fewer samples would let a canary pass that the test had little chance to catch.
DEFAULT_MIN_SAMPLES = 10
# No tolerance by default: any significant shift for the worse fails. Set it when large samples make
# differences too small to matter significant (0.005 = half a percentage point of error rate).
DEFAULT_MIN_EFFECT = 0.0


class Direction(StrEnum):
    """Which way a change of the metric is bad: up for error rates and latency, down for throughput."""

    HIGHER_IS_WORSE = "HigherIsWorse"
    LOWER_IS_WORSE = "LowerIsWorse"


class Decision(StrEnum):
    """The judge's verdict for one measurement."""

    PASS = "Pass"
    FAIL = "Fail"
    INCONCLUSIVE = "Inconclusive"


@dataclass(frozen=True, kw_only=True)
class Judgment:
    """One comparison of canary with baseline. Test figures are None when a sample was empty."""

    decision: Decision
    statistic: float | None  # U of the canary sample
    p_value: float | None  # of the one-sided test in the worse direction
    canary_median: float | None
    baseline_median: float | None
    canary_count: int
    baseline_count: int
    reason: str


def judge(
    canary: Sequence[float],
    baseline: Sequence[float],
    *,
    direction: Direction,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = DEFAULT_MIN_EFFECT,
) -> Judgment:
    """Pass, Fail or Inconclusive for the canary's samples of one metric against the baseline's.

    The reasons name the options by their YAML names (``minSamples``, ``alpha``, ``minEffect`` of
    ``provider.judge``), since they become the measurement's message.

    NaN values are dropped first: a ratio over an interval with no requests is no sample at all.

    * **Inconclusive** when either side has fewer than ``min_samples`` values: too little data never
      passes. Also when, at these sample sizes, even a canary worse in every interval could not reach
      p < ``alpha`` (a low ``min_samples`` with a small ``alpha``): there a Pass would mean nothing.
    * **Fail** when the one-sided Mann-Whitney test in the worse direction gives p < ``alpha`` *and*
      the canary's median is worse than the baseline's by at least ``min_effect``, an absolute
      difference in the metric's own unit (0.005 for error rates as fractions, seconds for
      latency). With the default 0 a significant shift whose medians are equal still fails (say
      error rates that are 0 in most intervals on both sides, but non-zero more often on the canary).
    * **Pass** otherwise: with enough samples, the canary was not shown worse, or worse by less than
      ``min_effect``. This is absence of evidence for a regression, not a proof of equivalence; how
      small a regression it can catch grows with the samples (``bench/judge.py`` measures it).
    """
    if min_samples < 1:
        raise ValueError("judge: min_samples must be at least 1")
    if not 0.0 < alpha < 1.0:
        raise ValueError("judge: alpha must be between 0 and 1")
    if not min_effect >= 0.0:
        raise ValueError("judge: min_effect must be 0 or more")
    canary = [v for v in canary if not math.isnan(v)]
    baseline = [v for v in baseline if not math.isnan(v)]
    n_canary, n_baseline = len(canary), len(baseline)
    higher = direction is Direction.HIGHER_IS_WORSE
    test = (
        mann_whitney_u(canary, baseline, alternative="greater" if higher else "less")
        if canary and baseline
        else None
    )
    if test is None or min(n_canary, n_baseline) < min_samples:
        return Judgment(
            decision=Decision.INCONCLUSIVE,
            statistic=test.statistic if test else None,
            p_value=test.p_value if test else None,
            canary_median=statistics.median(canary) if canary else None,
            baseline_median=statistics.median(baseline) if baseline else None,
            canary_count=n_canary,
            baseline_count=n_baseline,
            reason=f"{n_canary} canary and {n_baseline} baseline samples; at least {min_samples} on each "
            "side are needed (minSamples)",
        )
    canary_median, baseline_median = statistics.median(canary), statistics.median(baseline)
    medians = f"canary median {canary_median:.4g}, baseline {baseline_median:.4g}"
    worse_by = canary_median - baseline_median if higher else baseline_median - canary_median
    worse, p = ("higher" if higher else "lower"), test.p_value
    if p < alpha and worse_by >= min_effect:
        decision, reason = Decision.FAIL, f"canary is {worse} (worse): p={p:.3g} < {alpha:g}; {medians}"
    elif p < alpha:
        decision = Decision.PASS
        reason = (
            f"canary is {worse} (p={p:.3g}) but its median is worse by {worse_by:.4g}, under "
            f"minEffect {min_effect:g}; {medians}"
        )
    elif _smallest_p(n_canary, n_baseline) >= alpha:
        decision = Decision.INCONCLUSIVE
        reason = (
            f"{n_canary} canary and {n_baseline} baseline samples cannot reach p < {alpha:g} (alpha) "
            "even if every canary value is worse; raise minSamples (or the window)"
        )
    else:
        decision, reason = Decision.PASS, f"canary not shown {worse}: p={p:.3g} >= {alpha:g}; {medians}"
    return Judgment(
        decision=decision,
        statistic=test.statistic,
        p_value=p,
        canary_median=canary_median,
        baseline_median=baseline_median,
        canary_count=n_canary,
        baseline_count=n_baseline,
        reason=reason,
    )


def _smallest_p(n1: int, n2: int) -> float:
    """The one-sided p-value of complete separation (every canary value worse than every baseline one)."""
    return mann_whitney_u(range(n2, n2 + n1), range(n2), alternative="greater").p_value
