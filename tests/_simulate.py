"""Simulated benchmark results with a known scaling slope, for the simulation tests and the benchmark.

Counts are long-tailed: log10 count ~ Normal(2, 1.6) floored to integers (about 10% zeros), capped at
10^6.5. True per-concept accuracy p = intercept + slope·x + u with concept-level noise u ~ U(−0.1, 0.1),
kept inside (0, 1) by the choice of intercept so that E[accuracy | x] is exactly linear with the given
slope. Observed accuracy is correct/n with correct ~ Binomial(n, p) and n from 20 to 100 test images.
"""

from __future__ import annotations

import numpy as np

# True slope (points/decade) → intercept (fraction) keeping p in (0, 1) for x in [0, 6.5].
INTERCEPTS = {-5.0: 0.55, 0.0: 0.4, 2.0: 0.3, 8.0: 0.15}


def simulate_counts(rng: np.random.Generator, k: int) -> np.ndarray:
    return np.floor(10 ** np.minimum(rng.normal(2.0, 1.6, k), 6.5))


def simulate_accuracy(rng: np.random.Generator, counts: np.ndarray, slope_pct: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(observed accuracy fraction, n) per concept for a model whose true slope is `slope_pct`."""
    x = np.log10(np.maximum(counts, 1))
    p = INTERCEPTS[slope_pct] + slope_pct / 100 * x + rng.uniform(-0.1, 0.1, counts.size)
    assert (p > 0).all() and (p < 1).all()
    n = rng.integers(20, 101, counts.size)
    return rng.binomial(n, p) / n, n


def simulate(rng: np.random.Generator, slope_pct: float, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One simulated data set: (accuracy fraction, counts, n), each (k,)."""
    counts = simulate_counts(rng, k)
    accuracy, n = simulate_accuracy(rng, counts, slope_pct)
    return accuracy, counts, n
