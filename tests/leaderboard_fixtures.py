"""Builders shared by the leaderboard tests: small results folders and clip_benchmark outputs."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from letitwag_bench.counts import letitwag_classes, load_counts

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "leaderboards"
SMALL_SET = ("vit-b-32--laion400m_e32", "vit-b-32--openai", "rn50--cc3m", "vit-h-14--dfn")


def small_results(dest: Path, slugs: tuple[str, ...] = SMALL_SET, benchmark: str = "letitwag") -> Path:
    """Copy a few committed records (one benchmark) into `dest`."""
    for slug in slugs:
        target = dest / slug
        target.mkdir(parents=True)
        shutil.copyfile(COMMITTED / "results" / slug / f"{benchmark}.json", target / f"{benchmark}.json")
    return dest


def clip_benchmark_output(folder: Path, *, model: str = "ViT-T-1", pretrained: str = "tiny_e1", seed: int = 0,
                          n: int = 450, name: str = "letitwag_result.json") -> Path:
    """A clip_benchmark output JSON for `--dataset letitwag` plus its per-concept sidecar, in the format the
    clip_benchmark adapter writes (accuracies grow with log count, so the fit has a positive slope)."""
    rng = np.random.default_rng(seed)
    classes = letitwag_classes()
    counts = load_counts().concept_counts("laion400m", "matched", dataset="letitwag")
    count = classes["concept"].map(counts).astype("Int64")
    x = np.log10(np.maximum(count.fillna(0).to_numpy(float), 1))
    p = np.clip(0.2 + 0.08 * x + rng.normal(0, 0.05, len(x)), 0, 1)
    correct = rng.binomial(n, p)
    table = pd.DataFrame({"concept": classes["concept"], "class_name": classes["class_name"], "dataset": "letitwag",
                          "n": n, "correct": correct, "accuracy": correct / n, "count": count})
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    metrics = {"acc1": float(correct.sum() / (n * len(correct))),
               "mean_per_class_recall": float(table["accuracy"].mean()),
               "slope": 1.0, "slope_ci_low": 0.5, "slope_ci_high": 1.5, "counts_source": "bundled",
               "counts_revision": "upstream-11ef009f", "counts_corpus": "laion400m", "counts_method": "matched",
               "counts_corpus_is_proxy": True}
    out.write_text(json.dumps({"dataset": "letitwag", "model": model, "pretrained": pretrained,
                               "task": "zeroshot_classification", "metrics": metrics, "language": "en"}))
    table.to_csv(folder / name.replace(".json", ".concepts.csv"), index=False)
    return out


def pooled_outputs(folder: Path, *, model: str = "ViT-T-1", pretrained: str = "tiny_e1", seed: int = 0,
                   per_class: int = 4) -> list[Path]:
    """clip_benchmark outputs of one model for every `letitwag/<name>` of the concepts_cb board, made by the
    adapter's own code: clip_benchmark's shipped class names → `stratification_for` (concept keys) →
    `stratify` (sidecar table and metrics) → `write_sidecar`. Predictions are right more often for classes
    with larger counts; merged classes (ImageNet's two `sunglasses`) count a confusion as right, as in a run."""
    from letitwag_bench.concept_results import sidecar_path, write_sidecar
    from letitwag_bench.datasets.clip_benchmark_classes import POOLED_DATASETS, clip_benchmark_class_names
    from letitwag_bench.harness.clip_benchmark import choose_counts, stratification_for, stratify

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in POOLED_DATASETS:
        strat = stratification_for(name, list(clip_benchmark_class_names(name)))
        choice = choose_counts(pretrained, strat.dataset)
        count = pd.Series(strat.class_concepts).map(choice.counts).fillna(0).to_numpy(float)
        p = np.clip(0.2 + 0.08 * np.log10(np.maximum(count, 1)), 0, 1)
        targets = np.repeat(np.arange(len(strat.class_names)), per_class)
        right = rng.random(len(targets)) < p[targets]
        predictions = np.where(right, targets, (targets + 1 + rng.integers(0, 5, len(targets))) % len(p))
        result = stratify(predictions, targets, strat, choice, n_bootstrap=10)
        out = folder / f"letitwag_{name}_{pretrained}_{model}_en_zeroshot_classification.json"
        out.write_text(json.dumps({"dataset": f"letitwag/{name}", "model": model, "pretrained": pretrained,
                                   "task": "zeroshot_classification", "metrics": {"acc1": float(right.mean()),
                                                                                  **result.metrics},
                                   "language": "en"}))
        write_sidecar(result.table, sidecar_path(out))
        paths.append(out)
    return paths


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` by relative path → sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
