"""`letitwag submit`: harness outputs → validated result records → rebuilt leaderboard.

Everything is checked before anything is written: a rejected submission leaves the records and the
built leaderboard exactly as they were. Readers per harness:

- clip_benchmark: its output JSON (``{"dataset", "model", "pretrained", "task", "metrics", ...}``)
  plus the per-concept sidecar next to it (``.json`` → ``.concepts.csv``, columns
  ``concept,class_name,dataset,n,correct,accuracy,count``). Several files of one model whose
  datasets make up a pooled benchmark are merged into one record: ``letitwag/<name>`` runs over the
  8 datasets of ``concepts_cb`` go there (the smallest benchmark holding the files' datasets).
- lm-eval: ``results_<date>.json`` goes to ``letitwag_bench.harness.lm_eval.read_outputs`` with the
  ``samples_*.jsonl`` files beside it; each task's table becomes a record of the benchmark the reader
  names (``letitwag_vlm`` has a board; other ids are rejected).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from letitwag_bench import leaderboard as lb
from letitwag_bench import stats
from letitwag_bench.concept_results import sidecar_path
from letitwag_bench.counts import load_counts
from letitwag_bench.datasets.clip_benchmark_classes import COUNTS_DATASET, POOLED_DATASETS
from letitwag_bench.records import (
    CountsUsed,
    RecordError,
    ResultRecord,
    model_slug,
    validate_record,
    write_record,
)

PREFIX = "letitwag/"  # clip_benchmark dataset names of the adapter
POOLED_BOARD = "concepts_cb"  # the pooled board that `letitwag/<name>` runs over POOLED_DATASETS reach
CLIP_BENCHMARK_KEYS = ("dataset", "model", "pretrained", "metrics")
SIDECAR_COLUMNS = ("concept", "class_name", "dataset", "n", "accuracy")
PACKAGES = ("letitwag-bench", "clip-benchmark", "open_clip_torch", "torch", "lm-eval")


@dataclass(frozen=True)
class Submission:
    """One harness output file read into per-concept rows, before it becomes a record."""

    path: Path
    harness: str
    architecture: str
    pretrained: str
    prompt_set: str
    counts: CountsUsed
    rows: pd.DataFrame  # concept, class_name, dataset, n, accuracy
    benchmark: str | None = None  # set by readers that know it; else found from the rows' datasets
    source_dataset: str | None = None  # the harness's own dataset name (clip_benchmark's `dataset`)


def _load_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(f"{path}: cannot read ({err})") from err
    try:
        data = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} not allowed")))
    except ValueError as err:
        raise RecordError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def is_lm_eval(data: dict) -> bool:
    # lm-eval's results_*.json carry "results" and "configs"; clip_benchmark's carry "metrics".
    return "results" in data and "configs" in data and "metrics" not in data


def read_sidecar(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise RecordError(f"{path}: per-concept sidecar not found; clip_benchmark outputs must be submitted "
                          "with the .concepts.csv written next to them by letitwag's clip_benchmark adapter")
    try:
        frame = pd.read_csv(path, dtype={"concept": str, "class_name": str, "dataset": str},
                            keep_default_na=False, na_values={"n": [""], "accuracy": [""]})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
        raise RecordError(f"{path}: not a readable CSV ({err})") from err
    missing = [c for c in SIDECAR_COLUMNS if c not in frame.columns]
    if missing:
        raise RecordError(f"{path}: missing column(s) {missing}; expected {list(SIDECAR_COLUMNS)} "
                          "(plus optional correct, count)")
    if frame.empty:
        raise RecordError(f"{path}: no rows; expected one row per concept")
    for col in ("n", "accuracy"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | ~values.map(lambda v: math.isfinite(v) if pd.notna(v) else False)
        if bad.any():
            row = int(bad.idxmax())
            raise RecordError(f"{path}: column {col!r}, row {row + 2}: {frame[col].iloc[row]!r} is not a finite "
                              "number")
        frame[col] = values
    for col in ("concept", "class_name", "dataset"):
        empty = frame[col].str.strip() == ""
        if empty.any():
            raise RecordError(f"{path}: column {col!r}, row {int(empty.idxmax()) + 2}: empty value")
    if "correct" in frame.columns:
        correct = pd.to_numeric(frame["correct"], errors="coerce")
        off = (correct / frame["n"] - frame["accuracy"]).abs() > 1e-6
        if off.any():
            row = int(off.idxmax())
            raise RecordError(f"{path}: row {row + 2} (concept {frame['concept'].iloc[row]!r}): accuracy "
                              f"{frame['accuracy'].iloc[row]} is not correct/n = {correct.iloc[row]}/"
                              f"{frame['n'].iloc[row]}")
    return frame[list(SIDECAR_COLUMNS)]


def read_clip_benchmark(path: Path) -> Submission:
    data = _load_json(path)
    missing = [k for k in CLIP_BENCHMARK_KEYS if k not in data]
    if missing:
        raise RecordError(f"{path}: missing key(s) {missing}; a clip_benchmark output has "
                          f"{list(CLIP_BENCHMARK_KEYS)}")
    for key in ("dataset", "model", "pretrained"):
        if not isinstance(data[key], str) or not data[key]:
            raise RecordError(f"{path}: field {key!r} must be a non-empty string, got {data[key]!r}")
    metrics = data["metrics"]
    if not isinstance(metrics, dict):
        raise RecordError(f"{path}: field 'metrics' must be an object, got {type(metrics).__name__}")
    try:
        model_slug(data["model"], data["pretrained"])
    except ValueError as err:
        raise RecordError(f"{path}: field 'model'/'pretrained': {err}") from err
    rows = read_sidecar(sidecar_path(path))
    name = data["dataset"].removeprefix(PREFIX)
    if data["dataset"].startswith(PREFIX) and name in COUNTS_DATASET and set(rows["dataset"]) != {COUNTS_DATASET[name]}:
        raise RecordError(f"{sidecar_path(path)}: column 'dataset' holds {sorted(set(rows['dataset']))}, but the "
                          f"output is for {data['dataset']!r}, whose sidecar rows have dataset "
                          f"{COUNTS_DATASET[name]!r}; is it the sidecar of another run?")
    counts = CountsUsed(**{k: _opt_str(metrics.get(f"counts_{k}")) for k in ("source", "revision", "corpus", "method")})
    language = data.get("language") or "en"
    prompt_set = str(metrics.get("prompt_set") or f"clip_benchmark default templates ({language})")
    return Submission(path, "clip_benchmark", data["model"], data["pretrained"], prompt_set, counts, rows,
                      source_dataset=data["dataset"])


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def read_lm_eval(path: Path) -> list[Submission]:
    try:
        from letitwag_bench.harness.lm_eval import read_outputs  # provided by the lm-eval adapter
    except ImportError as err:
        raise RecordError(f"{path}: an lm-eval results file, but this installation has no lm-eval reader "
                          "(letitwag_bench.harness.lm_eval)") from err
    samples = sorted(path.parent.glob("samples_*.jsonl"))
    try:
        outputs = read_outputs(path, samples)
    except ValueError as err:  # the reader's own error type names the file and field
        raise RecordError(str(err)) from err
    out = []
    for info, benchmark, table in outputs:
        out.append(Submission(path, "lm-eval", str(info.get("model_name") or ""), str(info.get("model") or ""),
                              f"lm-eval task {info.get('task')} (n-shot {info.get('n_shot')})", CountsUsed(),
                              table[list(SIDECAR_COLUMNS)], benchmark=benchmark))
    return out


def benchmark_of(subs: Sequence[Submission]) -> lb.Benchmark:
    """The benchmark the reader named, or the smallest one whose datasets hold the rows' datasets of all of
    one model's files together (so that runs over the 8 `letitwag/<name>` datasets go to `concepts_cb`, runs
    over all 19 classification sets to `concepts`, and an incomplete set to the board it falls short of)."""
    named = {s.benchmark for s in subs}
    if named != {None}:
        bid = named.pop()  # callers group named submissions by benchmark, so there is exactly one
        if bid not in lb.BENCHMARKS:
            raise RecordError(f"{subs[0].path}: benchmark {bid!r} has no leaderboard; leaderboards exist "
                              f"for {', '.join(lb.BENCHMARKS)}")
        return lb.BENCHMARKS[bid]
    datasets = set().union(*(s.rows["dataset"] for s in subs))
    holding = [b for b in lb.BENCHMARKS.values() if datasets <= set(b.classes()["dataset"])]
    if holding:  # min keeps the first of equal size: `letitwag` before `letitwag_vlm`, which shares its classes
        return min(holding, key=lambda b: b.classes()["dataset"].nunique())
    known = {b.id: sorted(set(b.classes()["dataset"])) for b in lb.BENCHMARKS.values()}
    where = ", ".join(str(s.path) for s in subs)
    raise RecordError(f"{where}: column 'dataset' holds {sorted(datasets)}, which belong to no single "
                      f"benchmark; benchmarks and their datasets: {known}")


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def to_records(subs: Sequence[Submission], *, display_name: str | None = None, corpus: str = "unknown",
               url: str | None = None, release_date: str | None = None, params: int | None = None,
               today: str | None = None) -> list[ResultRecord]:
    """Group submissions by (model, benchmark) and build validated records."""
    by_model: dict[tuple[str, str | None], list[Submission]] = {}
    for sub in subs:
        by_model.setdefault((model_slug(sub.architecture, sub.pretrained), sub.benchmark), []).append(sub)
    groups: dict[tuple[str, str], list[Submission]] = {}
    for (slug, _), group in by_model.items():
        groups.setdefault((slug, benchmark_of(group).id), []).extend(group)
    if display_name is not None and len({slug for slug, _ in groups}) > 1:
        raise RecordError("--display-name names one model, but the files hold several models: "
                          f"{sorted({slug for slug, _ in groups})}; submit them separately")
    records = []
    today = today or dt.datetime.now(dt.timezone.utc).date().isoformat()
    for (_, bid), group in sorted(groups.items()):
        first, bench = group[0], lb.BENCHMARKS[bid]
        where = ", ".join(str(s.path) for s in group)
        if bid == POOLED_BOARD:
            _check_pooled_sources(group)
        rows = pd.concat([s.rows for s in group], ignore_index=True)
        if bench.excluded:
            rows = rows[[p not in bench.excluded for p in zip(rows["dataset"], rows["concept"], strict=True)]]
        missing = sorted(set(bench.classes()["dataset"]) - set(rows["dataset"]))
        if missing:
            raise RecordError(f"{where}: benchmark {bid!r} needs results for all its datasets; missing "
                              f"dataset(s): {', '.join(missing)}{_run_hint(bid, missing)}")
        dup = rows.duplicated(["dataset", "concept"])
        if dup.any():
            d = rows[dup].iloc[0]
            raise RecordError(f"{where}: concept {d['concept']!r} of dataset {d['dataset']!r} appears more than "
                              "once (in one sidecar or across the submitted files)")
        data = {
            "model": {"architecture": first.architecture, "pretrained": first.pretrained,
                      "display_name": display_name or f"{first.architecture} / {first.pretrained}",
                      "corpus": corpus, "url": url, "release_date": release_date, "params": params},
            "benchmark": {"id": bench.id, "version": bench.version},
            "harness": {"name": first.harness, "version": _versions().get(
                "clip-benchmark" if first.harness == "clip_benchmark" else first.harness, "unknown")},
            "prompt_set": first.prompt_set,
            "counts": first.counts.model_dump(),
            "provenance": {"kind": "submitted", "date": today, "packages": _versions(),
                           "command": "letitwag submit " + " ".join(s.path.name for s in group),
                           "description": f"{first.harness} outputs {', '.join(s.path.name for s in group)} "
                                          "submitted with letitwag submit"},
            "results": [{"concept": r.concept, "class_name": r.class_name, "dataset": r.dataset,
                         "n": _int_or_none(r.n), "accuracy": float(r.accuracy)}
                        for r in rows.itertuples(index=False)],
        }
        rec = validate_record(data, where=where)
        lb.check_coverage(rec, bench, where=where)
        records.append(rec)
    return records


def _check_pooled_sources(group: list[Submission]) -> None:
    """The concepts_cb concept keys are those of `letitwag/<name>` runs; an imagenetv2 run (dataset `imagenet` in
    its sidecar) or a sidecar made some other way must not pass for one."""
    accepted = [PREFIX + n for n in POOLED_DATASETS]
    for sub in group:
        if sub.source_dataset not in accepted:
            raise RecordError(f"{sub.path}: field 'dataset' is {sub.source_dataset!r}; benchmark {POOLED_BOARD!r} "
                              f"takes clip_benchmark outputs of {', '.join(accepted)}")


def _run_hint(bid: str, missing: list[str]) -> str:
    if bid != POOLED_BOARD:
        return ""
    names = [PREFIX + n for n in POOLED_DATASETS if COUNTS_DATASET[n] in missing]
    return f" (run clip_benchmark eval --dataset {' '.join(names)} and submit those outputs too)"


def _int_or_none(x: float) -> int | float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return int(x) if float(x).is_integer() else x  # a fractional n fails validation with a clear message


def read_files(paths: Sequence[Path]) -> list[Submission]:
    subs: list[Submission] = []
    for path in map(Path, paths):
        if path.name.endswith(".concepts.csv"):
            continue  # sidecars are read with their JSON
        if path.suffix != ".json":
            raise RecordError(f"{path}: expected a harness output .json file (with its .concepts.csv sidecar)")
        data = _load_json(path)
        subs.extend(read_lm_eval(path) if is_lm_eval(data) else [read_clip_benchmark(path)])
    if not subs:
        raise RecordError("no harness output .json files among the given paths")
    return subs


def submit(paths: Sequence[Path], *, results_dir: Path, out_dir: Path, replace: bool = False,
           counts_source: str = "bundled", **model_fields) -> list[Path]:
    """Validate every file, then write the records atomically and rebuild. Nothing is written on error."""
    records = to_records(read_files(paths), **model_fields)
    for rec in records:
        target = Path(results_dir) / rec.relpath()
        if target.exists() and not replace:
            raise RecordError(f"{target}: a {rec.benchmark.id} record for model {rec.slug!r} already exists; "
                              "pass --replace to overwrite it")
    table = load_counts(counts_source)
    for rec in records:  # the fit must succeed before anything is written
        try:
            index = lb.ConceptIndex(lb.BENCHMARKS[rec.benchmark.id].counts(table))
            lb.fit_values(index, *index.values([rec]), n_bootstrap=10)
        except stats.StatsError as err:
            raise RecordError(f"{rec.relpath()}: cannot be fitted: {err}") from err
    existing = lb.load_records(results_dir) if Path(results_dir).exists() else []
    lb.validate_records([r for r in existing if (r.slug, r.benchmark.id) not in
                         {(n.slug, n.benchmark.id) for n in records}] + records, where=str(results_dir))
    written = [write_record(rec, results_dir) for rec in records]
    lb.build(results_dir, out_dir, counts_source=counts_source)
    return written
