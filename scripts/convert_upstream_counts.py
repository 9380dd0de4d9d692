"""Convert the paper's released search counts into the bundled counts table.

Usage:
    python scripts/convert_upstream_counts.py ../shared/upstream/frequency_determines_performance

Reads `search_counts/*.json` and `let_it_wag_datasets/let_it_wag_class_list.txt`, writes
`src/letitwag_bench/data/counts.parquet`, `letitwag_classes.csv`, `PROVENANCE.md` and `LICENSE`.
Re-running on the same release writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd

from letitwag_bench.concepts import concept_key
from letitwag_bench.counts import (
    BUNDLED_REVISION,
    LICENSE_LINE,
    UPSTREAM_COMMIT,
    UPSTREAM_REPO,
    add_letitwag_rows,
    normalise_frame,
    write_parquet,
)

DATA = Path(__file__).resolve().parents[1] / "src" / "letitwag_bench" / "data"
SUFFIX = "_search_counts.json"
# Corpus names contain underscores, so the file name is split on the known corpora.
CORPORA = (
    "laion200m_train_test_sim_normalized",
    "laion_aesthetics",
    "laion400m",
    "synthci30m",
    "yfcc15m",
    "cc12m",
    "cc3m",
)
# Let It Wag! classes whose name differs from the source dataset's spelling of the same concept.
LETITWAG_SOURCE_NAMES = {"stratified texture": "stratified"}


def parse_name(stem: str) -> tuple[str, str, str]:
    """`{dataset}_{corpus}_{method}` → (dataset, corpus, method)."""
    for corpus in CORPORA:
        marker = f"_{corpus}_"
        if marker in stem:
            dataset, method = stem.split(marker, 1)
            return dataset, corpus, method
    raise ValueError(f"cannot parse dataset/corpus/method from file name {stem + SUFFIX!r}")


def read_release(folder: Path) -> pd.DataFrame:
    rows = []
    files = sorted((folder / "search_counts").glob(f"*{SUFFIX}"))
    if not files:
        raise SystemExit(f"no *{SUFFIX} files under {folder / 'search_counts'}")
    for path in files:
        dataset, corpus, method = parse_name(path.name[: -len(SUFFIX)])
        for class_name, count in json.loads(path.read_text()).items():
            rows.append((concept_key(class_name), dataset, class_name, corpus, method, int(count)))
    columns = ["concept", "dataset", "class_name", "corpus", "method", "count"]
    return pd.DataFrame(rows, columns=columns)


def read_letitwag_classes(folder: Path) -> list[str]:
    text = (folder / "let_it_wag_datasets" / "let_it_wag_class_list.txt").read_text()
    return [line.strip().strip('"') for line in text.splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("upstream", type=Path, help="folder of the paper's release (frequency_determines_performance)")
    args = parser.parse_args()
    folder: Path = args.upstream

    counts = read_release(folder)
    classes = pd.DataFrame({"class_name": read_letitwag_classes(folder)})
    classes["concept"] = classes["class_name"].map(concept_key)
    classes["source_concept"] = classes["concept"].map(lambda c: LETITWAG_SOURCE_NAMES.get(c, c))
    sources = counts[counts["concept"].isin(set(classes["source_concept"]))]
    by_concept = sources.groupby("concept")["dataset"].agg(lambda d: ";".join(sorted(set(d))))
    classes["source_datasets"] = classes["source_concept"].map(by_concept).fillna("")
    classes.to_csv(DATA / "letitwag_classes.csv", index=False, lineterminator="\n")

    table = normalise_frame(add_letitwag_rows(counts, classes))
    write_parquet(table, DATA / "counts.parquet")
    shutil.copyfile(folder / "LICENSE", DATA / "LICENSE")
    n_files = len(list((folder / "search_counts").glob(f"*{SUFFIX}")))
    (DATA / "PROVENANCE.md").write_text(
        f"""# Provenance of the bundled figures

- Source: {UPSTREAM_REPO}, commit {UPSTREAM_COMMIT}
  ("No Zero-Shot Without Exponential Data", Udandarao et al., NeurIPS 2024).
- Files: {n_files} `search_counts/*.json`, `let_it_wag_datasets/let_it_wag_class_list.txt`.
- Converted by `scripts/convert_upstream_counts.py` (letitwag-bench); revision label `{BUNDLED_REVISION}`.
- Rows: {len(table)} (dataset, class_name, corpus, method) counts, of which
  {int((table['dataset'] == 'letitwag').sum())} are the derived `letitwag` pseudo-dataset.
- Licence: {LICENSE_LINE} (full text in LICENSE beside this file).
"""
    )
    print(f"wrote {len(table)} rows from {n_files} files to {DATA / 'counts.parquet'}")


if __name__ == "__main__":
    main()
