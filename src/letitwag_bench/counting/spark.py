"""The ``spark`` engine: the same counting as a PySpark job.

Spark reads the shards (parquet or JSON lines) and splits them into tasks; each task runs the very
:class:`~letitwag_bench.counting.vocabulary.Matcher` the local engine uses on Arrow batches
(``mapInArrow``), so both engines tokenise, lemmatise and match identically. Text counts are summed
per task and then across the cluster; matched counts join each caption's (sample id, concept) matches
with the exploded tags on both keys (a second pass over the captions). In tests Spark runs in local
mode; on a cluster, ``spark-submit`` the ``letitwag`` console script itself with ``counts build ...
--engine spark`` (README, "Counting your own corpus").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from letitwag_bench.counting.local import Settings, Totals
from letitwag_bench.counting.sources import shard_format
from letitwag_bench.counting.text import CountingError, make_analyzer
from letitwag_bench.counting.vocabulary import Matcher, Vocabulary

_MATCHERS: dict[tuple, Matcher] = {}  # one per Python worker process and vocabulary


def _matcher(vocabulary: Vocabulary, settings: Settings) -> Matcher:
    key = (vocabulary.digest, settings.method, settings.lemmatizer)
    if key not in _MATCHERS:
        _MATCHERS[key] = Matcher(vocabulary, make_analyzer(settings.method, settings.lemmatizer))
    return _MATCHERS[key]


def spark_session(master: str | None = None, config: dict[str, str] | None = None):
    """The active Spark session, or a new one (``local[*]`` unless spark-submit or `master` says otherwise)
    with the given `config` settings."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise CountingError("--engine spark needs PySpark (pip install 'letitwag-bench[spark]') and Java 17+") from err
    # Local mode: Python workers run this interpreter (with this package), not whatever `python3` is first
    # on PATH. Under spark-submit the cluster's PYSPARK_PYTHON setting wins.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("letitwag-counts")
    if master:
        builder = builder.master(master)
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _read(spark, shards: list[Path | str], columns: list[str]):
    formats = {shard_format(p) for p in shards}
    if formats - {"parquet", "jsonl"}:
        raise CountingError("--engine spark reads parquet and JSON-lines shards; convert webdataset tars first "
                            "or count them with --engine local")
    frames = []
    if "parquet" in formats:
        frames.append(spark.read.parquet(*[str(p) for p in shards if shard_format(p) == "parquet"]))
    if "jsonl" in formats:
        frames.append(spark.read.json([str(p) for p in shards if shard_format(p) == "jsonl"]))
    selected = []
    for frame in frames:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise CountingError(f"caption files have no column {missing[0]!r} (columns: {', '.join(frame.columns)}); "
                                "pass --caption-column / --id-column")
        selected.append(frame.select(*[frame[c].cast("string").alias(c) for c in columns]))
    out = selected[0]
    for frame in selected[1:]:
        out = out.unionByName(frame)
    return out


def count_spark(shards: list[Path | str], vocabulary: Vocabulary, settings: Settings, *,
                tags: list[Path] | None = None, tags_column: str = "concepts", spark=None) -> Totals:
    """Count `shards` on Spark (the active session, or local mode). Same result as :func:`count_local`."""
    from pyspark.sql import functions as F

    spark = spark or spark_session()
    n_concepts = len(vocabulary.concepts)
    caption, id_column = settings.caption_column, settings.id_column
    if tags and not id_column:
        raise CountingError("matched counts need --id-column to join captions with tags")
    frame = _read(spark, shards, [caption] + ([id_column] if tags else []))

    def text_counts(batches):
        matcher = _matcher(vocabulary, settings)
        for batch in batches:
            counts = matcher.count(batch.column(0))
            nonzero = np.flatnonzero(counts)
            # concept -1 carries the number of samples of the batch
            yield pa.RecordBatch.from_arrays(
                [pa.array(np.concatenate([[-1], nonzero]), pa.int32()),
                 pa.array(np.concatenate([[batch.num_rows], counts[nonzero]]), pa.int64())], names=["concept", "n"])

    summed = frame.select(caption).mapInArrow(text_counts, "concept int, n long").groupBy("concept").agg(
        F.sum("n").alias("n")).collect()
    counts = np.zeros(n_concepts, np.int64)
    n_samples = 0
    for row in summed:
        if row["concept"] < 0:
            n_samples = int(row["n"])
        else:
            counts[row["concept"]] = row["n"]
    matched = _matched_spark(spark, frame, vocabulary, settings, tags, tags_column) if tags else None
    return Totals(counts, matched, n_samples)


def _matched_spark(spark, frame, vocabulary: Vocabulary, settings: Settings, tags: list[Path],
                   tags_column: str) -> np.ndarray:
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    from letitwag_bench.counting.tags import tag_concept_ids

    caption, id_column = settings.caption_column, settings.id_column

    def caption_matches(batches):
        matcher = _matcher(vocabulary, settings)
        for batch in batches:
            rows, concepts = matcher.matches(batch.column(caption))
            yield pa.RecordBatch.from_arrays([batch.column(id_column).take(pa.array(rows)),
                                              pa.array(concepts, pa.int32())], names=["id", "concept"])

    pairs = frame.mapInArrow(caption_matches, "id string, concept int")
    raw = spark.read.parquet(*[str(p) for p in tags])
    for name in (id_column, tags_column):
        if name not in raw.columns:
            raise CountingError(f"tags files have no column {name!r} (columns: {', '.join(raw.columns)}); "
                                "pass --id-column / --tags-column")
    tag = F.explode(tags_column) if isinstance(raw.schema[tags_column].dataType, ArrayType) else F.col(tags_column)
    named = raw.select(raw[id_column].cast("string").alias("id"), tag.alias("name")).where(F.col("name").isNotNull())
    # Tag names are few (a tagger's vocabulary): normalise them on the driver with the same function.
    names = [r["name"] for r in named.select("name").distinct().collect()]
    ids = tag_concept_ids(names, vocabulary)
    known = [(n, int(i)) for n, i in zip(names, ids, strict=True) if i >= 0]
    mapping = spark.createDataFrame(known, "name string, concept int")
    tagged = named.join(F.broadcast(mapping), "name").select("id", "concept").dropDuplicates()
    rows = pairs.join(tagged, ["id", "concept"]).groupBy("concept").count().collect()
    matched = np.zeros(len(vocabulary.concepts), np.int64)
    for row in rows:
        matched[row["concept"]] = row["count"]
    return matched
