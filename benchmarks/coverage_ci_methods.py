"""Coverage of the percentile and BCa bootstrap intervals for the slope (the justification of the default).

Usage:
    python benchmarks/coverage_ci_methods.py [--sets 1000] [--k 50,290,1000]

Simulates data sets as tests/_simulate.py does (binomial per-concept accuracy, n = 20–100, long-tailed
counts, true slopes −5, 0, 2, 8 points/decade), fits each with both interval methods (2,000 resamples)
and prints the mean slope error and the share of 95% intervals that cover the true slope. Minutes of CPU
at the defaults; the slow test in tests/test_stats_simulation.py checks the default method in CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _simulate import INTERCEPTS, simulate

from letitwag_bench.stats import fit_scaling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", type=int, default=1000, help="simulated data sets per (k, slope)")
    parser.add_argument("--k", default="50,290,1000", help="numbers of concepts, comma-separated")
    args = parser.parse_args()
    print("k\tslope\tmean_error\tcoverage_percentile\tcoverage_bca")
    for k in (int(v) for v in args.k.split(",")):
        for slope in sorted(INTERCEPTS):
            rng = np.random.default_rng([k, int(slope) + 100])
            errors, hits = [], {"percentile": 0, "bca": 0}
            for i in range(args.sets):
                accuracy, counts, _ = simulate(rng, slope, k)
                for method in hits:
                    fit = fit_scaling(accuracy, counts, seed=i, ci_method=method)
                    hits[method] += fit.slope_ci_low <= slope <= fit.slope_ci_high
                errors.append(fit.slope - slope)
            print(f"{k}\t{slope:+g}\t{np.mean(errors):+.4f}\t{hits['percentile'] / args.sets:.3f}\t"
                  f"{hits['bca'] / args.sets:.3f}", flush=True)


if __name__ == "__main__":
    main()
