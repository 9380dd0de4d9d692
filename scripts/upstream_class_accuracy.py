"""Write one model's released per-class zero-shot accuracy, all classification datasets pooled, as a CSV
that `letitwag fit` reads (`dataset,concept,accuracy`, accuracy as a fraction).

Usage:
    python scripts/upstream_class_accuracy.py ../shared/upstream/frequency_determines_performance \\
        --model backboneViT-B-32_pretrainedlaion400m --prompt ensemble --out vitb32_laion400m.csv
    letitwag fit --accuracy vitb32_laion400m.csv          # matched laion400m counts, per row's dataset

Reads `zero_shot_evaluations/{dataset}_{prompt}_results.json` (percent per class). Classes of one
dataset that share a concept key (e.g. ImageNet's two `crane`s) are merged into their mean, i.e. the
per-concept accuracy when the classes have equal test sets; the merges are listed on stderr. This is a
minimal reader for checking the fit against the paper; the pooled benchmark import lives elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from letitwag_bench.concepts import concept_key

SUFFIX = "_results.json"


def class_accuracy(upstream: Path, model: str, prompt: str = "ensemble") -> pd.DataFrame:
    """Per-concept accuracy (fraction) of `model` on every dataset with a `{prompt}` results file."""
    frames = []
    for path in sorted((Path(upstream) / "zero_shot_evaluations").glob(f"*_{prompt}{SUFFIX}")):
        dataset = path.name[: -len(f"_{prompt}{SUFFIX}")]
        results = json.loads(path.read_text())
        if model not in results:
            raise SystemExit(f"{path}: no model {model!r}; models: {', '.join(sorted(results))}")
        classwise = results[model]["classwise"]
        frames.append(pd.DataFrame({"dataset": dataset, "concept": [concept_key(c) for c in classwise],
                                    "accuracy": [v / 100 for v in classwise.values()]}))
    if not frames:
        raise SystemExit(f"{upstream}: no zero_shot_evaluations/*_{prompt}{SUFFIX} files")
    pooled = pd.concat(frames, ignore_index=True)
    sizes = pooled.groupby(["dataset", "concept"]).size()
    for (dataset, concept), size in sizes[sizes > 1].items():
        print(f"{dataset}: {size} classes share the concept {concept!r}; using their mean", file=sys.stderr)
    return pooled.groupby(["dataset", "concept"], as_index=False, sort=False)["accuracy"].mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", type=Path, help="the paper's release folder")
    parser.add_argument("--model", default="backboneViT-B-32_pretrainedlaion400m")
    parser.add_argument("--prompt", default="ensemble", choices=["class", "simple", "ensemble"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    frame = class_accuracy(args.upstream, args.model, args.prompt)
    frame.to_csv(args.out, index=False)
    print(f"wrote {len(frame)} concepts of {frame['dataset'].nunique()} datasets to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
