"""The canary judge's statistics. Every Mann-Whitney p-value is checked against scipy's, which is what
the pure implementation promises to match (scipy's method="auto", use_continuity=True)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.engine.judge_stats import Alternative, Decision, Direction, judge, mann_whitney_u

ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "less", "greater")


def _gauss(seed: int, n: int, mu: float, sigma: float) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mu, sigma) for _ in range(n)]


# name -> (x, y, the method scipy's 'auto' picks)
CASES: dict[str, tuple[list[float], list[float], str]] = {
    # scipy's own docstring example (diagnosis ages): exact, no ties.
    "exact, no ties": ([19, 22, 16, 29, 24], [20, 11, 17, 12], "exact"),
    "exact, separated": ([1, 2, 3], [4, 5, 6, 7], "exact"),
    "exact, one value each": ([2.0], [1.0], "exact"),
    "exact, 8 vs 8": (_gauss(1, 8, 0.3, 1), _gauss(2, 8, 0, 1), "exact"),
    # Either sample of at most 8 without ties is exact, however large the other.
    "exact, 8 vs 300": (_gauss(3, 8, 0.5, 1), _gauss(4, 300, 0, 1), "exact"),
    "exact, 250 vs 3": (_gauss(5, 250, 0, 1), _gauss(6, 3, 1, 1), "exact"),
    "asymptotic, 9 vs 9": (_gauss(7, 9, 0.5, 1), _gauss(8, 9, 0, 1), "asymptotic"),
    "ties, small": ([1, 2, 2, 3], [2, 3, 3, 4, 5], "asymptotic"),
    "ties across samples only": ([0, 1], [1, 2], "asymptotic"),
    "ties, error rates mostly 0": ([0] * 12 + [0.01, 0.02, 0.02], [0] * 14 + [0.01], "asymptotic"),
    "unequal sizes": (_gauss(9, 12, 0.2, 1), _gauss(10, 47, 0, 1), "asymptotic"),
    "large": (_gauss(11, 900, 0.05, 1), _gauss(12, 1100, 0, 1), "asymptotic"),
    "large, rounded (many ties)": (
        [round(v, 1) for v in _gauss(13, 600, 0.1, 1)],
        [round(v, 1) for v in _gauss(14, 700, 0, 1)],
        "asymptotic",
    ),
    "large, separated": ([float(i) for i in range(100, 200)], [float(i) for i in range(100)], "asymptotic"),
}


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("case", list(CASES))
def test_mann_whitney_matches_scipy(case: str, alternative: Alternative) -> None:
    x, y, method = CASES[case]
    ours = mann_whitney_u(x, y, alternative=alternative)
    theirs = scipy.stats.mannwhitneyu(x, y, alternative=alternative)
    assert ours.statistic == float(theirs.statistic)
    assert ours.p_value == pytest.approx(float(theirs.pvalue), rel=1e-12, abs=0.0)
    assert ours.method == method


@pytest.mark.parametrize(
    ("alternative", "p_value"),
    # scipy's documentation gives 1/9 and 1/18 for this example; "less" is P(U2 >= 3): 4 of the 126
    # arrangements have U <= 2 (one each for U = 0 and 1, two for U = 2).
    [("two-sided", 1 / 9), ("greater", 1 / 18), ("less", 1 - 4 / 126)],
)
def test_exact_p_values_of_the_documented_example(alternative: Alternative, p_value: float) -> None:
    result = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12], alternative=alternative)
    assert result.statistic == 17.0
    assert result.p_value == pytest.approx(p_value, rel=1e-12)


# Not compared with scipy: its two-sided p-value here is 1.0 in scipy 1.17 but NaN in 1.18 (0/0), and
# the lock holds both (1.17 for Python 3.11, 1.18 from 3.12).
@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("x", "y"), [([0.5] * 20, [0.5] * 30), ([3.0] * 6, [3.0] * 11), ([3.0], [3.0])])
def test_all_equal_values_give_p_one(x: list[float], y: list[float], alternative: Alternative) -> None:
    result = mann_whitney_u(x, y, alternative=alternative)
    assert result.p_value == 1.0
    assert result.statistic == len(x) * len(y) / 2
    assert result.method == "asymptotic"


@pytest.mark.parametrize(("x", "y"), [([], [1.0]), ([1.0], []), ([], [])])
def test_an_empty_sample_is_an_error(x: list[float], y: list[float]) -> None:
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney_u(x, y)


def test_nan_is_an_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        mann_whitney_u([1.0, math.nan], [2.0])


samples = st.one_of(
    # Small integers: many ties, the asymptotic path with its tie correction.
    st.lists(st.integers(-3, 3).map(float), min_size=1, max_size=40),
    # Continuous values: mostly no ties, the exact path when a side has at most 8.
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(x=samples, y=samples, alternative=st.sampled_from(ALTERNATIVES))
def test_p_values_match_scipy_on_random_samples(
    x: list[float], y: list[float], alternative: Alternative
) -> None:
    ours = mann_whitney_u(x, y, alternative=alternative)
    theirs = scipy.stats.mannwhitneyu(x, y, alternative=alternative)
    assert ours.statistic == float(theirs.statistic)
    if len(set(x + y)) == 1:  # all equal: see test_all_equal_values_give_p_one
        assert ours.p_value == 1.0
        return
    assert math.isclose(ours.p_value, float(theirs.pvalue), rel_tol=1e-9, abs_tol=0.0)


# --- judge -------------------------------------------------------------------------------------------

BASELINE = _gauss(100, 30, 0.02, 0.005)
SAME = _gauss(101, 30, 0.02, 0.005)
WORSE = _gauss(102, 30, 0.03, 0.005)  # 1 percentage point more errors
# Low-noise samples whose medians differ by about 0.002: clearly significant, but a small effect.
TIGHT = _gauss(103, 30, 0.02, 0.0005)
SLIGHTLY_WORSE = _gauss(104, 30, 0.022, 0.0005)
HIGHER, LOWER = Direction.HIGHER_IS_WORSE, Direction.LOWER_IS_WORSE
MIRROR = [-v for v in BASELINE]


@pytest.mark.parametrize(
    ("canary", "baseline", "direction", "options", "decision"),
    [
        # Too few samples on either side: Inconclusive, even for a canary that is clearly worse.
        (WORSE[:9], BASELINE, HIGHER, {}, Decision.INCONCLUSIVE),
        (WORSE, BASELINE[:9], HIGHER, {}, Decision.INCONCLUSIVE),
        (SAME[:9], BASELINE, HIGHER, {}, Decision.INCONCLUSIVE),
        (WORSE[:5], BASELINE[:5], HIGHER, {"min_samples": 6}, Decision.INCONCLUSIVE),
        (WORSE[:10], BASELINE[:10], HIGHER, {}, Decision.FAIL),
        # Clearly worse fails in either direction; clearly better passes.
        (WORSE, BASELINE, HIGHER, {}, Decision.FAIL),
        ([-v for v in WORSE], MIRROR, LOWER, {}, Decision.FAIL),
        (BASELINE, WORSE, HIGHER, {}, Decision.PASS),
        (WORSE, BASELINE, LOWER, {}, Decision.PASS),
        # The same distribution passes.
        (SAME, BASELINE, HIGHER, {}, Decision.PASS),
        (SAME, BASELINE, LOWER, {}, Decision.PASS),
        # Shown worse, but by less than min_effect (0.002 against 0.005): passes; without it, fails.
        (SLIGHTLY_WORSE, TIGHT, HIGHER, {"min_effect": 0.005}, Decision.PASS),
        (SLIGHTLY_WORSE, TIGHT, HIGHER, {"min_effect": 0.001}, Decision.FAIL),
        (SLIGHTLY_WORSE, TIGHT, HIGHER, {}, Decision.FAIL),
        ([-v for v in SLIGHTLY_WORSE], [-v for v in TIGHT], LOWER, {"min_effect": 0.005}, Decision.PASS),
        # Worse by more than min_effect still fails.
        (WORSE, BASELINE, HIGHER, {"min_effect": 0.005}, Decision.FAIL),
        # Equal medians (0) but errors in more intervals: a significant shift fails at min_effect 0.
        ([0.0] * 14 + [0.01] * 8, [0.0] * 21 + [0.01], HIGHER, {}, Decision.FAIL),
        ([0.0] * 20, [0.0] * 20, HIGHER, {}, Decision.PASS),
        # 3 vs 3 cannot reach p < 0.05 even fully separated (p = 1/20): never a Pass, never a Fail.
        ([1.0, 2.0, 3.0], [1.5, 2.5, 3.5], HIGHER, {"min_samples": 3}, Decision.INCONCLUSIVE),
        ([4.0, 5.0, 6.0], [1.0, 2.0, 3.0], HIGHER, {"min_samples": 3}, Decision.INCONCLUSIVE),
        ([5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0], HIGHER, {"min_samples": 4}, Decision.FAIL),
        ([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5], HIGHER, {"min_samples": 4}, Decision.PASS),
    ],
)
def test_judge_decisions(
    canary: list[float],
    baseline: list[float],
    direction: Direction,
    options: dict[str, Any],
    decision: Decision,
) -> None:
    judgment = judge(canary, baseline, direction=direction, **options)
    assert judgment.decision is decision, judgment.reason
    assert judgment.canary_count == len(canary)
    assert judgment.baseline_count == len(baseline)


@pytest.mark.parametrize(("direction", "alternative"), [(HIGHER, "greater"), (LOWER, "less")])
def test_judgment_reports_the_one_sided_test_in_the_worse_direction(
    direction: Direction, alternative: Alternative
) -> None:
    judgment = judge(WORSE, BASELINE, direction=direction)
    expected = scipy.stats.mannwhitneyu(WORSE, BASELINE, alternative=alternative)
    assert judgment.statistic == float(expected.statistic)
    assert judgment.p_value == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert judgment.canary_median == pytest.approx(sorted(WORSE)[14] / 2 + sorted(WORSE)[15] / 2)
    assert judgment.baseline_median == pytest.approx(sorted(BASELINE)[14] / 2 + sorted(BASELINE)[15] / 2)


def test_judgment_reasons_say_why() -> None:
    assert (
        "at least 10 on each side are needed (minSamples)"
        in judge(WORSE[:3], BASELINE, direction=HIGHER).reason
    )
    assert "worse" in judge(WORSE, BASELINE, direction=HIGHER).reason
    assert "not shown higher" in judge(SAME, BASELINE, direction=HIGHER).reason
    assert "minEffect 0.005" in judge(SLIGHTLY_WORSE, TIGHT, direction=HIGHER, min_effect=0.005).reason
    unreachable = judge([1.0, 2.0], [1.5, 2.5], direction=HIGHER, min_samples=2).reason
    assert "cannot reach p < 0.05 (alpha)" in unreachable and "raise minSamples" in unreachable


def test_nan_samples_are_dropped() -> None:
    judgment = judge([*WORSE, math.nan, math.nan], [math.nan, *BASELINE], direction=HIGHER)
    assert (judgment.canary_count, judgment.baseline_count) == (30, 30)
    assert judgment.decision is Decision.FAIL
    only_nan = judge([math.nan] * 20, BASELINE, direction=HIGHER)
    assert only_nan.decision is Decision.INCONCLUSIVE
    assert (only_nan.canary_count, only_nan.statistic, only_nan.p_value, only_nan.canary_median) == (
        0,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "options", [{"min_samples": 0}, {"alpha": 0.0}, {"alpha": 1.0}, {"min_effect": -0.1}]
)
def test_judge_rejects_meaningless_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        judge(WORSE, BASELINE, direction=HIGHER, **options)
