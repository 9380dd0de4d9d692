"""Per-model result files of ``letitwag eval``, in the clip_benchmark adapter's format.

``<output>.json``: clip_benchmark's own JSON (``dataset, model, pretrained, task, metrics, language``)
with the scaling fit's flat keys and the counts used added inside ``metrics``; next to it the
per-concept sidecar ``<output>.concepts.csv`` (``concept,class_name,dataset,n,correct,accuracy,count``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from letitwag_bench._io import atomic_write, atomic_write_text
from letitwag_bench.stats import fit_scaling, per_concept_accuracy

SIDECAR_COLUMNS = ("concept", "class_name", "dataset", "n", "correct", "accuracy", "count")
FIT_KEYS = ("slope", "slope_ci_low", "slope_ci_high", "intercept", "pearson_r", "spearman_rho", "binned_r",
            "tail_accuracy", "head_accuracy", "n_concepts", "n_zero_count")


@dataclass(frozen=True)
class CountsChoice:
    """Which counts a run is stratified by, as recorded in the results."""

    source: str
    revision: str
    corpus: str
    method: str
    corpus_is_proxy: bool
    counts: pd.Series  # concept key → count


def output_path(folder: Path, dataset: str, model: str, pretrained: str | None) -> Path:
    """clip_benchmark's default name ``{dataset}_{pretrained}_{model}_{language}_{task}.json``, with path
    separators in model names (``local-dir:/x/y``, ``hf-hub:org/m``) made file-name safe."""
    def slug(s: str) -> str:
        return re.sub(r"[^\w.+-]+", "_", s).strip("_") or "none"
    return folder / f"{slug(dataset)}_{slug(pretrained or 'none')}_{slug(model)}_en_zeroshot_classification.json"


def concept_table(top1: np.ndarray, labels: np.ndarray, class_names: Sequence[str], class_concepts: Sequence[str],
                  dataset: str, counts: pd.Series) -> pd.DataFrame:
    """The per-concept sidecar: classes sharing a concept are merged (class names joined by ``;``)."""
    per = per_concept_accuracy(top1.astype(np.int64), labels.astype(np.int64), list(class_concepts))
    names: dict[str, list[str]] = {}
    for name, concept in zip(class_names, class_concepts, strict=True):
        names.setdefault(concept, []).append(name)
    frame = pd.DataFrame({
        "concept": per.concept,
        "class_name": [";".join(names[c]) for c in per.concept],
        "dataset": dataset,
        "n": per.n,
        "correct": per.correct,
        "accuracy": per.accuracy,
        "count": pd.array([counts.get(c) for c in per.concept], dtype="Int64"),
    })
    return frame[list(SIDECAR_COLUMNS)]


def fit_metrics(table: pd.DataFrame, counts: CountsChoice, *, seed: int = 0) -> dict:
    """The flat fit keys over the concepts that have a count, plus the counts provenance keys."""
    have = table[table["count"].notna()]
    fit = fit_scaling(have["accuracy"].to_numpy(float), have["count"].to_numpy(np.int64),
                      n=have["n"].to_numpy(np.int64), seed=seed).to_dict()
    out = {k: fit[k] for k in FIT_KEYS}
    out.update(counts_source=counts.source, counts_revision=counts.revision, counts_corpus=counts.corpus,
               counts_method=counts.method, counts_corpus_is_proxy=counts.corpus_is_proxy,
               n_concepts_without_count=int(table["count"].isna().sum()))
    return out


def write_result(path: Path, *, dataset: str, model: str, pretrained: str | None, metrics: dict,
                 table: pd.DataFrame, extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``path`` (JSON) and its sidecar ``path`` with ``.json`` → ``.concepts.csv``, atomically."""
    dump = {"dataset": dataset, "model": model, "pretrained": pretrained or "", "task": "zeroshot_classification",
            "metrics": {k: _json_number(v) for k, v in metrics.items()}, "language": "en", **(extra or {})}
    sidecar = path.with_name(path.name.removesuffix(".json") + ".concepts.csv")
    atomic_write(sidecar, lambda tmp: table.to_csv(tmp, index=False, lineterminator="\n"))
    atomic_write_text(path, json.dumps(dump, indent=1))
    return path, sidecar


def _json_number(value):
    return None if isinstance(value, float) and math.isnan(value) else value
