"""The concept-frequency table: schema, sources (bundled | Hugging Face dataset | local file), export.

One row per (dataset, class_name, corpus, method): how many pretraining samples of `corpus` contain
the concept of `class_name`, as counted by `method`. `concept` is the normalised join key
(:func:`letitwag_bench.concepts.concept_key`).

Rule for a concept counted in several source files (e.g. ``Shih_Tzu`` in imagenet, imagenet-r and
imagenet-sketch, whose counts can differ for the same corpus and method): where a count is needed
for the concept rather than for one dataset's class — the ``letitwag`` pseudo-dataset and
:meth:`CountsTable.concept_counts` without a dataset — the **largest** of those counts is used.
Every source searched the same corpus for the same concept; they differ only because the searches
were run with different concept vocabularies (RAM++ tag lists, caption matching per dataset), so the
largest is the count of the most inclusive search. The rule is order-independent and integer-valued.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from letitwag_bench._io import atomic_write as _atomic_write
from letitwag_bench.concepts import concept_key

UPSTREAM_REPO = "https://github.com/bethgelab/frequency_determines_performance"
UPSTREAM_COMMIT = "11ef009f9d0d9c0d190b4ede58e07d378ef79d32"
BUNDLED_REVISION = f"upstream-{UPSTREAM_COMMIT[:8]}"
LICENSE_LINE = "MIT License, Copyright (c) 2023 Vishaal Udandarao (counts released with Udandarao et al., 2024)"

COLUMNS: tuple[str, ...] = ("concept", "dataset", "class_name", "corpus", "method", "count")
KEY: tuple[str, ...] = ("dataset", "class_name", "corpus", "method")
SCHEMA = pa.schema(
    [
        pa.field("concept", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("class_name", pa.string(), nullable=False),
        pa.field("corpus", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
    ]
)
# Short names for the paper's default methods; the upstream names work as well.
METHOD_ALIASES: dict[str, str] = {
    "matched": "integrated_tlemmatized_i0.7",
    "text": "lemmatized",
    "image": "rampp0.7",
}
LETITWAG = "letitwag"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
_META_KEY = b"letitwag_bench"


class CountsError(ValueError):
    """A counts source or a name in it is unusable; the message says which and what would work."""


def _data_path(name: str) -> Path:
    return Path(str(resources.files("letitwag_bench") / "data" / name))


def letitwag_classes() -> pd.DataFrame:
    """The 290 Let It Wag! classes: ``class_name``, ``concept``, ``source_concept``, ``source_datasets``.

    ``source_concept`` is the concept key looked up in the other datasets (``stratified texture`` is
    DTD's ``stratified``); ``source_datasets`` lists, ``;``-separated, the datasets that count it.
    """
    return pd.read_csv(_data_path("letitwag_classes.csv"), dtype=str, keep_default_na=False)


def add_letitwag_rows(counts: pd.DataFrame, classes: pd.DataFrame) -> pd.DataFrame:
    """Append the ``letitwag`` pseudo-dataset: each class gets, per (corpus, method), the largest count
    of its ``source_concept`` over the other datasets (module docstring). Classes with no source row
    for a (corpus, method) get no row there."""
    others = counts[counts["dataset"] != LETITWAG]
    best = others.groupby(["concept", "corpus", "method"], as_index=False)["count"].max()
    rows = classes[["class_name", "concept", "source_concept"]].merge(
        best.rename(columns={"concept": "source_concept"}), on="source_concept"
    )
    rows["dataset"] = LETITWAG
    return pd.concat([others, rows[list(COLUMNS)]], ignore_index=True)


def normalise_frame(frame: pd.DataFrame, *, where: str = "counts table") -> pd.DataFrame:
    """Validate against the schema, sort by the key and return a fresh frame with canonical dtypes."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise CountsError(f"{where}: missing column(s) {missing}; expected columns {list(COLUMNS)}")
    out = frame[list(COLUMNS)].copy()
    for col in COLUMNS[:-1]:
        if out[col].isna().any():
            raise CountsError(f"{where}: column {col!r} has empty values; every row needs a {col}")
        out[col] = out[col].astype(str)
    counts = pd.to_numeric(out["count"], errors="coerce")
    bad = counts.isna() | (counts < 0) | (counts != counts.round())
    if bad.any():
        example = out.loc[bad, "count"].iloc[0]
        raise CountsError(f"{where}: column 'count' must hold integers ≥ 0; found {example!r}")
    out["count"] = counts.astype("int64")
    dup = out.duplicated(list(KEY))
    if dup.any():
        row = out.loc[dup].iloc[0]
        raise CountsError(f"{where}: duplicate row for {dict(row[list(KEY)])}; each (dataset, class_name, "
                          "corpus, method) may appear once")
    return out.sort_values(list(KEY), kind="stable").reset_index(drop=True)


def write_parquet(frame: pd.DataFrame, path: Path, *, source: str = "bundled",
                  revision: str = BUNDLED_REVISION) -> None:
    """Write a counts table atomically, with its source and revision in the parquet metadata."""
    table = pa.Table.from_pandas(frame[list(COLUMNS)], schema=SCHEMA, preserve_index=False)
    meta = {_META_KEY: json.dumps({"source": source, "revision": revision}).encode()}
    table = table.replace_schema_metadata(meta)
    _atomic_write(Path(path), lambda tmp: pq.write_table(table, tmp, compression="zstd"))


@dataclass(frozen=True)
class CountsTable:
    """A validated counts table and where it came from.

    ``source`` is what the user asked for (``bundled``, ``ORG/NAME[@rev]`` or a path); ``revision``
    the version label of the figures (upstream commit, Hub revision, or the file's content hash).
    """

    frame: pd.DataFrame
    source: str
    revision: str

    @cached_property
    def digest(self) -> str:
        """Content hash of the table (sha256 of the canonical rows), the same whatever the source."""
        hashed = pd.util.hash_pandas_object(self.frame[list(COLUMNS)], index=False).to_numpy()
        return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]

    def datasets(self) -> list[str]:
        return sorted(self.frame["dataset"].unique())

    def corpora(self, dataset: str | None = None) -> list[str]:
        frame = self.frame if dataset is None else self.frame[self.frame["dataset"] == dataset]
        return sorted(frame["corpus"].unique())

    def methods(self, dataset: str | None = None, corpus: str | None = None) -> list[str]:
        frame = self.frame
        if dataset is not None:
            frame = frame[frame["dataset"] == dataset]
        if corpus is not None:
            frame = frame[frame["corpus"] == corpus]
        found = set(frame["method"].unique())
        return sorted(found) + sorted(a for a, m in METHOD_ALIASES.items() if m in found)

    def resolve(self, *, dataset: str | None = None, corpus: str, method: str) -> tuple[str, str]:
        """Check the names against the table; return (corpus, upstream method name).

        Raises :class:`CountsError` listing the valid names when one is unknown.
        """
        if dataset is not None and dataset not in self.datasets():
            raise CountsError(f"unknown dataset {dataset!r} in counts source {self.source!r}; "
                              f"valid datasets: {', '.join(self.datasets())}")
        if corpus not in self.corpora():
            raise CountsError(f"unknown corpus {corpus!r} in counts source {self.source!r}; "
                              f"valid corpora: {', '.join(self.corpora())}")
        upstream = METHOD_ALIASES.get(method, method)
        all_methods = self.methods()
        if method not in all_methods:
            raise CountsError(f"unknown method {method!r} in counts source {self.source!r}; "
                              f"valid methods: {', '.join(all_methods)}")
        if upstream not in self.methods(corpus=corpus):
            raise CountsError(f"method {method!r} was not counted on corpus {corpus!r} in {self.source!r}; "
                              f"methods for {corpus}: {', '.join(self.methods(corpus=corpus))}")
        return corpus, upstream

    def classes(self, dataset: str) -> pd.DataFrame:
        """Every class of `dataset` (``class_name``, ``concept``), whatever corpus or method counted it.

        Some upstream files spell one class two ways (imagenet-r: ``African chameleon`` and
        ``African_chameleon``); a class is its concept, shown under its first spelling in sort order.
        """
        if dataset == LETITWAG:
            return letitwag_classes()[["class_name", "concept"]]
        if dataset not in self.datasets():
            self.resolve(dataset=dataset, corpus=self.corpora()[0], method=self.frame["method"].iloc[0])
        rows = self.frame[self.frame["dataset"] == dataset]
        return rows[["class_name", "concept"]].drop_duplicates("concept").reset_index(drop=True)

    def show(self, dataset: str, corpus: str, method: str) -> pd.DataFrame:
        """One row per class of `dataset`: ``class_name``, ``concept``, ``count`` (<NA> when unmatched)
        and ``note`` (why a class has no count)."""
        corpus, upstream = self.resolve(dataset=None if dataset == LETITWAG else dataset,
                                        corpus=corpus, method=method)
        rows = self.frame[(self.frame["dataset"] == dataset) & (self.frame["corpus"] == corpus)
                          & (self.frame["method"] == upstream)]
        out = self.classes(dataset).merge(rows[["concept", "count"]], on="concept", how="left")
        out["count"] = out["count"].astype("Int64")
        out["note"] = ""
        unmatched = out["count"].isna()
        if unmatched.any():
            out.loc[unmatched, "note"] = self._unmatched_reasons(dataset, out.loc[unmatched, "class_name"],
                                                                  corpus, upstream)
        return out

    def _unmatched_reasons(self, dataset: str, names: pd.Series, corpus: str, method: str) -> list[str]:
        if dataset != LETITWAG:
            return [f"no {dataset} counts for {corpus}/{method} in this source"] * len(names)
        sources = letitwag_classes().set_index("class_name")["source_datasets"]
        return [
            f"no {corpus}/{method} counts in its source datasets ({sources.get(n) or 'none'})"
            if sources.get(n) else "concept not found in any counted dataset"
            for n in names
        ]

    def concept_counts(self, corpus: str, method: str, dataset: str | None = None) -> pd.Series:
        """Count per concept key (index ``concept``) for one corpus and method.

        With `dataset`, that dataset's rows; without, every dataset's, the largest count per concept.
        """
        corpus, upstream = self.resolve(dataset=dataset, corpus=corpus, method=method)
        rows = self.frame[(self.frame["corpus"] == corpus) & (self.frame["method"] == upstream)]
        if dataset is not None:
            rows = rows[rows["dataset"] == dataset]
        return rows.groupby("concept")["count"].max()


# ---------------------------------------------------------------------------------------------------
# Sources


def load_counts(source: str = "bundled") -> CountsTable:
    """Load a counts table.

    `source` is ``bundled`` (the snapshot inside the package, the offline default), a Hugging Face
    dataset id ``ORG/NAME`` with an optional ``@revision`` (read with :func:`datasets.load_dataset`,
    cached in the usual Hugging Face cache), or a local parquet/CSV file or folder of them (such as
    one written by :func:`export_dataset`). A CSV with just ``concept,count`` is read as corpus and
    method ``custom``. Tables without ``letitwag`` rows get them derived (module docstring).
    """
    if source == "bundled":
        path = _data_path("counts.parquet")
        return CountsTable(_read_parquet(path), source="bundled", revision=BUNDLED_REVISION)
    path = Path(source).expanduser()
    if path.exists():
        return _load_local(path, source)
    if _HUB_ID.match(source):
        return _load_hub(source)
    raise CountsError(f"counts source {source!r} is neither 'bundled', an existing file or folder, "
                      "nor a Hugging Face dataset id ORG/NAME[@revision]")


def _read_parquet(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def _file_revision(paths: Iterable[Path]) -> str:
    sha = hashlib.sha256()
    for p in paths:
        sha.update(p.read_bytes())
    return f"sha256-{sha.hexdigest()[:12]}"


def _read_local_file(path: Path) -> tuple[pd.DataFrame, str | None]:
    """One parquet or CSV file → (frame, revision recorded in it or None)."""
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise CountsError(f"{path}: not a readable parquet file ({err})") from err
        meta = (table.schema.metadata or {}).get(_META_KEY)
        return table.to_pandas(), json.loads(meta)["revision"] if meta else None
    if path.suffix == ".csv":
        try:
            frame = pd.read_csv(path, dtype={c: str for c in COLUMNS[:-1]}, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
            raise CountsError(f"{path}: not a readable CSV file ({err})") from err
        if set(frame.columns) == {"concept", "count"}:
            frame["concept"] = frame["concept"].map(concept_key)
            frame = frame.assign(dataset="custom", class_name=frame["concept"], corpus="custom", method="custom")
        return frame, None
    raise CountsError(f"{path}: counts files must be .parquet or .csv")


def _load_local(path: Path, source: str) -> CountsTable:
    files = sorted(p for p in path.rglob("*") if p.suffix in {".parquet", ".csv"}) if path.is_dir() else [path]
    if not files:
        raise CountsError(f"{path}: folder holds no .parquet or .csv counts files")
    frames, revisions = [], set()
    for f in files:
        frame, revision = _read_local_file(f)
        frames.append(normalise_frame(frame, where=str(f)))
        revisions.add(revision)
    frame = pd.concat(frames, ignore_index=True)
    revision = revisions.pop() if len(revisions) == 1 and None not in revisions else _file_revision(files)
    return CountsTable(_with_letitwag(frame, where=str(path)), source=source, revision=revision)


def _load_hub(source: str) -> CountsTable:
    import datasets  # heavy: only for Hub sources

    repo, _, revision = source.partition("@")
    try:
        ds = datasets.load_dataset(repo, revision=revision or None, split="train")
    except Exception as err:  # the Hub client raises many types; all mean "not reachable or not there"
        raise CountsError(
            f"could not load counts from the Hugging Face dataset {repo!r} (revision {revision or 'main'}): "
            f"{type(err).__name__}: {err}. Offline, use the bundled snapshot (--counts bundled) or a local "
            "copy (--counts PATH, e.g. a folder written by `letitwag counts export`)."
        ) from err
    frame = normalise_frame(ds.to_pandas(), where=f"Hugging Face dataset {source}")
    return CountsTable(_with_letitwag(frame, where=source), source=source, revision=revision or "main")


def _with_letitwag(frame: pd.DataFrame, *, where: str) -> pd.DataFrame:
    if (frame["dataset"] == LETITWAG).any():
        return normalise_frame(frame, where=where)
    return normalise_frame(add_letitwag_rows(frame, letitwag_classes()), where=where)


def export_dataset(table: CountsTable, folder: Path) -> Path:
    """Write `table` as a Hugging Face–ready dataset folder: ``data/counts.parquet`` and a dataset
    card ``README.md`` (YAML configs, licence, provenance, citation). Returns the folder."""
    folder = Path(folder)
    write_parquet(table.frame, folder / "data" / "counts.parquet", source=table.source, revision=table.revision)
    card = _dataset_card(table)
    _atomic_write(folder / "README.md", lambda tmp: Path(tmp).write_text(card))
    return folder


def _dataset_card(table: CountsTable) -> str:
    corpora = ", ".join(table.corpora())
    return f"""---
license: mit
pretty_name: Concept frequency counts (letitwag-bench)
tags:
- clip
- long-tail
- concept-frequency
configs:
- config_name: default
  data_files:
  - split: train
    path: data/*.parquet
---

# Concept frequency counts

How often each concept of {len(table.datasets())} evaluation datasets occurs in the pretraining corpora
{corpora}. One row per (dataset, class_name, corpus, method) with columns
`{"`, `".join(COLUMNS)}`; `concept` is the normalised join key used by letitwag-bench.

- Source: `{table.source}`, revision `{table.revision}`, content digest `{table.digest}`.
- Upstream figures: {UPSTREAM_REPO} (commit {UPSTREAM_COMMIT}).
- Methods: `lemmatized` (text), `rampp0.x` (image, RAM++ threshold), `integrated_tlemmatized_i0.x`
  (matched: caption and image). Aliases in letitwag-bench: {", ".join(f"`{a}`={m}" for a, m in METHOD_ALIASES.items())}.
- Licence: {LICENSE_LINE}.

Load with `datasets.load_dataset("ORG/NAME")` or `letitwag ... --counts ORG/NAME`.

## Citation

```bibtex
@inproceedings{{udandarao2024zeroshot,
  title     = {{No "Zero-Shot" Without Exponential Data: Pretraining Concept Frequency Determines
               Multimodal Model Performance}},
  author    = {{Udandarao, Vishaal and Prabhu, Ameya and Ghosh, Adhiraj and Sharma, Yash and Torr, Philip H. S.
               and Bibi, Adel and Albanie, Samuel and Bethge, Matthias}},
  booktitle = {{Advances in Neural Information Processing Systems}},
  year      = {{2024}}
}}
```
"""
