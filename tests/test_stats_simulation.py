"""Simulation tests: the slope estimate is unbiased and its bootstrap interval covers the true slope.

Data sets come from tests/_simulate.py (binomial sampling, realistic n, long-tailed counts, true slopes
−5, 0, 2 and 8 points/decade). The fast test runs in the default suite; the slow one is the acceptance
check (500 data sets per slope, coverage 93–97%) for the default percentile interval. The comparison
with BCa that chose the default is benchmarks/coverage_ci_methods.py (minutes of CPU, not run in CI).
"""

from __future__ import annotations

import numpy as np
import pytest
from _simulate import INTERCEPTS, simulate, simulate_accuracy, simulate_counts

from letitwag_bench.stats import compare_slopes, fit_scaling

SLOPES = sorted(INTERCEPTS)


def _run(slope: float, n_sets: int, k: int, n_bootstrap: int, seed: int, methods=("percentile",)):
    rng = np.random.default_rng(seed)
    estimates, covered = [], {m: 0 for m in methods}
    for i in range(n_sets):
        accuracy, counts, _ = simulate(rng, slope, k)
        for method in methods:
            fit = fit_scaling(accuracy, counts, n_bootstrap=n_bootstrap, seed=i, ci_method=method)
            covered[method] += fit.slope_ci_low <= slope <= fit.slope_ci_high
        estimates.append(fit.slope)
    return np.mean(estimates) - slope, {m: c / n_sets for m, c in covered.items()}


def test_slope_unbiased_and_interval_covers_fast():
    hits = []
    for j, slope in enumerate(SLOPES):
        bias, coverage = _run(slope, n_sets=50, k=1000, n_bootstrap=400, seed=100 + j)
        assert abs(bias) < 0.1, f"slope {slope}: mean estimate off by {bias:.3f} points/decade"
        hits.append(coverage["percentile"])
    assert 0.88 <= np.mean(hits) <= 0.99, f"pooled coverage {np.mean(hits):.3f} over {50 * len(SLOPES)} sets"


@pytest.mark.slow
@pytest.mark.parametrize("slope", SLOPES)
def test_slope_unbiased_and_interval_covers_93_to_97_percent(slope):
    bias, coverage = _run(slope, n_sets=500, k=290, n_bootstrap=2000, seed=1000 + int(slope))
    print(f"slope {slope:+}: bias {bias:+.4f}, coverage {coverage}")
    assert abs(bias) < 0.1
    assert 0.93 <= coverage["percentile"] <= 0.97, coverage


@pytest.mark.slow
def test_paired_comparison_interval_covers_the_true_difference():
    rng = np.random.default_rng(2024)
    n_sets, covered, rejected = 500, 0, 0
    for i in range(n_sets):
        counts = simulate_counts(rng, 290)
        acc_a, _ = simulate_accuracy(rng, counts, 8.0)
        acc_b, _ = simulate_accuracy(rng, counts, 2.0)
        result = compare_slopes(acc_a, acc_b, counts, seed=i)
        covered += result.ci_low <= 6.0 <= result.ci_high
        rejected += result.p_value < 0.05
    print(f"paired difference coverage {covered / n_sets:.3f}, power {rejected / n_sets:.3f}")
    assert 0.93 <= covered / n_sets <= 0.97
    assert rejected == n_sets  # a 6-point difference with 290 concepts is always detected
