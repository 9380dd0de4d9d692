"""Zero-shot classification results per concept: the sidecar table, the flat fit metrics, and where
and how the sidecar is written. Shared by the clip_benchmark glue and ``letitwag eval`` so that both
write the same files (``<output>.json`` with these metrics, ``<output>.concepts.csv`` beside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from letitwag_bench import stats
from letitwag_bench._io import atomic_write
from letitwag_bench.counts_choice import CountsChoice

SIDECAR_COLUMNS = ("concept", "class_name", "dataset", "n", "correct", "accuracy", "count")
# set to None when the fit fails, so that every result has the same columns in `clip_benchmark build`
FIT_KEYS = ("slope", "slope_ci_low", "slope_ci_high", "intercept", "pearson_r", "spearman_rho", "binned_r",
            "tail_accuracy", "head_accuracy", "n_concepts", "n_zero_count")


def sidecar_path(output: str | Path) -> Path:
    """``results.json`` → ``results.concepts.csv`` (other suffixes get ``.concepts.csv`` appended)."""
    output = Path(output)
    return output.with_name(output.name.removesuffix(".json") + ".concepts.csv")


def concept_table(predictions: np.ndarray, targets: np.ndarray, class_names: Sequence[str],
                  class_concepts: Sequence[str], dataset: str, counts: pd.Series) -> pd.DataFrame:
    """Per-concept accuracy joined to `counts` (concept key → count); classes sharing a concept are
    merged, their names joined by ``"; "``. Concepts without a count get an empty ``count``."""
    per = stats.per_concept_accuracy(np.asarray(predictions, np.int64), np.asarray(targets, np.int64),
                                     list(class_concepts))
    names: dict[str, list[str]] = {}
    for name, concept in zip(class_names, class_concepts, strict=True):
        names.setdefault(concept, []).append(name)
    concept = per.concept.astype(str)
    return pd.DataFrame({
        "concept": concept,
        "class_name": ["; ".join(names[c]) for c in concept],
        "dataset": dataset,
        "n": per.n.astype(np.int64),
        "correct": per.correct.astype(np.int64),
        "accuracy": per.accuracy,
        "count": pd.Series(concept).map(counts).astype("Int64"),
    }, columns=list(SIDECAR_COLUMNS))


def fit_metrics(table: pd.DataFrame, choice: CountsChoice, *, n_bootstrap: int = 2000, seed: int = 0,
                n_classes_unmatched: int = 0) -> dict[str, Any]:
    """The flat keys added to clip_benchmark's metrics: the counts used, every scalar of the scaling
    fit over the concepts that have a count (NaN → None), or :data:`FIT_KEYS` as None and
    ``letitwag_error`` when the fit is not defined."""
    metrics: dict[str, Any] = {
        **choice.metrics(),
        "n_concepts_without_count": int(table["count"].isna().sum()),
        "n_classes_unmatched": n_classes_unmatched,
    }
    has = table["count"].notna().to_numpy()
    try:
        fit = stats.fit_scaling(table["accuracy"].to_numpy(float)[has], table["count"].to_numpy()[has].astype(np.int64),
                                n=table["n"].to_numpy()[has], n_bootstrap=n_bootstrap, seed=seed)
    except stats.StatsError as err:
        metrics.update(dict.fromkeys(FIT_KEYS), letitwag_error=str(err))
    else:
        metrics.update({k: v for k, v in fit.to_dict().items() if k != "binned"})
    return metrics


def write_sidecar(table: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, columns=list(SIDECAR_COLUMNS), lineterminator="\n"))
