"""Count the benchmark's concepts in a caption corpus and write the counts in the table's schema.

Layers: :mod:`.text` (the one tokeniser/lemmatiser), :mod:`.vocabulary` (concepts and the batch
matcher), :mod:`.sources` (caption shards), :mod:`.tags` (per-image tags for matched counts), and two
engines running the same matcher: :mod:`.local` (processes on one machine) and :mod:`.spark`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from letitwag_bench.counting.local import Settings, Totals, count_local, remove_parts
from letitwag_bench.counting.sources import list_shards
from letitwag_bench.counting.tags import TagIndex
from letitwag_bench.counting.text import CountingError, make_analyzer
from letitwag_bench.counting.vocabulary import Vocabulary
from letitwag_bench.counts import (
    COLUMNS,
    add_letitwag_rows,
    letitwag_classes,
    load_counts,
    normalise_frame,
    read_parquet_info,
    write_parquet,
)

__all__ = ["CountResult", "CountingError", "Settings", "Vocabulary", "build_counts", "corpus_size", "make_analyzer"]
ENGINES = ("local", "spark")


@dataclass(frozen=True)
class CountResult:
    """The counted table (schema :data:`letitwag_bench.counts.COLUMNS`, ``letitwag`` rows included)
    and what describes it (corpus size, methods, lemmatiser, engine)."""

    frame: pd.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def revision(self) -> str:
        hashed = pd.util.hash_pandas_object(self.frame[list(COLUMNS)], index=False).to_numpy()
        return f"counted-{hashlib.sha256(hashed.tobytes()).hexdigest()[:12]}"

    def write(self, path: Path) -> None:
        write_parquet(self.frame, Path(path), source=f"counted:{self.info['corpus']}", revision=self.revision,
                      info=self.info)


def corpus_size(path: Path) -> int:
    """Samples read to make a counts file written by :func:`build_counts`."""
    info = read_parquet_info(Path(path))
    if "corpus_size" not in info:
        raise CountingError(f"{path}: no corpus size recorded (not written by `letitwag counts build`)")
    return int(info["corpus_size"])


def result_frame(vocabulary: Vocabulary, totals: Totals, *, corpus: str, method: str,
                 matched_method: str | None) -> pd.DataFrame:
    index = {c: i for i, c in enumerate(vocabulary.concepts)}
    concept_ids = vocabulary.classes["concept"].map(index).to_numpy()
    frames = []
    for name, counts in ((method, totals.counts), (matched_method, totals.matched)):
        if counts is None:
            continue
        frames.append(vocabulary.classes.assign(corpus=corpus, method=name, count=np.asarray(counts)[concept_ids]))
    frame = pd.concat(frames, ignore_index=True)
    return normalise_frame(add_letitwag_rows(frame[list(COLUMNS)], letitwag_classes()), where=f"counts of {corpus}")


def build_counts(captions: list[str | Path], *, corpus: str, engine: str = "local", method: str = "lemmatized",
                 lemmatizer: str = "lookup", caption_column: str = "caption", id_column: str = "key",
                 tags: list[Path] | None = None, tags_column: str = "concepts", matched_method: str | None = None,
                 concepts: str = "bundled", workers: int | None = None, batch_size: int = 65536,
                 parts: Path | None = None, out: Path | None = None, progress: bool = True,
                 spark=None) -> CountResult:
    """Count every concept of the counts source `concepts` in the caption shards `captions`.

    Text counts get method `method`; with `tags` (parquet: `id_column` → `tags_column`), matched counts
    (caption and image both contain the concept) are added under `matched_method`, by default the
    paper's name ``integrated_t{method}_i0.7`` (alias ``matched``) — rename it if your tagger is not
    RAM++ at threshold 0.7. `parts` is the local engine's folder for per-shard results (resume); with
    `out` the table is written there (atomically) and `parts` removed afterwards.
    """
    if engine not in ENGINES:
        raise CountingError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if not corpus or corpus != corpus.strip():
        raise CountingError(f"corpus name {corpus!r} must be a non-empty name without surrounding spaces")
    analyzer = make_analyzer(method, lemmatizer)
    vocabulary = Vocabulary.from_counts(load_counts(concepts), analyzer)
    settings = Settings(method=method, lemmatizer=lemmatizer, caption_column=caption_column,
                        id_column=id_column if tags else None, batch_size=batch_size)
    uris = [str(p) for p in captions if "://" in str(p)]  # hdfs://, s3a://: only Spark reads them
    if uris and engine != "spark":
        raise CountingError(f"{uris[0]}: remote paths need --engine spark; the local engine reads local files")
    local_inputs = [p for p in captions if "://" not in str(p)]
    shards = (list_shards(local_inputs) if local_inputs or not uris else []) + uris
    if engine == "spark":
        from letitwag_bench.counting.spark import count_spark

        totals = count_spark(shards, vocabulary, settings, tags=tags, tags_column=tags_column, spark=spark)
    else:
        index = TagIndex.read(list(tags), vocabulary, id_column=id_column, tags_column=tags_column) if tags else None
        totals = count_local(shards, vocabulary, settings, tags=index, workers=workers or os.cpu_count() or 1,
                             parts=parts, progress=progress)
    matched_method = (matched_method or f"integrated_t{method}_i0.7") if tags else None
    frame = result_frame(vocabulary, totals, corpus=corpus, method=method, matched_method=matched_method)
    info = {"corpus": corpus, "corpus_size": totals.n_samples, "methods": [m for m in (method, matched_method) if m],
            "lemmatizer": analyzer.spec, "engine": engine, "concepts_source": concepts,
            "n_concepts": len(vocabulary.concepts), "n_shards": len(shards)}
    result = CountResult(frame, info)
    if out is not None:
        result.write(out)
        if parts is not None:
            remove_parts(parts)  # only once the table is safely written
    return result
