"""Import the paper's released per-class results as leaderboard records.

Usage:
    python scripts/import_paper_results.py ../shared/upstream/frequency_determines_performance

Reads
- `let_it_wag_datasets/evaluations/let_it_wag_ensemble_results.json` (40 models, top-1 % per class,
  450 test images per class) → benchmark `letitwag`;
- `zero_shot_evaluations/*_ensemble_results.json` (21 models, 19 classification sets, top-1 % per
  class, test-set sizes per class not released) → benchmark `concepts` (all sets pooled), and the same
  numbers on the 8 sets of `concepts_cb` under the concept keys clip_benchmark runs write (`CB_NAME_MAP`);
- `retrieval_evaluations/{coco,flickr}_t2i_k=5_results.json` (21 models, recall per concept) →
  benchmark `retrieval`;
and writes `leaderboards/results/<model-slug>/<benchmark>.json` plus the benchmarks' class lists
`src/letitwag_bench/data/benchmark_classes.csv` (for `concepts_cb`: what the clip_benchmark adapter writes,
from the installed clip_benchmark's class names; needs clip_benchmark installed). Percent becomes a
fraction. Re-running on the same release writes the same bytes (no dates are recorded: the provenance
is the upstream commit).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from letitwag_bench._io import atomic_write_text
from letitwag_bench.concepts import concept_key
from letitwag_bench.counts import UPSTREAM_COMMIT, UPSTREAM_REPO
from letitwag_bench.harness.clip_benchmark import pooled_classes
from letitwag_bench.leaderboard import BENCHMARKS, CLASSES_CSV, ConceptIndex, check_coverage
from letitwag_bench.records import (
    BenchmarkRef,
    Harness,
    ModelInfo,
    Provenance,
    ResultRecord,
    write_record,
)

ROOT = Path(__file__).resolve().parents[1]
LETITWAG_FILE = "let_it_wag_datasets/evaluations/let_it_wag_ensemble_results.json"
RETRIEVAL_FILES = {"coco": "retrieval_evaluations/coco_t2i_k=5_results.json",
                   "flickr": "retrieval_evaluations/flickr_t2i_k=5_results.json"}
LETITWAG_N = 450  # images per class in Let It Wag! (FORMATS.md: classwise values are multiples of 1/450)
OPEN_CLIP = "https://github.com/mlfoundations/open_clip"

# upstream "pretrained" label → (pretraining corpus as shown, display suffix, homepage)
CORPORA: dict[str, tuple[str, str, str]] = {
    "cc3m": ("cc3m", "CC-3M", OPEN_CLIP),
    "cc12m": ("cc12m", "CC-12M", OPEN_CLIP),
    "yfcc15m": ("yfcc15m", "YFCC-15M", OPEN_CLIP),
    "synthci30m": ("synthci30m", "SynthCI-30M", "https://github.com/hammoudhasan/SynthCLIP"),
    "laion200m_train_test_sim_normalized": ("laion200m-dedup", "LAION-200M (test-deduplicated)", OPEN_CLIP),
    "laion400m": ("laion400m", "LAION-400M", OPEN_CLIP),
    "laion2b": ("laion2b", "LAION-2B", OPEN_CLIP),
    "datacomp": ("datacomp-1b", "DataComp-1B", OPEN_CLIP),
    "commonpool": ("commonpool", "CommonPool", OPEN_CLIP),
    "openai": ("openai-wit", "OpenAI WIT", "https://github.com/openai/CLIP"),
    "siglip": ("webli", "WebLI (SigLIP)", "https://github.com/google-research/big_vision"),
    "metaclip400m": ("metaclip-400m", "MetaCLIP-400M", "https://github.com/facebookresearch/MetaCLIP"),
    "metaclip2.5b": ("metaclip-2.5b", "MetaCLIP-2.5B", "https://github.com/facebookresearch/MetaCLIP"),
    "dfn": ("dfn", "DFN", "https://huggingface.co/apple"),
}
# (backbone, upstream label) → open_clip pretrained tag, where the open_clip checkpoint is unambiguous.
OPEN_CLIP_TAGS: dict[tuple[str, str], str] = {
    **{(b, "laion400m"): "laion400m_e32" for b in ("ViT-B-32", "ViT-B-16", "ViT-L-14")},
    ("ViT-B-32", "laion2b"): "laion2b_s34b_b79k",
    ("ViT-B-16", "laion2b"): "laion2b_s34b_b88k",
    ("ViT-L-14", "laion2b"): "laion2b_s32b_b82k",
    ("ViT-H-14", "laion2b"): "laion2b_s32b_b79k",
    ("ViT-bigG-14", "laion2b"): "laion2b_s39b_b160k",
    **{(b, "datacomp"): "datacomp_xl_s13b_b90k" for b in ("ViT-B-32", "ViT-B-16", "ViT-L-14")},
    **{(b, "metaclip400m"): "metaclip_400m" for b in ("ViT-B-32", "ViT-B-16", "ViT-L-14")},
    **{(b, "metaclip2.5b"): "metaclip_fullcc" for b in ("ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-H-14")},
}


def parse_key(key: str) -> tuple[str, str]:
    """``backboneViT-B-32_pretrainedlaion400m`` → (``ViT-B-32``, ``laion400m``)."""
    if not key.startswith("backbone") or "_pretrained" not in key:
        raise ValueError(f"unexpected model key {key!r}; expected backbone<ARCH>_pretrained<CORPUS>")
    backbone, label = key[len("backbone"):].split("_pretrained", 1)
    return backbone, label


def model_info(key: str) -> ModelInfo:
    backbone, label = parse_key(key)
    corpus, corpus_name, url = CORPORA[label]
    pretrained = OPEN_CLIP_TAGS.get((backbone, label), label)
    return ModelInfo(architecture=backbone, pretrained=pretrained, display_name=f"{backbone} / {corpus_name}",
                     corpus=corpus, url=url)


def provenance(files: list[str]) -> Provenance:
    return Provenance(
        kind="imported",
        description=(f"imported from the paper's release ({UPSTREAM_REPO}, commit {UPSTREAM_COMMIT}): "
                     + ", ".join(files) + "; percent converted to fractions"),
        command="python scripts/import_paper_results.py UPSTREAM_FOLDER",
    )


def record(key: str, benchmark: str, prompt_set: str, files: list[str], rows: list[dict]) -> ResultRecord:
    bench = BENCHMARKS[benchmark]
    return ResultRecord(
        model=model_info(key),
        benchmark=BenchmarkRef(id=bench.id, version=bench.version),
        harness=Harness(name="frequency_determines_performance", version=UPSTREAM_COMMIT[:8]),
        prompt_set=prompt_set,
        provenance=provenance(files),
        results=rows,
    )


def read(folder: Path, rel: str) -> dict:
    return json.loads((folder / rel).read_text())


def letitwag_records(folder: Path) -> list[ResultRecord]:
    data = read(folder, LETITWAG_FILE)
    return [
        record(key, "letitwag", "openai-80-templates", [LETITWAG_FILE], [
            {"concept": concept_key(name), "class_name": name, "dataset": "letitwag", "n": LETITWAG_N,
             "accuracy": pct / 100}
            for name, pct in entry["classwise"].items()
        ])
        for key, entry in data.items()
    ]


def concepts_records(folder: Path) -> list[ResultRecord]:
    files = sorted((folder / "zero_shot_evaluations").glob("*_ensemble_results.json"))
    per_model: dict[str, list[dict]] = {}
    for f in files:
        dataset = f.name.removesuffix("_ensemble_results.json")
        for key, entry in json.loads(f.read_text()).items():
            per_model.setdefault(key, []).extend(
                {"concept": concept_key(name), "class_name": name, "dataset": dataset, "accuracy": pct / 100}
                for name, pct in entry["classwise"].items()
            )
    return [record(key, "concepts", "openai-80-templates", ["zero_shot_evaluations/*_ensemble_results.json"],
                   rows) for key, rows in per_model.items()]


# `concepts_cb`: concept key of a paper class name → the key clip_benchmark runs write, where they differ.
# Every other paper class of the 8 datasets keeps concept_key(name), which test_import_paper_results checks.
# CLIP's ImageNet names (clip_benchmark's) call classes 836 and 837 both "sunglasses" and 657 and 744 both
# "missile", so a run scores each pair as one concept; the paper's two classes (50 test images each) are
# averaged into it.
CB_NAME_MAP: dict[str, dict[str, str]] = {
    ds: {"sunglass": "sunglasses", "projectile": "missile"} for ds in ("imagenet", "imagenet-sketch")
}


def concepts_cb_records(folder: Path, classes: pd.DataFrame) -> list[ResultRecord]:
    """The paper's per-class results on the `concepts_cb` datasets, merged into its concepts (`classes`:
    the board's class list). A paper class whose key is not on the board is an error, not dropped."""
    bench = BENCHMARKS["concepts_cb"]
    board = set(zip(classes["dataset"], classes["concept"], strict=True))
    per_model: dict[str, list[dict]] = {}
    for dataset in sorted(classes["dataset"].unique()):
        rel = f"zero_shot_evaluations/{dataset}_ensemble_results.json"
        for key, entry in read(folder, rel).items():
            merged: dict[str, list[tuple[str, float]]] = {}
            for name, pct in entry["classwise"].items():
                concept = CB_NAME_MAP.get(dataset, {}).get(concept_key(name), concept_key(name))
                if (dataset, concept) not in board:
                    raise ValueError(f"{folder / rel}: model {key!r}, class {name!r}: concept {concept!r} is not "
                                     f"on the concepts_cb board; add it to CB_NAME_MAP")
                merged.setdefault(concept, []).append((name, pct))
            per_model.setdefault(key, []).extend(
                {"concept": concept, "class_name": "; ".join(sorted(n for n, _ in pairs)), "dataset": dataset,
                 "accuracy": sum(p for _, p in pairs) / len(pairs) / 100}
                for concept, pairs in merged.items())
    records = [record(key, "concepts_cb", "openai-80-templates", ["zero_shot_evaluations/*_ensemble_results.json"],
                      rows) for key, rows in per_model.items()]
    index = ConceptIndex(classes)
    for rec in records:
        check_coverage(rec, bench, where=f"concepts_cb record of {rec.slug}", index=index)
    return records


def retrieval_records(folder: Path) -> list[ResultRecord]:
    per_model: dict[str, list[dict]] = {}
    for dataset, rel in RETRIEVAL_FILES.items():
        for key, entry in read(folder, rel).items():
            per_model.setdefault(key, []).extend(
                {"concept": concept_key(name), "class_name": name, "dataset": dataset, "accuracy": recall}
                for name, recall in entry["conceptwise"].items()
                if name.strip()  # the COCO release has one entry with an empty concept name
            )
    return [record(key, "retrieval", "captions", list(RETRIEVAL_FILES.values()), rows)
            for key, rows in per_model.items()]


def classes_table(records: list[ResultRecord]) -> pd.DataFrame:
    """Each benchmark's class list: the union of its imported records' classes (all models agree)."""
    frames = [r.results.frame().assign(benchmark=r.benchmark.id) for r in records]
    cols = ["benchmark", "dataset", "class_name", "concept"]
    return pd.concat(frames)[cols].drop_duplicates().sort_values(cols).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", type=Path, help="folder of the paper's release")
    parser.add_argument("--out", type=Path, default=ROOT / "leaderboards" / "results")
    args = parser.parse_args()
    cb = pooled_classes()
    cb_classes = cb[cb["matched"]].assign(benchmark="concepts_cb")  # the unmatched are the board's `excluded`
    records = letitwag_records(args.upstream) + concepts_records(args.upstream) + retrieval_records(args.upstream)
    classes = classes_table(records)
    classes = pd.concat([classes, cb_classes[list(classes.columns)]])
    classes = classes.sort_values(list(classes.columns)).reset_index(drop=True)
    atomic_write_text(CLASSES_CSV, classes.to_csv(index=False, lineterminator="\n"))
    records += concepts_cb_records(args.upstream, cb_classes)
    for rec in records:
        write_record(rec, args.out)
    by_bench = classes.groupby("benchmark").size().to_dict()
    print(f"wrote {len(records)} records to {args.out}; benchmark classes {by_bench} to {CLASSES_CSV}")


if __name__ == "__main__":
    main()
