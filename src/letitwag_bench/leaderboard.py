"""Leaderboards: benchmark definitions, fitting every record on fixed counts, and the built pages.

Every model of a benchmark is fitted on the *same* concept set and the *same* counts (one corpus,
one method per benchmark, below), so slopes, intervals and ranks are comparable. The build is a
pure function of the records, the counts table and the fit settings: same inputs, same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from letitwag_bench import stats
from letitwag_bench._io import atomic_write_bytes, atomic_write_text
from letitwag_bench.counts import CountsTable, load_counts
from letitwag_bench.records import ConceptTable, RecordError, ResultRecord, load_records

CLASSES_CSV = Path(str(resources.files("letitwag_bench") / "data" / "benchmark_classes.csv"))
N_BOOTSTRAP = 2000
SEED = 0
TARGET_PCT = 50.0  # "examples needed" for this accuracy


@dataclass(frozen=True)
class Benchmark:
    id: str
    version: str
    title: str
    metric: str  # what a per-concept value is
    corpus: str
    method: str
    why: str  # why this corpus/method: shown on the page
    # Only for benchmarks defined outside the package data (tests, speed benchmarks): the class list
    # (dataset, class_name, concept) and, optionally, the same with a `count` column.
    class_table: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    count_table: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    classes_of: str | None = None  # another benchmark whose class list this one shares
    # (dataset, concept) rows a harness writes that the board leaves out; `letitwag submit` drops them
    excluded: frozenset[tuple[str, str]] = frozenset()

    def classes(self) -> pd.DataFrame:
        """The benchmark's classes: ``dataset``, ``class_name``, ``concept`` (sorted)."""
        if self.class_table is not None:
            return self.class_table
        return _classes_csv(self.classes_of or self.id)

    def counts(self, table: CountsTable) -> pd.DataFrame:
        """The classes with their count (``Int64``, <NA> where the dataset has none for this corpus/method)."""
        if self.count_table is not None:
            return self.count_table
        classes = self.classes()
        parts = []
        for dataset, group in classes.groupby("dataset", sort=True):
            shown = table.show(str(dataset), self.corpus, self.method)[["concept", "count"]]
            parts.append(group.merge(shown.drop_duplicates("concept"), on="concept", how="left"))
        out = pd.concat(parts, ignore_index=True)
        out["count"] = out["count"].astype("Int64")
        return out.sort_values(["dataset", "concept"], kind="stable").reset_index(drop=True)


_CORPUS_WHY = ("One corpus for every model: laion400m, the largest web corpus the paper counted. Most models "
               "(OpenAI, SigLIP, MetaCLIP, DFN, LAION-2B, DataComp) were trained on corpora nobody has counted, "
               "and fitting each model on its own corpus would put the models on different x axes; the paper "
               "shows concept frequencies are strongly correlated across web corpora, so laion400m is the "
               "common proxy. The `corpus` column is the model's own pretraining corpus.")
BENCHMARKS: dict[str, Benchmark] = {
    "letitwag": Benchmark(
        id="letitwag", version="1", title="Let It Wag! (290 long-tail classes)", metric="top-1 accuracy",
        corpus="laion400m", method="image",
        why=("Counts: laion400m, image (RAM++ tags at 0.7, `rampp0.7`). With the paper's default matched "
             "counts 225 of the 290 classes have count 0 in laion400m (246-278 in the smaller counted corpora), "
             "so the fit would contrast one pile of zero-count classes with 65 others. Image counts leave "
             "75 zeros and spread the classes over six decades; across the 40 released models they give "
             "a positive correlation for every model and the largest spread of slopes between models "
             "relative to their OLS standard errors (1.2, against 1.1 for text and matched counts), i.e. the "
             "most discriminating ranking. Text counts give the weakest association (one model negative)."),
    ),
    "concepts": Benchmark(
        id="concepts", version="1", title="Pooled classification concepts (19 datasets, 4,669 classes)",
        metric="top-1 accuracy per class", corpus="laion400m", method="matched",
        why=("Counts: laion400m, matched (caption and image both contain the concept, "
             "`integrated_tlemmatized_i0.7`), the paper's headline analysis. Each class is joined to its own "
             "dataset's count; 37% of the pooled classes have count 0, the rest span seven decades. "
             "CIFAR-10's `plane` has no count and is left out of the fit. Per-class test sizes were not "
             "released, so classes are weighted equally."),
    ),
    "concepts_cb": Benchmark(
        id="concepts_cb", version="1",
        title="Pooled classification concepts, the clip_benchmark datasets (8 datasets, 2,656 concepts)",
        metric="top-1 accuracy per concept", corpus="laion400m", method="matched",
        # caltech101's `background` (clip_benchmark's BACKGROUND_Google class) has no count and no paper value
        excluded=frozenset({("caltech101", "background")}),
        why=("The pooled analysis on the 8 of its 19 datasets that anyone can run with `clip_benchmark eval "
             "--dataset letitwag/<name>` and whose class names ship with clip_benchmark (caltech101, country211, "
             "eurosat, flowers, imagenet1k, imagenet-r, imagenet_sketch, pets), with the concept keys the "
             "clip_benchmark adapter writes; counts as for `concepts` (laion400m, matched, each dataset's own). "
             "Classes sharing a concept are one concept (ImageNet's two `sunglasses` and two `missile` classes in "
             "CLIP's names, caltech101's two face classes); the paper's models were imported with their two "
             "classes averaged. caltech101's `background` is left out (no count, no paper value)."),
    ),
    "retrieval": Benchmark(
        id="retrieval", version="1", title="Retrieval concepts (COCO + Flickr30k, text→image recall@5)",
        metric="text-to-image recall@5 per concept", corpus="laion400m", method="matched",
        why=("Counts: laion400m, matched, each concept joined to its own dataset's (coco, flickr) count; "
             "per-concept value: text-to-image recall@5 averaged over the captions that mention the "
             "concept (the middle of the released k = 1, 5, 10). The release's one COCO entry with an empty "
             "concept name is dropped."),
    ),
    "letitwag_vlm": Benchmark(
        id="letitwag_vlm", version="1", title="Let It Wag! for vision-language models (lm-eval `letitwag_vlm`)",
        metric="multiple-choice accuracy", corpus="laion400m", method="image", classes_of="letitwag",
        why=("The 290 Let It Wag! classes asked as multiple-choice questions of a vision-language model "
             "through lm-evaluation-harness; counts as for `letitwag` (laion400m, image), for the same "
             "reason. Not comparable with the zero-shot CLIP board: the task and chance level differ."),
    ),
}


@cache
def _classes_csv(benchmark: str) -> pd.DataFrame:
    table = pd.read_csv(CLASSES_CSV, dtype=str, keep_default_na=False)
    return table[table["benchmark"] == benchmark][["dataset", "class_name", "concept"]].reset_index(drop=True)


# -- fitting -------------------------------------------------------------------------------------------


class ConceptIndex:
    """A benchmark's classes in the canonical order (dataset, concept), and where each record row goes.

    It is the order `letitwag fit` uses (the bootstrap resamples positions), so a leaderboard number is
    reproduced exactly by fitting the record's per-concept table. `classes` has ``dataset`` and
    ``concept`` columns (and ``count`` when built from :meth:`Benchmark.counts`).
    """

    def __init__(self, classes: pd.DataFrame) -> None:
        self.frame = classes.sort_values(["dataset", "concept"], kind="stable").reset_index(drop=True)
        pairs = zip(self.frame["dataset"], self.frame["concept"], strict=True)
        self._position = {pair: i for i, pair in enumerate(pairs)}
        self._memo: dict[tuple[tuple, tuple], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def positions(self, results: ConceptTable) -> np.ndarray:
        """Position of each result row in the benchmark's order, -1 where the benchmark lacks the concept.

        The records of a benchmark list the same concepts, so the lookup runs once per distinct list.
        """
        key = (tuple(results.dataset), tuple(results.concept))
        pos = self._memo.get(key)
        if pos is None:
            pos = np.fromiter((self._position.get(pair, -1) for pair in zip(*key, strict=True)), np.int64, len(results))
            self._memo[key] = pos
        return pos

    def values(self, records: list[ResultRecord]) -> tuple[np.ndarray, np.ndarray]:
        """(m, K) accuracy and n of m records in the benchmark's order; NaN where a record has no value."""
        acc = np.full((len(records), len(self)), np.nan)
        n = np.full((len(records), len(self)), np.nan)
        for j, rec in enumerate(records):
            pos = self.positions(rec.results)
            have = pos >= 0
            acc[j, pos[have]] = rec.results.accuracy[have]
            n[j, pos[have]] = rec.results.n[have]
        return acc, n


def check_coverage(record: ResultRecord, bench: Benchmark, *, where: str, index: ConceptIndex | None = None) -> None:
    """The record must hold exactly the benchmark's classes: comparable numbers need the same concept set."""
    index = ConceptIndex(bench.classes()) if index is None else index
    pos = index.positions(record.results)
    res = record.results
    if (pos < 0).any():
        unknown = sorted(zip(res.dataset[pos < 0], res.concept[pos < 0], strict=True))
        raise RecordError(f"{where}: field 'results': {len(unknown)} concept(s) not in benchmark "
                          f"{bench.id!r}, e.g. {_pairs(unknown)}; known datasets: "
                          f"{', '.join(sorted(index.frame['dataset'].unique()))}")
    if len(pos) < len(index):  # result rows are distinct, so fewer rows means missing concepts
        lacking = np.setdiff1d(np.arange(len(index)), pos)
        missing = list(zip(index.frame["dataset"].iloc[lacking], index.frame["concept"].iloc[lacking], strict=True))
        raise RecordError(f"{where}: field 'results': {len(missing)} of the benchmark's {len(index)} concepts are "
                          f"missing, e.g. {_pairs(missing)}; every concept of {bench.id!r} is needed")


def _pairs(pairs: list[tuple[str, str]], k: int = 3) -> str:
    return ", ".join(f"{d}/{c!r}" for d, c in pairs[:k])


def top1(accuracy: np.ndarray, n: np.ndarray) -> float:
    """Accuracy in pp over all classes: weighted by n when every class has one, else the per-class mean
    (equal n: the two agree; the paper's `full` value is this mean)."""
    if not np.isnan(n).any():
        return float(100 * (accuracy * n).sum() / n.sum())
    return float(100 * accuracy.mean())


def imagenet_top1(record: ResultRecord) -> float | None:
    res = record.results
    mine = res.dataset == "imagenet"
    return top1(res.accuracy[mine], res.n[mine]) if mine.any() else None


def fit_values(index: ConceptIndex, accuracy: np.ndarray, n: np.ndarray, *, n_bootstrap: int = N_BOOTSTRAP,
               seed: int = SEED) -> list[stats.ScalingFit]:
    """Fit (m, K) values from :meth:`ConceptIndex.values` (an index with counts) in one batched call, on
    the counted concepts; each result is bit-identical to fitting that model alone."""
    counted = index.frame["count"].notna().to_numpy()
    accuracy, n = accuracy[:, counted], n[:, counted]
    return stats.fit_scaling_many(accuracy, index.frame["count"][counted].to_numpy(float),
                                  n=None if np.isnan(n).any() else n, weighting="equal",
                                  n_bootstrap=n_bootstrap, seed=seed)


def arena_ranks(low: Iterable[float], high: Iterable[float]) -> list[int]:
    """Chatbot Arena ranks: 1 + the number of models whose interval lies entirely above this one's.

    Models whose intervals overlap are not separated, so they can share a rank.
    """
    lo = np.asarray(list(low), float)
    hi = np.asarray(list(high), float)
    return [int(1 + np.sum(lo > h)) for h in hi]


@dataclass(frozen=True)
class Entry:
    record: ResultRecord
    fit: stats.ScalingFit
    examples: stats.ExamplesNeeded
    top1: float
    imagenet_top1: float | None
    n_classes: int
    rank: int = 0


def evaluate(records: list[ResultRecord], table: CountsTable | None, *, n_bootstrap: int = N_BOOTSTRAP,
             seed: int = SEED, benchmarks: dict[str, Benchmark] = BENCHMARKS) -> dict[str, list[Entry]]:
    """Fit every record; entries per benchmark sorted by rank, then slope (descending), then slug."""
    # ImageNet top-1 of a model from its `concepts` record, else from its `concepts_cb` one (submitted models)
    pooled = sorted((r for r in records if r.benchmark.id in ("concepts", "concepts_cb")),
                    key=lambda r: r.benchmark.id == "concepts")
    imagenet = {r.slug: imagenet_top1(r) for r in pooled}
    out: dict[str, list[Entry]] = {}
    for bench in benchmarks.values():
        recs = sorted((r for r in records if r.benchmark.id == bench.id), key=lambda r: r.slug)
        if not recs:
            continue
        index = ConceptIndex(bench.counts(table))
        acc, n = index.values(recs)
        fits = fit_values(index, acc, n, n_bootstrap=n_bootstrap, seed=seed)
        entries = [Entry(rec, f, stats.examples_needed(f, TARGET_PCT), top1(acc[j], n[j]), imagenet.get(rec.slug),
                         len(rec.results)) for j, (rec, f) in enumerate(zip(recs, fits, strict=True))]
        ranks = arena_ranks([e.fit.slope_ci_low for e in entries], [e.fit.slope_ci_high for e in entries])
        entries = [Entry(**{**e.__dict__, "rank": k}) for e, k in zip(entries, ranks, strict=True)]
        out[bench.id] = sorted(entries, key=lambda e: (e.rank, -e.fit.slope, e.record.slug))
    return out


def validate_records(records: list[ResultRecord], *, where: str = "leaderboard",
                     benchmarks: dict[str, Benchmark] = BENCHMARKS) -> None:
    """Benchmark known, version current, classes complete, one record per (model, benchmark)."""
    seen: dict[tuple[str, str], str] = {}
    indices = {bid: ConceptIndex(b.classes()) for bid, b in benchmarks.items()
               if any(r.benchmark.id == bid for r in records)}
    for rec in records:
        src = f"{where}/{rec.relpath()}"
        bench = benchmarks.get(rec.benchmark.id)
        if bench is None:
            raise RecordError(f"{src}: field 'benchmark.id': unknown benchmark {rec.benchmark.id!r}; "
                              f"known: {', '.join(benchmarks)}")
        if rec.benchmark.version != bench.version:
            raise RecordError(f"{src}: field 'benchmark.version': {rec.benchmark.version!r}, expected "
                              f"{bench.version!r}")
        check_coverage(rec, bench, where=src, index=indices[bench.id])
        key = (rec.slug, rec.benchmark.id)
        if key in seen:
            raise RecordError(f"{src}: duplicate of {seen[key]} (same model and benchmark)")
        seen[key] = src


# -- outputs -------------------------------------------------------------------------------------------

COLUMNS = ("benchmark", "rank", "model", "slug", "architecture", "pretrained", "corpus", "top1", "imagenet_top1",
           "slope", "slope_ci_low", "slope_ci_high", "intercept", "binned_r_trimmed", "binned_r", "pearson_r",
           "spearman_rho",
           "tail_accuracy", "head_accuracy", "examples_50", "examples_50_extrapolated", "n_classes",
           "n_concepts", "n_zero_count", "source")


def _r(x: float | None, nd: int = 4) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), nd)


def entry_row(bench: Benchmark, e: Entry) -> dict:
    f, ex = e.fit, e.examples
    return {
        "benchmark": bench.id, "rank": e.rank, "model": e.record.model.display_name, "slug": e.record.slug,
        "architecture": e.record.model.architecture, "pretrained": e.record.model.pretrained,
        "corpus": e.record.model.corpus, "top1": _r(e.top1), "imagenet_top1": _r(e.imagenet_top1),
        "slope": _r(f.slope), "slope_ci_low": _r(f.slope_ci_low), "slope_ci_high": _r(f.slope_ci_high),
        # Key names as in `letitwag fit --json`; the tables show the paper's (end bins trimmed) r.
        "intercept": _r(f.intercept), "binned_r_trimmed": _r(f.binned.pearson_r_trimmed),
        "binned_r": _r(f.binned.pearson_r), "pearson_r": _r(f.pearson_r),
        "spearman_rho": _r(f.spearman_rho), "tail_accuracy": _r(f.tail_accuracy),
        "head_accuracy": _r(f.head_accuracy),
        "examples_50": float(f"{ex.count:.4g}") if ex.defined and math.isfinite(ex.count) else None,
        "examples_50_extrapolated": bool(ex.extrapolated) if ex.defined else None,
        "n_classes": e.n_classes, "n_concepts": f.n_concepts, "n_zero_count": f.n_zero_count,
        "source": e.record.provenance.kind,
    }


def curve(e: Entry) -> dict:
    b = e.fit.binned
    return {"x": [_r(c, 3) for c in b.centre], "y": [_r(m, 2) for m in b.mean], "n": [int(k) for k in b.n],
            "slope": _r(e.fit.slope), "intercept": _r(e.fit.intercept)}


def leaderboard_data(results: dict[str, list[Entry]], counts_meta: dict[str, str],
                     benchmarks: dict[str, Benchmark] = BENCHMARKS) -> dict:
    out = {}
    for bid, entries in results.items():
        bench = benchmarks[bid]
        first = entries[0].fit
        out[bid] = {
            "title": bench.title, "version": bench.version, "metric": bench.metric, "corpus": bench.corpus,
            "method": bench.method, "why": bench.why, "n_classes": entries[0].n_classes,
            "n_fitted": first.n_concepts, "ci_level": first.ci_level, "n_bootstrap": first.n_bootstrap,
            "seed": first.seed, "ci_method": first.ci_method, "tail_threshold": _r(first.tail_threshold),
            "models": [entry_row(bench, e) for e in entries],
            "curves": {e.record.slug: curve(e) for e in entries},
        }
    return {"counts": counts_meta, "target_pct": TARGET_PCT, "benchmarks": out}


def to_csv(data: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for b in data["benchmarks"].values():
        for row in b["models"]:
            w.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def _fmt(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def examples_text(row: dict) -> str:
    if row["examples_50"] is None:
        return "–"
    if row["examples_50"] < 1:  # the line is above the target already at count 1
        return "≤ 1"
    mark = " (extrap.)" if row["examples_50_extrapolated"] else ""
    return f"{row['examples_50']:.2g}{mark}"


def to_markdown(data: dict) -> str:
    lines = ["# Scaling-slope leaderboards", "",
             "Built by `letitwag leaderboard build` from `results/` and the bundled counts "
             f"(revision `{data['counts']['revision']}`, digest `{data['counts']['digest']}`). Do not edit by "
             "hand: CI checks that these files equal a fresh build. Open `index.html` for sortable tables "
             "and plots.", "",
             "**Slope**: percentage points of accuracy gained per tenfold more pretraining examples of a "
             "concept (least-squares fit of per-class accuracy on log10 count, counts clamped to ≥ 1), with a "
             "bootstrap interval over concepts. **Rank**: 1 + the number of models whose interval lies entirely "
             "above this model's (Chatbot Arena style), so models whose intervals overlap share a rank. "
             "**Tail**: mean accuracy of the concepts below the tail threshold (per benchmark). **Examples for "
             f"{data['target_pct']:.0f}%**: the count at which the fitted line reaches {data['target_pct']:.0f}% "
             "(extrap. = outside the observed counts).", ""]
    for bid, b in data["benchmarks"].items():
        lines += [f"## {b['title']}", "",
                  f"Benchmark `{bid}` v{b['version']}; per-concept value: {b['metric']}; {b['n_fitted']} of "
                  f"{b['n_classes']} classes fitted; {b['ci_level']:.0%} {b['ci_method']} interval from "
                  f"{b['n_bootstrap']} bootstrap resamples (seed {b['seed']}); tail = count < "
                  f"{b['tail_threshold']:g}.", "", b["why"], "", _CORPUS_WHY, "",
                  "| rank | model | corpus | top-1 | ImageNet top-1 | slope [95% CI] | binned r | tail acc. | "
                  f"examples for {data['target_pct']:.0f}% |",
                  "| ---: | --- | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
        for r in b["models"]:
            lines.append(
                f"| {r['rank']} | {r['model']} | {r['corpus']} | {_fmt(r['top1'], 2)} | {_fmt(r['imagenet_top1'], 2)}"
                f" | {_fmt(r['slope'], 2)} [{_fmt(r['slope_ci_low'], 2)}, {_fmt(r['slope_ci_high'], 2)}]"
                f" | {_fmt(r['binned_r_trimmed'], 2)} | {_fmt(r['tail_accuracy'])} | {examples_text(r)} |")
        lines.append("")
    return "\n".join(lines)


def to_json(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def render_files(data: dict) -> dict[str, str | bytes]:
    """Every output file, by path relative to the output folder."""
    from letitwag_bench import leaderboard_html  # matplotlib and jinja2: only when building pages

    return {"README.md": to_markdown(data), "leaderboard.csv": to_csv(data), "leaderboard.json": to_json(data),
            **leaderboard_html.render(data)}


def write_files(files: dict[str, str | bytes], out_dir: Path) -> list[Path]:
    written = []
    for name, content in sorted(files.items()):
        path = Path(out_dir) / name
        if isinstance(content, bytes):
            atomic_write_bytes(path, content)
        else:
            atomic_write_text(path, content)
        written.append(path)
    return written


def build(results_dir: Path, out_dir: Path, *, counts_source: str = "bundled", n_bootstrap: int = N_BOOTSTRAP,
          seed: int = SEED) -> list[Path]:
    """Read and validate the records, fit them, write the leaderboard files; returns the paths written."""
    records = load_records(results_dir)
    if not records:
        raise RecordError(f"{results_dir}: no result records (expected <model-slug>/<benchmark>.json files)")
    validate_records(records, where=str(results_dir))
    table = load_counts(counts_source)
    meta = {"source": table.source, "revision": table.revision, "digest": table.digest}
    data = leaderboard_data(evaluate(records, table, n_bootstrap=n_bootstrap, seed=seed), meta)
    return write_files(render_files(data), out_dir)
