"""Unit tests of letitwag_bench.stats against hand-computed answers and independent implementations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_
from scipy import stats as sps

from letitwag_bench import stats
from letitwag_bench.stats import StatsError


def test_log_count_clamps_zero_to_one_and_rejects_negatives():
    np.testing.assert_array_equal(stats.log_count([0, 1, 10, 1000]), [0.0, 0.0, 1.0, 3.0])
    with pytest.raises(StatsError, match="≥ 0"):
        stats.log_count([3, -1])
    with pytest.raises(StatsError, match="finite"):
        stats.log_count([3, np.nan])


def test_per_concept_accuracy_merges_classes_sharing_a_concept_and_omits_empty_classes():
    # classes: 0 "cat", 1 "dog", 2 "dog" (a second spelling), 3 "fox" (no samples)
    targets = np.array([0, 0, 1, 2, 2, 1])
    predictions = np.array([0, 1, 1, 1, 2, 1])  # cat: 1/2; dog: samples 1,2,2,1 → correct 1, -, 2, 1 → 3/4
    result = stats.per_concept_accuracy(predictions, targets, ["cat", "dog", "dog", "fox"])
    assert list(result.concept) == ["cat", "dog"]
    np.testing.assert_array_equal(result.n, [2, 4])
    np.testing.assert_array_equal(result.correct, [1, 3])
    np.testing.assert_allclose(result.accuracy, [0.5, 0.75])


@pytest.mark.parametrize(("pred", "targ", "match"), [
    ([0, 5], [0, 1], r"\[0, 2\)"),
    ([0, 1], [0], "equal length"),
    ([], [], "empty"),
    ([0.5, 1.0], [0, 1], "integer"),
])
def test_per_concept_accuracy_rejects_bad_indices(pred, targ, match):
    with pytest.raises(StatsError, match=match):
        stats.per_concept_accuracy(np.array(pred), np.array(targ, dtype=int), ["a", "b"])


def test_binned_curve_hand_checked_case():
    # Counts 0, 1, 10, 10, 1000, 10^6 → x = 0, 0, 1, 1, 3, 6; 12 bins of width 0.5 over [0, 6].
    counts = [0, 1, 10, 10, 1000, 10**6]
    accuracy = [0.1, 0.2, 0.3, 0.5, 0.6, 0.9]
    curve = stats.binned_curve(accuracy, counts)
    np.testing.assert_allclose(curve.edges, np.arange(13) * 0.5)
    np.testing.assert_allclose(curve.centre, np.arange(12) * 0.5 + 0.25)
    # x = 1 sits on an inner edge and goes to the bin above ([1.0, 1.5), index 2); x = 6 to the last bin.
    expected_n = [2, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    np.testing.assert_array_equal(curve.n, expected_n)
    mean = np.full(12, np.nan)
    mean[[0, 2, 6, 11]] = [15.0, 40.0, 60.0, 90.0]
    np.testing.assert_allclose(curve.mean, mean)
    sem = np.full(12, np.nan)
    sem[0] = 5.0  # sd(10, 20) = 7.0711 (ddof 1), / sqrt(2)
    sem[2] = 10.0  # sd(30, 50) = 14.142, / sqrt(2)
    np.testing.assert_allclose(curve.sem, sem)
    # r over the non-empty bins (0.25, 15), (1.25, 40), (3.25, 60), (5.75, 90):
    # centred x: −2.375, −1.375, 0.625, 3.125; centred y: −36.25, −11.25, 8.75, 38.75
    sxy = 86.09375 + 15.46875 + 5.46875 + 121.09375
    sxx = 5.640625 + 1.890625 + 0.390625 + 9.765625
    syy = 1314.0625 + 126.5625 + 76.5625 + 1501.5625
    assert curve.pearson_r == pytest.approx(sxy / math.sqrt(sxx * syy), abs=1e-12)
    assert curve.pearson_r == pytest.approx(0.98725, abs=1e-5)  # 228.125 / 231.0717
    # Trimming the end bins leaves 2 non-empty bins: too few for a meaningful r.
    assert math.isnan(curve.pearson_r_trimmed)
    records = curve.to_records()
    assert records[1] == {"lo": 0.5, "hi": 1.0, "centre": 0.75, "n": 0, "mean": None, "sem": None}
    json.dumps(records)


def test_fit_recovers_an_exact_line():
    counts = np.array([0, 3, 10, 100, 2000, 10**5, 10**6])
    x = np.log10(np.maximum(counts, 1))
    fit = stats.fit_scaling(0.1 + 0.05 * x, counts, n_bootstrap=200)
    assert fit.slope == pytest.approx(5.0)
    assert fit.intercept == pytest.approx(10.0)
    assert fit.slope_ci_low == pytest.approx(5.0) and fit.slope_ci_high == pytest.approx(5.0)
    assert fit.pearson_r == pytest.approx(1.0) and fit.spearman_rho == pytest.approx(1.0)
    assert fit.n_concepts == 7 and fit.n_zero_count == 1
    assert (fit.log_count_min, fit.log_count_max) == (0.0, 6.0)


def test_fit_matches_scipy_linregress_and_weighted_polyfit():
    rng = np.random.default_rng(7)
    counts = np.floor(10 ** rng.uniform(0, 6, 400))
    acc = rng.uniform(0, 1, 400)
    n = rng.integers(1, 60, 400)
    fit = stats.fit_scaling(acc, counts, n_bootstrap=50)
    ref = sps.linregress(np.log10(np.maximum(counts, 1)), 100 * acc)
    assert fit.slope == pytest.approx(ref.slope, rel=1e-10)
    assert fit.intercept == pytest.approx(ref.intercept, rel=1e-10)
    assert fit.pearson_r == pytest.approx(ref.rvalue, rel=1e-10)
    weighted = stats.fit_scaling(acc, counts, n=n, weighting="n", n_bootstrap=50)
    slope, intercept = np.polyfit(np.log10(np.maximum(counts, 1)), 100 * acc, 1, w=np.sqrt(n))
    assert weighted.slope == pytest.approx(slope, rel=1e-9)
    assert weighted.intercept == pytest.approx(intercept, rel=1e-9)


def test_bootstrap_matches_a_naive_loop_over_the_same_resamples():
    rng = np.random.default_rng(11)
    k, b = 60, 40
    counts = np.floor(10 ** rng.uniform(0, 5, k))
    acc = rng.uniform(0, 1, k)
    fit = stats.fit_scaling(acc, counts, n_bootstrap=b, seed=5)
    # For B·k below the block size the draw is one default_rng(seed).integers(0, k, (B, k)) call
    # (uint16 indices for k < 2^16).
    idx = np.random.default_rng(5).integers(0, k, size=(b, k), dtype=np.uint16)
    x = np.log10(np.maximum(counts, 1))
    slopes = np.array([np.polyfit(x[i], 100 * acc[i], 1)[0] for i in idx])
    lo, hi = np.quantile(slopes, [0.025, 0.975])
    assert fit.slope_ci_low == pytest.approx(lo, rel=1e-9)
    assert fit.slope_ci_high == pytest.approx(hi, rel=1e-9)
    assert fit.slope_se == pytest.approx(slopes.std(ddof=1), rel=1e-9)


def test_same_inputs_and_seed_give_identical_output_and_other_seeds_differ():
    rng = np.random.default_rng(3)
    counts = np.floor(10 ** rng.uniform(0, 6, 500))
    acc = rng.uniform(0, 1, 500)
    a = stats.fit_scaling(acc, counts, seed=1).to_dict()
    b = stats.fit_scaling(acc.copy(), counts.copy(), seed=1).to_dict()
    assert json.dumps(a) == json.dumps(b)
    c = stats.fit_scaling(acc, counts, seed=2)
    assert (c.slope_ci_low, c.slope_ci_high) != (a["slope_ci_low"], a["slope_ci_high"])
    assert c.slope == a["slope"]


def test_bca_interval_is_close_to_percentile_for_a_symmetric_case():
    rng = np.random.default_rng(4)
    counts = np.floor(10 ** rng.uniform(0, 6, 800))
    acc = np.clip(0.2 + 0.05 * np.log10(np.maximum(counts, 1)) + rng.normal(0, 0.1, 800), 0, 1)
    pct = stats.fit_scaling(acc, counts)
    bca = stats.fit_scaling(acc, counts, ci_method="bca")
    assert bca.ci_method == "bca"
    assert bca.slope_ci_low < bca.slope < bca.slope_ci_high
    width = pct.slope_ci_high - pct.slope_ci_low
    assert abs(bca.slope_ci_low - pct.slope_ci_low) < 0.1 * width
    assert abs(bca.slope_ci_high - pct.slope_ci_high) < 0.1 * width


def test_tail_head_and_quartile_accuracy_by_hand():
    counts = np.array([0, 5, 50, 999, 1000, 5000, 10**5, 10**6])
    acc = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    fit = stats.fit_scaling(acc, counts, n_bootstrap=100)
    assert fit.tail_accuracy == pytest.approx(25.0)  # counts < 1000: 10, 20, 30, 40
    assert fit.head_accuracy == pytest.approx(65.0)  # counts ≥ 1000: 50 … 80
    assert (fit.n_tail, fit.n_head) == (4, 4)
    # x = 0, .70, 1.70, 3.00, 3, 3.70, 5, 6 (rounded): 25th pct of x lies between x[1] and x[2] → 2 concepts
    assert fit.tail_quartile_accuracy == pytest.approx(15.0)
    assert fit.head_quartile_accuracy == pytest.approx(75.0)  # x ≥ 75th pct (between 3.70 and 5): 70, 80
    none_in_head = stats.fit_scaling(acc, counts, tail_threshold=10**7, n_bootstrap=10)
    assert math.isnan(none_in_head.head_accuracy)
    assert none_in_head.to_dict()["head_accuracy"] is None


def test_examples_needed_inverts_the_line_and_flags_extrapolation():
    counts = np.array([1, 10, 100, 1000, 10**4, 10**5, 10**6])
    x = np.log10(counts)
    fit = stats.fit_scaling(0.1 + 0.05 * x, counts, n_bootstrap=10)  # 10 points + 5 per decade
    inside = stats.examples_needed(fit, 30.0)
    assert inside.defined and not inside.extrapolated
    assert inside.count == pytest.approx(1e4) and inside.log_count == pytest.approx(4.0)
    outside = stats.examples_needed(fit, 80.0)
    assert outside.defined and outside.extrapolated and outside.count == pytest.approx(1e14)
    falling = stats.fit_scaling(0.9 - 0.05 * x, counts, n_bootstrap=10)
    undefined = stats.examples_needed(falling, 50.0)
    assert not undefined.defined and math.isnan(undefined.count)
    assert undefined.to_dict()["count"] is None
    with pytest.raises(StatsError, match="percentage points"):
        stats.examples_needed(fit, 0.5 * 1000)


@pytest.mark.parametrize(("accuracy", "counts", "match"), [
    ([], [], "empty"),
    ([0.5], [10], "at least 3"),
    ([0.5, 0.6], [10, 100], "at least 3"),
    ([0.1, 0.2, 0.3], [50, 50, 50], "same log10 count"),
    ([0.1, 0.2, 0.3], [0, 1, 0], "same log10 count"),
    ([0.1, 1.5, 0.3], [1, 10, 100], r"fractions in \[0, 1\]"),
    ([10.0, 50.0, 30.0], [1, 10, 100], "percentages"),
    ([-0.1, 0.5, 0.3], [1, 10, 100], r"fractions in \[0, 1\]"),
    ([0.1, np.nan, 0.3], [1, 10, 100], "non-finite"),
    ([0.1, 0.2, 0.3], [1, np.nan, 100], "non-finite"),
    ([0.1, 0.2, 0.3], [1, -10, 100], "≥ 0"),
    ([0.1, 0.2, 0.3], [1, 10], "same length"),
    ([[0.1, 0.2, 0.3]], [[1, 10, 100]], "1-D"),
    (["a", "b", "c"], [1, 10, 100], "numeric"),
])
def test_degenerate_inputs_raise_stats_error(accuracy, counts, match):
    with pytest.raises(StatsError, match=match):
        stats.fit_scaling(accuracy, counts, n_bootstrap=10)


def test_bad_options_raise_stats_error():
    acc, counts = [0.1, 0.2, 0.3, 0.4], [1, 10, 100, 1000]
    for kwargs, match in [({"weighting": "n"}, "needs n"), ({"weighting": "x"}, "weighting"),
                          ({"n_bootstrap": 0}, "n_bootstrap"), ({"ci_level": 1.5}, "ci_level"),
                          ({"ci_method": "basic"}, "ci_method"), ({"n": [1, 2, 0, 4], "weighting": "n"}, "n "),
                          ({"n": [1, 2, 3]}, "one entry per concept"), ({"n_bins": 0}, "n_bins")]:
        with pytest.raises(StatsError, match=match):
            stats.fit_scaling(acc, counts, **kwargs)


def test_constant_accuracy_gives_zero_slope_and_documented_nan_correlations():
    fit = stats.fit_scaling([0.3, 0.3, 0.3, 0.3], [1, 10, 100, 1000], n_bootstrap=50)
    assert fit.slope == 0.0 and fit.slope_ci_low == 0.0 and fit.slope_ci_high == 0.0
    assert math.isnan(fit.pearson_r) and math.isnan(fit.spearman_rho)
    assert math.isnan(fit.binned.pearson_r)
    d = fit.to_dict()
    assert d["pearson_r"] is None and d["binned_r"] is None
    json.dumps(d, allow_nan=False)


def test_resamples_without_slope_are_left_out_of_the_interval():
    # One concept away from x = 0: about e^-1 of resamples miss it and have no slope.
    k = 40
    counts = np.zeros(k)
    counts[-1] = 10**4
    acc = np.linspace(0.1, 0.5, k)
    fit = stats.fit_scaling(acc, counts, n_bootstrap=500)
    assert np.isfinite(fit.slope) and np.isfinite(fit.slope_ci_low) and np.isfinite(fit.slope_ci_high)
    # Three concepts, two at x = 0: 9/27 of resamples have one x only; the interval uses the rest.
    tiny = stats.fit_scaling([0.1, 0.2, 0.6], [0, 1, 100], n_bootstrap=500)
    assert tiny.slope == pytest.approx(22.5)
    assert 15.0 <= tiny.slope_ci_low <= 22.5 <= tiny.slope_ci_high <= 30.0


def test_to_dict_is_flat_json():
    rng = np.random.default_rng(1)
    fit = stats.fit_scaling(rng.uniform(0, 1, 50), np.floor(10 ** rng.uniform(0, 5, 50)), n_bootstrap=20)
    d = fit.to_dict()
    for key in ("slope", "slope_ci_low", "slope_ci_high", "intercept", "pearson_r", "spearman_rho",
                "n_concepts", "n_zero_count", "binned", "binned_r", "tail_accuracy", "head_accuracy"):
        assert key in d
    assert all(not isinstance(v, (dict, np.generic, np.ndarray)) for k, v in d.items() if k != "binned")
    json.dumps(d, allow_nan=False)


def test_logistic_fit_recovers_a_known_logit_slope():
    rng = np.random.default_rng(2)
    k = 2000
    counts = np.floor(10 ** rng.uniform(0, 6, k))
    x = np.log10(np.maximum(counts, 1))
    n = rng.integers(50, 200, k)
    correct = rng.binomial(n, 1 / (1 + np.exp(-(-2.0 + 0.5 * x))))
    glm = stats.logistic_fit(correct, n, counts)
    assert glm.converged
    assert glm.slope_ci_low < 0.5 < glm.slope_ci_high
    assert glm.slope == pytest.approx(0.5, abs=0.02) and glm.intercept == pytest.approx(-2.0, abs=0.06)
    assert glm.dispersion == pytest.approx(1.0, abs=0.15)  # binomial data: no overdispersion


def test_logistic_fit_degenerate_inputs():
    with pytest.raises(StatsError, match="all-wrong or all-correct"):
        stats.logistic_fit([5, 5, 5], [5, 5, 5], [1, 10, 100])
    with pytest.raises(StatsError, match=r"\[0, n\]"):
        stats.logistic_fit([6, 1, 1], [5, 5, 5], [1, 10, 100])
    with pytest.raises(StatsError, match="same log10 count"):
        stats.logistic_fit([1, 2, 3], [5, 5, 5], [7, 7, 7])


def test_compare_slopes_identical_models_and_a_known_difference():
    rng = np.random.default_rng(8)
    k = 600
    counts = np.floor(10 ** rng.uniform(0, 6, k))
    x = np.log10(np.maximum(counts, 1))
    acc_b = np.clip(0.2 + 0.04 * x + rng.normal(0, 0.05, k), 0, 1)
    same = stats.compare_slopes(acc_b, acc_b, counts)
    assert same.difference == 0.0 and same.p_value == 1.0 and same.ci_low == same.ci_high == 0.0
    shifted = stats.compare_slopes(0.5 * acc_b + 0.1, acc_b, counts)
    # a = 0.5·b + 0.1 exactly: slope_a = 0.5·slope_b, so difference = −0.5·slope_b with a tiny interval.
    assert shifted.difference == pytest.approx(-0.5 * shifted.slope_b)
    assert shifted.ci_low <= shifted.difference <= shifted.ci_high
    assert shifted.p_value == pytest.approx(2 / 2001)
    noisy = stats.compare_slopes(np.clip(acc_b + 0.01 * x + rng.normal(0, 0.05, k), 0, 1), acc_b, counts)
    assert noisy.ci_low < 1.0 < noisy.ci_high and noisy.p_value < 0.05
    json.dumps(noisy.to_dict(), allow_nan=False)


def test_compare_slopes_rejects_misaligned_inputs():
    with pytest.raises(StatsError, match="aligned"):
        stats.compare_slopes([0.1, 0.2, 0.3], [0.1, 0.2], [1, 10, 100])


@settings(max_examples=60, deadline=None)
@given(st_.lists(st_.tuples(st_.integers(0, 10**7), st_.floats(0, 1)), min_size=2, max_size=60),
       st_.integers(1, 15))
def test_binned_curve_partitions_the_concepts(rows, n_bins):
    counts, accuracy = map(np.array, zip(*rows, strict=True))
    x = np.log10(np.maximum(counts, 1))
    if np.ptp(x) == 0:
        with pytest.raises(StatsError):
            stats.binned_curve(accuracy, counts, n_bins=n_bins)
        return
    curve = stats.binned_curve(accuracy, counts, n_bins=n_bins)
    assert curve.n.sum() == len(rows) and curve.n[0] >= 1 and curve.n[-1] >= 1
    full = curve.n > 0
    # bin means weighted by bin sizes give back the overall mean; every concept lies inside its bin
    assert np.sum(curve.mean[full] * curve.n[full]) == pytest.approx(100 * accuracy.sum(), abs=1e-6)
    assert np.isnan(curve.mean[~full]).all()
    assert curve.edges[0] == x.min() and curve.edges[-1] == pytest.approx(x.max())


def test_fit_scaling_many_is_bit_identical_to_single_fits():
    """A model's numbers must not depend on which other models are fitted with it (leaderboard vs `fit`)."""
    rng = np.random.default_rng(7)
    k = 400
    counts = np.floor(10 ** rng.uniform(0, 6, k))
    acc = rng.binomial(50, rng.uniform(0.05, 0.95, (19, k))) / 50
    many = stats.fit_scaling_many(acc, counts, n_bootstrap=300, seed=3)
    few = stats.fit_scaling_many(acc[[18, 2]], counts, n_bootstrap=300, seed=3)
    for j in (0, 2, 17, 18):
        single = stats.fit_scaling(acc[j], counts, n_bootstrap=300, seed=3)
        assert many[j].to_dict() == single.to_dict()
    assert few[0].to_dict() == many[18].to_dict() and few[1].to_dict() == many[2].to_dict()
    assert len({f.slope for f in many}) == 19


def test_bootstrap_sums_are_exact_whatever_the_other_columns():
    """The resampled sums are exact sums of the grid-rounded statistics, so no BLAS blocking can change them."""
    rng = np.random.default_rng(11)
    k = 60
    column = rng.normal(0, 1, k) * 10.0 ** rng.uniform(-3, 3, k)  # awkward magnitudes
    multiplicities = stats._resample_sums(np.eye(k), 500, 5)  # the draws themselves, as counts
    assert (multiplicities == np.round(multiplicities)).all() and (multiplicities.sum(axis=1) == k).all()
    grid = stats._exact_columns(column[:, None])[:, 0]
    assert np.abs(grid - column).max() <= 1e-12 * np.abs(column).max()
    # exact rational sums of the rounded values, in Python integers on the grid's step
    step = np.exp2(np.floor(np.log2(np.min(np.abs(grid[grid != 0])))) - 60)
    ints = [int(v) for v in np.round(grid / step)]
    assert all(float(i) * step == g for i, g in zip(ints, grid, strict=True))
    exact = [sum(int(w) * i for w, i in zip(row, ints, strict=True)) for row in multiplicities.astype(np.int64)]
    alone = stats._resample_sums(column[:, None], 500, 5)[:, 0]
    crowd = stats._resample_sums(np.column_stack([rng.normal(size=(k, 37)), column, rng.normal(size=(k, 900))]),
                                 500, 5)[:, 37]
    assert [float(e * step) for e in exact] == alone.tolist() == crowd.tolist()


def test_fit_scaling_many_n_weighted_is_bit_identical_to_single_fits():
    rng = np.random.default_rng(8)
    k = 300
    counts = np.floor(10 ** rng.uniform(0, 6, k))
    n = rng.integers(5, 200, (40, k))
    acc = rng.binomial(n, rng.uniform(0.05, 0.95, (40, k))) / n
    many = stats.fit_scaling_many(acc, counts, n=n, weighting="n", n_bootstrap=400, seed=1)
    for j in (0, 21, 39):
        single = stats.fit_scaling(acc[j], counts, n=n[j], weighting="n", n_bootstrap=400, seed=1)
        assert many[j].to_dict() == single.to_dict()
