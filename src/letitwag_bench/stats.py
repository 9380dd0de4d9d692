"""Frequency-stratified metrics: the scaling slope with a bootstrap interval, binned curves, tail accuracy.

Pure NumPy/SciPy/statsmodels, no I/O and no imports from the rest of the package. Arrays in, frozen
dataclasses out.

Conventions
-----------
- Accuracies go **in** as fractions in [0, 1]; everything reported (slope, intercept, accuracies, bin
  means) is in **percentage points**.
- x = log10(max(count, 1)): counts are clamped to at least 1 before the log (the paper's clamp), so a
  concept seen 0 times sits at x = 0 with the concepts seen once.
- The slope is "accuracy points per 10× more pretraining examples of the concept". By default it is
  the ordinary least-squares slope over concepts, each concept weighing the same (the paper's
  per-class view); ``weighting="n"`` weighs concepts by their number of test samples instead.

Interval method
---------------
The slope interval is a **percentile** bootstrap over concepts (resample concepts with replacement,
refit, take the α/2 and 1−α/2 quantiles of the resampled slopes). BCa is available
(``ci_method="bca"``). Both were checked by simulation with binomially sampled per-concept accuracy
(n = 20–100 per concept), long-tailed counts and true slopes −5, 0, 2 and 8 points/decade
(``tests/test_stats_simulation.py``; 1,000 data sets per slope at k = 50, 290 and 1,000 concepts):
nominal 95% intervals covered the true slope 93.3–95.3% of the time (percentile) and 93.0–94.8%
(BCa), with no systematic gap between the two; the mean slope error was at most 0.07 points/decade.
Percentile is the default because BCa bought no coverage here, percentile is simple to explain and
transformation-respecting, and it agrees with the bootstrap p-value of :func:`compare_slopes` (p below
1 − level when the interval excludes 0). The resampled concept indices come from
``numpy.random.default_rng(seed)``, so the same inputs and seed give the same interval bit for bit.
A resample whose concepts all share one x has no slope; such resamples are left out of the quantiles
(if more than half are, the interval is NaN).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike

#: Default tail threshold: concepts with fewer than 1,000 pretraining examples form the "tail".
#: At ~10^3 examples the paper's curves are still close to their low-frequency floor; the threshold is
#: a reporting convention, not a fitted quantity.
DEFAULT_TAIL_THRESHOLD = 1000.0
CI_METHODS = ("percentile", "bca")
WEIGHTINGS = ("equal", "n")
MIN_CONCEPTS = 3
# Concept draws per random-number call (rows × k). The multiplicity matrix is multiplied a block of
# rows at a time: at least _BLOCK_ENTRIES entries (cache-sized, for a few columns), and more rows when
# there are many columns, so that BLAS packs the (k, columns) matrix seldom.
_CHUNK_ENTRIES = 2**16
_BLOCK_ENTRIES = 2**17


class StatsError(ValueError):
    """Degenerate or invalid input to a statistic; the message says what was wrong and what is needed."""


# ---------------------------------------------------------------------------------------------------
# Validation helpers


def _float_vector(values: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise StatsError(f"{name} must be numeric, got {err}") from err
    if arr.ndim != 1:
        raise StatsError(f"{name} must be a 1-D array, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StatsError(f"{name} has {int(bad.sum())} missing or non-finite value(s) (first at position "
                         f"{i}: {arr[i]}); drop those concepts or fill them first")
    return arr


def log_count(counts: ArrayLike) -> np.ndarray:
    """x = log10(max(count, 1)) for counts (any shape), validated as finite and ≥ 0."""
    try:
        arr = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise StatsError(f"counts must be numeric, got {err}") from err
    if not np.isfinite(arr).all():
        raise StatsError("counts must be finite; found NaN or infinity")
    if (arr < 0).any():
        raise StatsError(f"counts must be ≥ 0; found {arr[arr < 0].flat[0]}")
    return np.log10(np.maximum(arr, 1.0))


def _accuracy(values: ArrayLike, name: str = "accuracy") -> np.ndarray:
    acc = _float_vector(values, name)
    if acc.size == 0:
        raise StatsError(f"{name} is empty: need at least {MIN_CONCEPTS} concepts")
    out = (acc < 0) | (acc > 1)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise StatsError(f"{name} must be fractions in [0, 1]; position {i} holds {acc[i]}"
                         + (" (percentages? divide by 100)" if acc.max() <= 100 else ""))
    return acc


def _inputs(accuracy: ArrayLike, counts: ArrayLike, n: ArrayLike | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Validated (accuracy fraction, raw counts, x, n) of equal length k."""
    acc = _accuracy(accuracy)
    raw = _float_vector(counts, "counts")
    if raw.shape != acc.shape:
        raise StatsError(f"accuracy and counts must have the same length, got {acc.size} and {raw.size}")
    x = log_count(raw)
    n_arr = None
    if n is not None:
        n_arr = _float_vector(n, "n")
        if n_arr.shape != acc.shape:
            raise StatsError(f"n must have one entry per concept ({acc.size}), got {n_arr.size}")
        if (n_arr < 1).any() or (n_arr != np.round(n_arr)).any():
            raise StatsError("n (test samples per concept) must be integers ≥ 1")
    return acc, raw, x, n_arr


def _check_fit_design(x: np.ndarray) -> None:
    if x.size < MIN_CONCEPTS:
        raise StatsError(f"need at least {MIN_CONCEPTS} concepts to fit a slope with an interval, "
                         f"got {x.size}")
    if np.ptp(x) == 0:
        raise StatsError(f"all {x.size} concepts have the same log10 count ({x[0]:g}; counts 0 and 1 both "
                         "give 0), so the slope is undefined: the concepts need different counts")


def _py(value):
    """NumPy scalar → plain Python scalar; NaN and ±inf → None (JSON has neither)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------------
# Per-concept accuracy


@dataclass(frozen=True)
class ConceptAccuracy:
    """Top-1 results per concept.

    Attributes
    ----------
    concept: (k,) str, concept keys, sorted.
    correct: (k,) int, correctly classified test samples of the concept.
    n: (k,) int, test samples of the concept (≥ 1).
    """

    concept: np.ndarray
    correct: np.ndarray
    n: np.ndarray

    @property
    def accuracy(self) -> np.ndarray:
        """(k,) fraction correct."""
        return self.correct / self.n


def per_concept_accuracy(predictions: ArrayLike, targets: ArrayLike,
                         class_concepts: Sequence[str]) -> ConceptAccuracy:
    """Aggregate top-1 predictions into per-concept accuracy.

    Parameters
    ----------
    predictions, targets: (n_samples,) int class indices in ``[0, len(class_concepts))``.
    class_concepts: ``class_concepts[i]`` is the concept key of class i. Classes that share a
        concept are merged (their samples and correct predictions add up); a sample is correct when
        the predicted *class* is the target class, as the harness scores it.

    Classes with no samples are omitted. Output is sorted by concept key.
    """
    pred = np.asarray(predictions)
    targ = np.asarray(targets)
    if pred.ndim != 1 or pred.shape != targ.shape:
        raise StatsError(f"predictions and targets must be 1-D of equal length, got {pred.shape} and "
                         f"{targ.shape}")
    if pred.size == 0:
        raise StatsError("no samples: predictions and targets are empty")
    for name, arr in (("predictions", pred), ("targets", targ)):
        if not np.issubdtype(arr.dtype, np.integer):
            raise StatsError(f"{name} must be integer class indices, got dtype {arr.dtype}")
        if arr.min() < 0 or arr.max() >= len(class_concepts):
            raise StatsError(f"{name} must lie in [0, {len(class_concepts)}) (one entry per class in "
                             f"class_concepts); found {arr.min() if arr.min() < 0 else arr.max()}")
    concepts, class_to_concept = np.unique(np.asarray(class_concepts, dtype=str), return_inverse=True)
    concept_of_sample = class_to_concept[targ]
    n = np.bincount(concept_of_sample, minlength=concepts.size)
    correct = np.bincount(concept_of_sample, weights=(pred == targ), minlength=concepts.size)
    keep = n > 0
    return ConceptAccuracy(concept=concepts[keep], correct=correct[keep].astype(np.int64),
                           n=n[keep].astype(np.int64))


# ---------------------------------------------------------------------------------------------------
# Binned curve


@dataclass(frozen=True)
class BinnedCurve:
    """Mean accuracy in equal-width bins of x = log10(max(count, 1)), as the paper plots it.

    Attributes
    ----------
    edges: (n_bins+1,) bin edges in log10 count, from the smallest to the largest observed x.
    centre: (n_bins,) bin centres.
    n: (n_bins,) int, concepts per bin.
    mean: (n_bins,) mean accuracy in points (NaN for empty bins).
    sem: (n_bins,) standard error of that mean, std (ddof=1) / sqrt(n) (NaN for bins with < 2 concepts).
    pearson_r: Pearson r between centre and mean over the non-empty bins (NaN if < 3 of them).
    pearson_r_trimmed: the same without the first and last bin (the paper's "end bins trimmed": the
        outermost bins hold few concepts), over the remaining non-empty bins.
    """

    edges: np.ndarray
    centre: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    pearson_r: float
    pearson_r_trimmed: float

    def to_records(self) -> list[dict]:
        """One JSON-able dict per bin: lo, hi, centre, n, mean, sem (NaN → None)."""
        return [
            {"lo": _py(self.edges[i]), "hi": _py(self.edges[i + 1]), "centre": _py(self.centre[i]),
             "n": int(self.n[i]), "mean": _py(self.mean[i]), "sem": _py(self.sem[i])}
            for i in range(self.centre.size)
        ]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r; NaN when fewer than 3 points or either side is constant (r is undefined or trivial)."""
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    ac, bc = a - a.mean(), b - b.mean()
    # numpy's own sums (not BLAS dot, whose threading could vary the last bit); ~10x cheaper than corrcoef
    return float(np.clip((ac * bc).sum() / math.sqrt((ac * ac).sum() * (bc * bc).sum()), -1.0, 1.0))


def _binned(x: np.ndarray, y_pct: np.ndarray, n_bins: int) -> list[BinnedCurve]:
    """Binned curves of m models' (m, k) accuracies `y_pct` on the same x (one per row)."""
    if n_bins < 1:
        raise StatsError(f"n_bins must be ≥ 1, got {n_bins}")
    if x.size == 0:
        raise StatsError("no concepts to bin")
    if np.ptp(x) == 0:
        raise StatsError("all concepts have the same log10 count: equal-width bins need a range of counts")
    edges = np.linspace(x.min(), x.max(), n_bins + 1)
    # Bins are [lo, hi) except the last, closed so that the largest x falls in it (np.histogram's rule).
    which = np.searchsorted(edges[1:-1], x, side="right")
    n = np.bincount(which, minlength=n_bins)
    # One bincount for all models (bin ids offset per model): each bin's sum runs over its concepts in
    # order, as a single model's bincount would.
    m = y_pct.shape[0]
    ids = (which[None, :] + n_bins * np.arange(m)[:, None]).ravel()
    sums = np.bincount(ids, weights=y_pct.ravel(), minlength=m * n_bins).reshape(m, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / n
        dev = (y_pct - mean[:, which]) ** 2
        sq = np.bincount(ids, weights=dev.ravel(), minlength=m * n_bins).reshape(m, n_bins)
        sem = np.sqrt(sq / (n - 1)) / np.sqrt(n)
    sem[:, n < 2] = np.nan
    centre = (edges[:-1] + edges[1:]) / 2
    full = n > 0
    inner = full.copy()
    inner[[0, -1]] = False
    return [BinnedCurve(edges=edges, centre=centre, n=n.astype(np.int64), mean=mean[j], sem=sem[j],
                        pearson_r=_pearson(centre[full], mean[j, full]),
                        pearson_r_trimmed=_pearson(centre[inner], mean[j, inner])) for j in range(m)]


def binned_curve(accuracy: ArrayLike, counts: ArrayLike, *, n_bins: int = 12) -> BinnedCurve:
    """Binned accuracy curve: `n_bins` equal-width bins spanning the observed x range (see BinnedCurve).

    accuracy: (k,) fractions; counts: (k,) raw counts.
    """
    acc, _, x, _ = _inputs(accuracy, counts)
    return _binned(x, 100.0 * acc[None, :], n_bins)[0]


# ---------------------------------------------------------------------------------------------------
# Bootstrap machinery


def _suff(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(k, 5) per-concept sufficient statistics [w, w x, w y, w x², w x y] on centred x and y.

    Centring first (at the unweighted means) keeps the slope formula free of cancellation.
    """
    xc = x - x.mean()
    yc = y - y.mean()
    return np.column_stack([w, w * xc, w * yc, w * xc * xc, w * xc * yc])


def _slope_from_sums(s: np.ndarray) -> np.ndarray:
    """Weighted OLS slope from summed sufficient statistics (..., 5); NaN where x has no spread."""
    s0, s1, s2, s3, s4 = np.moveaxis(s, -1, 0)
    sxx = s0 * s3 - s1 * s1
    sxy = s0 * s4 - s1 * s2
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy / sxx
        # Accuracy spans at most 100 points, so a slope below 1e-9·100 points per x-SD is rounding noise
        # (e.g. two models whose accuracies differ by a constant): call it 0, so signs and p-values are exact.
        slope = np.where(np.abs(slope) * np.sqrt(s3 / s0) < 1e-7, 0.0, slope)
    # A resample that drew one x value only leaves sxx at rounding-error size: no slope there.
    return np.where(sxx > 1e-10 * s0 * s3, slope, np.nan)


def _exact_columns(s: np.ndarray) -> np.ndarray:
    """Round each column of (k, c) statistics to a power-of-two grid on which every bootstrap sum is exact.

    A resample's multiplicities are non-negative integers summing to k, so any partial sum of
    multiplicity × statistic is bounded by k · max|column|. With the grid step 2^e such that this bound
    is at most 2^(52+e), every product and partial sum is a multiple of the step below 2^53 steps:
    exactly representable in float64. Exact sums do not depend on the order of summation, so the
    matrix product's blocking (BLAS kernel, threads, how many models share the product) cannot change
    a bit. The rounding moves a statistic by at most k · max|column| · 2^-53 (about 1e-12 of its
    scale for k = 5000), far below anything reported.
    """
    bound = s.shape[0] * np.abs(s).max(axis=0)
    step = np.exp2(np.ceil(np.log2(np.where(bound > 0, bound, 1.0))) - 52)
    return np.round(s / step) * step


def _resample_sums(columns: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """(n_bootstrap, c) sums over bootstrap resamples of the k concepts of each column of (k, c) `columns`.

    Each resample's concept multiplicities come from one ``default_rng(seed)`` stream, drawn a chunk
    of rows at a time (about 65k indices: the draws for a seed never depend on k's blocking below) and
    counted with one bincount per chunk; multiplicities @ columns then gives the sums, one matrix
    product per block of rows. The columns are first put on the grid of :func:`_exact_columns`, on which
    the sums are exact: a column's sums depend only on (column, n_bootstrap, seed), never on the other
    columns, so a model fitted alone or in a leaderboard of thousands gets the same bits.
    """
    k, c = columns.shape
    exact = _exact_columns(columns)
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if k <= np.iinfo(np.uint16).max else np.int64  # fewer random bits when they suffice
    out = np.empty((n_bootstrap, c))
    chunk = max(1, _CHUNK_ENTRIES // k)
    block = max(1, _BLOCK_ENTRIES // (k * chunk), c // (4 * chunk)) * chunk
    offsets = (np.arange(chunk, dtype=np.int64) * k)[:, None]
    weights = np.empty((min(block, n_bootstrap), k))
    for start in range(0, n_bootstrap, block):
        rows = min(block, n_bootstrap - start)
        for first in range(0, rows, chunk):
            size = min(chunk, rows - first)
            draws = rng.integers(0, k, size=(size, k), dtype=dtype)
            weights[first:first + size] = np.bincount((draws + offsets[:size]).ravel(),
                                                      minlength=size * k).reshape(size, k)
        np.matmul(weights[:rows], exact, out=out[start:start + rows])
    return out


def _jackknife_slopes(suff: np.ndarray) -> np.ndarray:
    """(k,) leave-one-concept-out slopes, from the total sums minus each concept's row."""
    return _slope_from_sums(suff.sum(axis=0) - suff)


def _interval(estimate: float, boots: np.ndarray, suff: np.ndarray, ci_level: float,
              ci_method: str) -> tuple[float, float]:
    total = boots.size
    boots = boots[np.isfinite(boots)]
    if boots.size * 2 <= total or not np.isfinite(estimate):
        return math.nan, math.nan
    alpha = 1.0 - ci_level
    probs = np.array([alpha / 2, 1 - alpha / 2])
    if ci_method == "bca":
        below = (np.sum(boots < estimate) + 0.5 * np.sum(boots == estimate)) / boots.size
        from scipy import stats as sps  # deferred: scipy.stats costs ~0.7 s to import, too much for CLI start-up

        z0 = sps.norm.ppf(below)
        jack = _jackknife_slopes(suff)
        d = np.nanmean(jack) - jack
        d = d[np.isfinite(d)]
        denom = 6.0 * np.sum(d * d) ** 1.5
        accel = float(np.sum(d ** 3) / denom) if denom > 0 else 0.0
        z = sps.norm.ppf(probs)
        probs = sps.norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))
        if not np.isfinite(probs).all():
            return math.nan, math.nan
    lo, hi = np.quantile(boots, probs)
    return float(lo), float(hi)


def _check_options(n_bootstrap: int, ci_level: float, ci_method: str) -> None:
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 1:
        raise StatsError(f"n_bootstrap must be a positive integer, got {n_bootstrap!r}")
    if not 0 < ci_level < 1:
        raise StatsError(f"ci_level must lie in (0, 1), got {ci_level}")
    if ci_method not in CI_METHODS:
        raise StatsError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}")


# ---------------------------------------------------------------------------------------------------
# Scaling fit


@dataclass(frozen=True)
class ScalingFit:
    """Accuracy (points) = intercept + slope · log10(max(count, 1)), over concepts.

    slope: points per 10× more examples; intercept: accuracy at count 1 (x = 0).
    slope_ci_low/high: bootstrap-over-concepts interval at ``ci_level``; slope_se: bootstrap SD.
    pearson_r, spearman_rho: correlation of x and per-concept accuracy (unweighted; NaN if accuracy
        is constant).
    n_concepts; n_zero_count: concepts whose raw count is 0.
    binned: the binned curve (``binned.pearson_r`` is the paper's binned r).
    tail/head_accuracy: mean accuracy (points) of concepts with count < / ≥ ``tail_threshold``
        (NaN when a side is empty); n_tail / n_head: how many.
    tail/head_quartile_accuracy: mean accuracy of concepts with x ≤ the 25th / ≥ the 75th percentile
        of x (ties included, so a quartile can hold more than a quarter of the concepts).
    log_count_min/max: observed x range (for flagging extrapolation).
    """

    slope: float
    intercept: float
    slope_ci_low: float
    slope_ci_high: float
    pearson_r: float
    spearman_rho: float
    n_concepts: int
    n_zero_count: int
    ci_level: float
    n_bootstrap: int
    seed: int
    ci_method: str
    binned: BinnedCurve
    tail_accuracy: float
    head_accuracy: float
    tail_quartile_accuracy: float
    head_quartile_accuracy: float
    tail_threshold: float
    log_count_min: float
    log_count_max: float
    slope_se: float
    weighting: str
    n_tail: int
    n_head: int

    def to_dict(self) -> dict:
        """Flat JSON-able dict of the scalars (NaN → None), the binned curve as a list under ``binned``
        and its r values as ``binned_r`` / ``binned_r_trimmed``."""
        out = {f.name: _py(getattr(self, f.name)) for f in fields(self) if f.name != "binned"}
        out["binned_r"] = _py(self.binned.pearson_r)
        out["binned_r_trimmed"] = _py(self.binned.pearson_r_trimmed)
        out["binned"] = self.binned.to_records()
        return out


def _mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def fit_scaling(accuracy: ArrayLike, counts: ArrayLike, *, n: ArrayLike | None = None,
                weighting: str = "equal", n_bootstrap: int = 2000, seed: int = 0,
                ci_level: float = 0.95, n_bins: int = 12, tail_threshold: float = DEFAULT_TAIL_THRESHOLD,
                ci_method: str = "percentile") -> ScalingFit:
    """Fit the scaling slope of per-concept accuracy on log10 concept frequency.

    Parameters
    ----------
    accuracy: (k,) per-concept accuracy as fractions in [0, 1].
    counts: (k,) raw pretraining counts (≥ 0), aligned with `accuracy`.
    n: (k,) test samples per concept; required for ``weighting="n"``, otherwise unused.
    weighting: ``"equal"`` (each concept weighs the same, default) or ``"n"`` (weights ∝ n).
    n_bootstrap, seed, ci_level, ci_method: the bootstrap interval (module docstring).
    n_bins: bins of the binned curve. tail_threshold: raw count splitting tail from head.

    The bootstrap draws concept *positions*, so the interval depends on the order of the concepts:
    the same arrays in the same order with the same seed give the same result bit for bit. Callers
    that want results independent of input order sort the concepts first (the CLI sorts by key).

    Raises :class:`StatsError` for empty input, fewer than 3 concepts, NaN, accuracies outside [0, 1],
    negative counts, or counts that all give the same x.
    """
    acc = _float_vector(accuracy, "accuracy")
    return fit_scaling_many(acc[None, :], counts, n=None if n is None else np.asarray(n)[None, :],
                            weighting=weighting, n_bootstrap=n_bootstrap, seed=seed, ci_level=ci_level,
                            n_bins=n_bins, tail_threshold=tail_threshold, ci_method=ci_method)[0]


def _resampled_model_sums(suffs: list[np.ndarray], weighting: str, n_bootstrap: int, seed: int) -> np.ndarray:
    """(n_bootstrap, m, 5) resampled sums of m models' (k, 5) statistics, from one set of draws and one
    matrix product. With equal weights the columns w, w·x, w·x² depend on x alone, so they are summed
    once for all models (exact sums: the same bits as summing them per model)."""
    m = len(suffs)
    if weighting != "equal":
        return _resample_sums(np.concatenate(suffs, axis=1), n_bootstrap, seed).reshape(n_bootstrap, m, 5)
    shared = [0, 1, 3]
    sums = _resample_sums(np.column_stack([suffs[0][:, shared], *(s[:, [2, 4]] for s in suffs)]), n_bootstrap, seed)
    out = np.empty((n_bootstrap, m, 5))
    out[:, :, shared] = sums[:, None, :3]
    out[:, :, 2], out[:, :, 4] = sums[:, 3::2], sums[:, 4::2]
    return out


def fit_scaling_many(accuracy: ArrayLike, counts: ArrayLike, *, n: ArrayLike | None = None,
                     weighting: str = "equal", n_bootstrap: int = 2000, seed: int = 0,
                     ci_level: float = 0.95, n_bins: int = 12, tail_threshold: float = DEFAULT_TAIL_THRESHOLD,
                     ci_method: str = "percentile") -> list[ScalingFit]:
    """:func:`fit_scaling` for m models evaluated on the same k concepts with the same counts.

    accuracy: (m, k) fractions; counts: (k,); n: (m, k) or None. The models share one set of bootstrap
    resamples (the concept draws that `seed` gives any single fit), and one matrix product serves them
    all, so a leaderboard of many models costs little more than one fit. Row j of the result is
    :func:`fit_scaling` of row j.
    """
    try:
        acc_all = np.asarray(accuracy, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise StatsError(f"accuracy must be numeric, got {err}") from err
    if acc_all.ndim != 2 or acc_all.shape[0] == 0:
        raise StatsError(f"accuracy must be a non-empty (models, concepts) array, got shape {acc_all.shape}")
    n_all = None if n is None else np.asarray(n)
    if n_all is not None and (n_all.ndim != 2 or n_all.shape[0] != acc_all.shape[0]):
        raise StatsError(f"n must have one row per model like accuracy {acc_all.shape}, got shape {n_all.shape}")
    _check_options(n_bootstrap, ci_level, ci_method)
    if weighting not in WEIGHTINGS:
        raise StatsError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if weighting == "n" and n_all is None:
        raise StatsError("weighting='n' needs n, the number of test samples per concept")
    if not tail_threshold > 0:
        raise StatsError(f"tail_threshold must be > 0, got {tail_threshold}")

    rows = [_inputs(acc_all[j], counts, None if n_all is None else n_all[j]) for j in range(acc_all.shape[0])]
    raw, x = rows[0][1], rows[0][2]
    _check_fit_design(x)
    ys = 100.0 * acc_all
    ws = [n_arr if weighting == "n" else np.ones_like(x) for *_, n_arr in rows]
    suffs = [_suff(x, y, w) for y, w in zip(ys, ws, strict=True)]
    all_boots = _slope_from_sums(_resampled_model_sums(suffs, weighting, n_bootstrap, seed))

    from scipy import stats as sps  # deferred: scipy.stats costs ~0.7 s to import, too much for CLI start-up

    # Whatever is per concept is computed for all models at once; rows are independent, so row j is
    # what a single fit of model j computes.
    curves = _binned(x, ys, n_bins)
    x_rank, y_ranks = sps.rankdata(x), sps.rankdata(ys, axis=1)
    tail = raw < tail_threshold
    q25, q75 = np.quantile(x, [0.25, 0.75])
    masks = {"tail": tail, "head": ~tail, "low": x <= q25, "high": x >= q75}
    fits = []
    for j, (y, w, suff) in enumerate(zip(ys, ws, suffs, strict=True)):
        slope = float(_slope_from_sums(suff.sum(axis=0)))
        intercept = (y * w).sum() / w.sum() - slope * (x * w).sum() / w.sum()  # weighted means
        boots = all_boots[:, j]
        lo, hi = _interval(slope, boots, suff, ci_level, ci_method)
        finite = boots[np.isfinite(boots)]
        constant = np.ptp(y) == 0
        fits.append(ScalingFit(
            slope=slope, intercept=float(intercept), slope_ci_low=lo, slope_ci_high=hi,
            pearson_r=math.nan if constant else _pearson(x, y),
            spearman_rho=math.nan if constant else _pearson(x_rank, y_ranks[j]),
            n_concepts=int(x.size), n_zero_count=int(np.sum(raw == 0)),
            ci_level=float(ci_level), n_bootstrap=int(n_bootstrap), seed=int(seed), ci_method=ci_method,
            binned=curves[j], tail_accuracy=_mean_or_nan(y[masks["tail"]]),
            head_accuracy=_mean_or_nan(y[masks["head"]]), tail_quartile_accuracy=_mean_or_nan(y[masks["low"]]),
            head_quartile_accuracy=_mean_or_nan(y[masks["high"]]),
            tail_threshold=float(tail_threshold), log_count_min=float(x.min()), log_count_max=float(x.max()),
            slope_se=float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
            weighting=weighting, n_tail=int(tail.sum()), n_head=int((~tail).sum()),
        ))
    return fits


# ---------------------------------------------------------------------------------------------------
# Examples needed


@dataclass(frozen=True)
class ExamplesNeeded:
    """Pretraining examples the fitted line needs to reach ``target_pct``.

    count = 10^log_count with log_count = (target − intercept) / slope. ``defined`` is False (count and
    log_count NaN) when slope ≤ 0 or NaN: the line never rises to the target. ``extrapolated`` is True
    when log_count lies outside the observed x range of the fit.
    """

    target_pct: float
    count: float
    log_count: float
    defined: bool
    extrapolated: bool

    def to_dict(self) -> dict:
        return {k: _py(v) for k, v in asdict(self).items()}


def examples_needed(fit: ScalingFit, target_pct: float) -> ExamplesNeeded:
    """Examples per concept at which the fitted line reaches `target_pct` (points, 0–100)."""
    if not 0 <= target_pct <= 100:
        raise StatsError(f"target_pct is in percentage points and must lie in [0, 100], got {target_pct}")
    if not (np.isfinite(fit.slope) and fit.slope > 0):
        return ExamplesNeeded(float(target_pct), math.nan, math.nan, defined=False, extrapolated=False)
    log_needed = (target_pct - fit.intercept) / fit.slope
    with np.errstate(over="ignore"):
        count = float(np.power(10.0, log_needed))
    extrapolated = not fit.log_count_min <= log_needed <= fit.log_count_max
    return ExamplesNeeded(float(target_pct), count, float(log_needed), defined=True,
                          extrapolated=extrapolated)


# ---------------------------------------------------------------------------------------------------
# Binomial GLM


@dataclass(frozen=True)
class GLMFit:
    """Binomial GLM, logit link: logit P(correct) = intercept + slope · log10(max(count, 1)).

    slope: change in log-odds per 10× examples (exp(slope) is the odds ratio per decade).
    slope_se, slope_ci_low/high: quasi-binomial Wald standard error and 95% interval: the variance is
        scaled by ``dispersion`` (Pearson χ²/df), since concepts vary more than a binomial allows.
    """

    slope: float
    intercept: float
    slope_se: float
    slope_ci_low: float
    slope_ci_high: float
    dispersion: float
    n_concepts: int
    converged: bool

    def to_dict(self) -> dict:
        return {k: _py(v) for k, v in asdict(self).items()}


def logistic_fit(correct: ArrayLike, n: ArrayLike, counts: ArrayLike) -> GLMFit:
    """Fit the binomial GLM on per-concept (correct, n) against x = log10(max(count, 1)).

    correct, n, counts: (k,) arrays; 0 ≤ correct ≤ n, n ≥ 1 integers.
    Raises :class:`StatsError` for invalid input or when every concept is all-correct or all-wrong.
    """
    import statsmodels.api as sm  # heavy import, only for this fit
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    n_arr = _float_vector(n, "n")
    corr = _float_vector(correct, "correct")
    raw = _float_vector(counts, "counts")
    if not n_arr.size == corr.size == raw.size:
        raise StatsError(f"correct, n and counts must have equal lengths, got {corr.size}, {n_arr.size}, "
                         f"{raw.size}")
    if (n_arr < 1).any() or (n_arr != np.round(n_arr)).any() or (corr != np.round(corr)).any():
        raise StatsError("correct and n must be integers with n ≥ 1")
    if ((corr < 0) | (corr > n_arr)).any():
        raise StatsError("correct must lie in [0, n] for every concept")
    x = log_count(raw)
    _check_fit_design(x)
    if (corr == 0).all() or (corr == n_arr).all():
        raise StatsError("every concept is all-wrong or all-correct: the logistic slope is not identified")
    design = sm.add_constant(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        try:
            # Proportions with var_weights=n, not a (correct, wrong) endog: with the two-column form
            # statsmodels' Pearson scale ignores n and comes out ~1/n too small (SEs ~√n too narrow).
            res = sm.GLM(corr / n_arr, design, family=sm.families.Binomial(),
                         var_weights=n_arr).fit(scale="X2")
        except (PerfectSeparationWarning, np.linalg.LinAlgError) as err:
            raise StatsError(f"logistic fit failed: {err}") from err
    lo, hi = res.conf_int(alpha=0.05)[1]
    return GLMFit(slope=float(res.params[1]), intercept=float(res.params[0]), slope_se=float(res.bse[1]),
                  slope_ci_low=float(lo), slope_ci_high=float(hi), dispersion=float(res.scale),
                  n_concepts=int(x.size), converged=bool(res.converged))


# ---------------------------------------------------------------------------------------------------
# Paired slope comparison


@dataclass(frozen=True)
class SlopeComparison:
    """Slope of model A minus slope of model B on the same concepts, paired bootstrap over concepts.

    difference = slope_a − slope_b (points/decade); ci_low/high its interval at ``ci_level``;
    p_value: two-sided bootstrap p-value for "no difference",
    min(1, 2·min(1 + #{d* ≤ 0}, 1 + #{d* ≥ 0}) / (B + 1)) over the resampled differences d*
    (never below 2/(B+1); p < 1 − ci_level exactly when the percentile interval excludes 0, up to
    the +1 correction).
    """

    slope_a: float
    slope_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n_concepts: int
    ci_level: float
    n_bootstrap: int
    seed: int
    ci_method: str

    def to_dict(self) -> dict:
        return {k: _py(v) for k, v in asdict(self).items()}


def compare_slopes(accuracy_a: ArrayLike, accuracy_b: ArrayLike, counts: ArrayLike, *,
                   n_bootstrap: int = 2000, seed: int = 0, ci_level: float = 0.95,
                   ci_method: str = "percentile") -> SlopeComparison:
    """Paired bootstrap comparison of two models' equal-weight slopes on shared concepts.

    accuracy_a, accuracy_b, counts: (k,) aligned arrays over the concepts both models were scored on
    (the caller intersects and aligns them). Each resample draws concepts once and refits both models
    on them; since both share x, the slope difference is the slope of (accuracy_a − accuracy_b) on x.
    """
    acc_a, _, x, _ = _inputs(accuracy_a, counts)
    acc_b = _accuracy(accuracy_b, "accuracy_b")
    if acc_b.shape != acc_a.shape:
        raise StatsError(f"accuracy_a and accuracy_b must be aligned on the same concepts, got lengths "
                         f"{acc_a.size} and {acc_b.size}")
    _check_fit_design(x)
    _check_options(n_bootstrap, ci_level, ci_method)
    w = np.ones_like(x)
    slope_a = float(_slope_from_sums(_suff(x, 100 * acc_a, w).sum(axis=0)))
    slope_b = float(_slope_from_sums(_suff(x, 100 * acc_b, w).sum(axis=0)))
    suff = _suff(x, 100 * (acc_a - acc_b), w)
    diff = float(_slope_from_sums(suff.sum(axis=0)))
    boots = _slope_from_sums(_resample_sums(suff, n_bootstrap, seed))
    lo, hi = _interval(diff, boots, suff, ci_level, ci_method)
    finite = boots[np.isfinite(boots)]
    p = min(1.0, 2 * min(1 + np.sum(finite <= 0), 1 + np.sum(finite >= 0)) / (finite.size + 1))
    return SlopeComparison(slope_a=slope_a, slope_b=slope_b, difference=diff, ci_low=lo, ci_high=hi,
                           p_value=float(p), n_concepts=int(x.size), ci_level=float(ci_level),
                           n_bootstrap=int(n_bootstrap), seed=int(seed), ci_method=ci_method)
