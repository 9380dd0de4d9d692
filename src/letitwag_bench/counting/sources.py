"""Caption shards: parquet, JSON lines (optionally compressed) and webdataset tars, read in batches.

Every reader yields ``(captions, ids)`` Arrow arrays of at most `batch_size` rows, streaming: memory
depends on the batch size, not on the shard's size. ``ids`` (the sample ids, as strings) is None
unless an id column is asked for (only needed to join per-image tags).
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from letitwag_bench.counting.text import CountingError

PARQUET = (".parquet",)
JSONL = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz", ".jsonl.zst", ".jsonl.bz2")
TAR = (".tar",)
SUFFIXES = PARQUET + JSONL + TAR
Batch = tuple[pa.Array, "pa.Array | None"]


def shard_format(path: Path | str) -> str:
    """``parquet``, ``jsonl`` or ``tar`` from the file name; a remote folder (``s3a://bucket/laion/``) is
    read as parquet."""
    name = str(path).rstrip("/").rsplit("/", 1)[-1].lower()
    for fmt, suffixes in (("parquet", PARQUET), ("jsonl", JSONL), ("tar", TAR)):
        if name.endswith(suffixes):
            return fmt
    if "://" in str(path) and "." not in name:
        return "parquet"
    raise CountingError(f"{path}: unsupported caption file type; expected one of {', '.join(SUFFIXES)}")


def list_shards(inputs: list[str | Path]) -> list[Path]:
    """Files to count: each input is a file or a folder (searched recursively for supported files)."""
    shards: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))
            if not found:
                raise CountingError(f"{path}: folder holds no caption files ({', '.join(SUFFIXES)})")
            shards.extend(found)
        elif path.is_file():
            shard_format(path)
            shards.append(path)
        else:
            raise CountingError(f"{path}: no such caption file or folder")
    if not shards:
        raise CountingError("no caption files given")
    return list(dict.fromkeys(p.resolve() for p in shards))


def count_rows(path: Path) -> int | None:
    """Rows in a shard when known without reading it (parquet footer), else None."""
    return pq.ParquetFile(path).metadata.num_rows if shard_format(path) == "parquet" else None


def _as_strings(column: pa.Array, path: Path, name: str) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise CountingError(f"{path}: column {name!r} has type {column.type}; expected text") from err


def iter_batches(path: Path, caption_column: str, id_column: str | None = None,
                 batch_size: int = 65536) -> Iterator[Batch]:
    fmt = shard_format(path)
    reader = {"parquet": _parquet, "jsonl": _jsonl, "tar": _tar}[fmt]
    yield from reader(path, caption_column, id_column, batch_size)


def _check_columns(path: Path, have: list[str], caption_column: str, id_column: str | None) -> None:
    for name, option in ((caption_column, "--caption-column"), (id_column, "--id-column")):
        if name is not None and name not in have:
            raise CountingError(f"{path}: no column {name!r} (columns: {', '.join(have)}); pass {option}")


def _parquet(path: Path, caption_column: str, id_column: str | None, batch_size: int) -> Iterator[Batch]:
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise CountingError(f"{path}: not a readable parquet file ({err})") from err
    _check_columns(path, file.schema_arrow.names, caption_column, id_column)
    columns = [caption_column] + ([id_column] if id_column else [])
    for batch in file.iter_batches(batch_size=batch_size, columns=columns, use_threads=False):
        yield (_as_strings(batch.column(caption_column), path, caption_column),
               _as_strings(batch.column(id_column), path, id_column) if id_column else None)


def _jsonl(path: Path, caption_column: str, id_column: str | None, batch_size: int) -> Iterator[Batch]:
    # The caption's type is fixed so a shard whose first block has only null captions still reads.
    parse = pj.ParseOptions(explicit_schema=pa.schema([(caption_column, pa.string())]),
                            unexpected_field_behavior="infer")
    rows = found = 0
    try:
        reader = pj.open_json(pa.input_stream(str(path)), parse_options=parse,
                              read_options=pj.ReadOptions(use_threads=False, block_size=1 << 24))
        for batch in reader:
            rows += batch.num_rows
            found += batch.num_rows - batch.column(caption_column).null_count
            if id_column is not None:
                _check_columns(path, batch.schema.names, caption_column, id_column)
            for start in range(0, batch.num_rows, batch_size):
                part = batch.slice(start, batch_size)
                yield (part.column(caption_column),
                       _as_strings(part.column(id_column), path, id_column) if id_column else None)
    except (pa.ArrowInvalid, OSError) as err:  # OSError: a damaged compressed file
        raise CountingError(f"{path}: not readable as JSON lines with a text column {caption_column!r} "
                            f"({err})") from err
    if rows and not found:
        raise CountingError(f"{path}: no record has a field {caption_column!r}; pass --caption-column")


def _tar(path: Path, caption_column: str, id_column: str | None, batch_size: int) -> Iterator[Batch]:
    """Webdataset: a sample's files share the name up to the first dot of the basename (its key); its
    caption is ``KEY.txt``, or field `caption_column` of ``KEY.json``. The id is the key."""
    captions: list[str | None] = []
    keys: list[str] = []
    key, text, meta = None, None, None

    def flush_sample() -> None:
        if key is not None:
            keys.append(key)
            value = text if text is not None else (meta or {}).get(caption_column)
            captions.append(None if value is None else str(value))

    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                folder, _, base = member.name.rpartition("/")
                stem, _, ext = base.partition(".")
                sample = f"{folder}/{stem}" if folder else stem
                if sample != key:
                    flush_sample()
                    key, text, meta = sample, None, None
                    if len(keys) >= batch_size:
                        yield pa.array(captions, pa.string()), (pa.array(keys, pa.string()) if id_column else None)
                        captions, keys = [], []
                if ext in ("txt", "json"):
                    raw = tar.extractfile(member).read().decode("utf-8", errors="replace")
                    if ext == "txt":
                        text = raw
                    else:
                        meta = json.loads(raw)
            flush_sample()
    except (tarfile.TarError, json.JSONDecodeError) as err:
        raise CountingError(f"{path}: not a readable webdataset tar ({err})") from err
    if keys:
        yield pa.array(captions, pa.string()), (pa.array(keys, pa.string()) if id_column else None)
