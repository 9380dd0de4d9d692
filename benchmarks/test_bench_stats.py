"""Speed of the full scaling fit: 4,669 concepts (the pooled classification concepts of the paper's
release), 2,000 bootstrap resamples. Target ≤ 0.1 s on one core.

Runs once as a plain test by default (pyproject sets --benchmark-disable); to time it:
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python -m pytest benchmarks/test_bench_stats.py --benchmark-enable
"""

from __future__ import annotations

import numpy as np

from letitwag_bench.stats import compare_slopes, fit_scaling

K = 4669


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    counts = np.floor(10 ** np.minimum(rng.normal(2.0, 1.6, K), 6.5))
    x = np.log10(np.maximum(counts, 1))
    n = rng.integers(20, 101, K)
    return rng.binomial(n, 0.15 + 0.08 * x + rng.uniform(-0.1, 0.1, K)) / n, counts


def test_bench_fit_scaling_4669_concepts_2000_resamples(benchmark):
    accuracy, counts = _data()
    fit = benchmark(fit_scaling, accuracy, counts, n_bootstrap=2000, seed=0)
    assert fit.n_concepts == K and fit.n_bootstrap == 2000
    assert fit.slope_ci_low < 8.0 < fit.slope_ci_high


def test_bench_compare_slopes_4669_concepts_2000_resamples(benchmark):
    accuracy_a, counts = _data()
    accuracy_b = np.clip(accuracy_a + np.random.default_rng(1).normal(0, 0.05, K), 0, 1)
    result = benchmark(compare_slopes, accuracy_a, accuracy_b, counts, n_bootstrap=2000, seed=0)
    assert result.n_concepts == K
