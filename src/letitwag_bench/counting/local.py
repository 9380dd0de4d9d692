"""The ``local`` engine: one process per core, one shard per task, per-shard results kept for resuming."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from letitwag_bench._io import atomic_write_bytes
from letitwag_bench.counting.sources import count_rows, iter_batches
from letitwag_bench.counting.tags import TagIndex, matched_counts
from letitwag_bench.counting.text import make_analyzer
from letitwag_bench.counting.vocabulary import Matcher, Vocabulary


@dataclass(frozen=True)
class Settings:
    """Everything that decides a shard's counts (besides the shard): part of each resume key."""

    method: str = "lemmatized"
    lemmatizer: str = "lookup"
    caption_column: str = "caption"
    id_column: str | None = None
    batch_size: int = 65536


@dataclass
class Totals:
    """Counts per concept id (text, and matched when tags were given) and the samples read."""

    counts: np.ndarray
    matched: np.ndarray | None
    n_samples: int

    def __add__(self, other: Totals) -> Totals:
        matched = None if self.matched is None else self.matched + other.matched
        return Totals(self.counts + other.counts, matched, self.n_samples + other.n_samples)


def empty_totals(n_concepts: int, with_tags: bool) -> Totals:
    return Totals(np.zeros(n_concepts, np.int64), np.zeros(n_concepts, np.int64) if with_tags else None, 0)


def count_shard(path: Path, matcher: Matcher, settings: Settings, tags: TagIndex | None) -> Totals:
    n_concepts = len(matcher.vocabulary.concepts)
    total = empty_totals(n_concepts, tags is not None)
    id_column = settings.id_column if tags is not None else None
    for captions, ids in iter_batches(path, settings.caption_column, id_column, settings.batch_size):
        total.n_samples += len(captions)
        if tags is None:
            total.counts += matcher.count(captions)
            continue
        rows, concepts = matcher.matches(captions)
        total.counts += np.bincount(concepts, minlength=n_concepts)
        total.matched += matched_counts(rows, concepts, *tags.pairs(ids), n_concepts)
    return total


# --- worker processes ------------------------------------------------------------------------------

_STATE: dict = {}


def _init_worker(vocabulary: Vocabulary, settings: Settings, tags: TagIndex | None) -> None:
    _STATE.update(matcher=Matcher(vocabulary, make_analyzer(settings.method, settings.lemmatizer)),
                  settings=settings, tags=tags)


def _worker_count(path: Path, part: Path | None) -> tuple[Path, Totals]:
    total = count_shard(path, _STATE["matcher"], _STATE["settings"], _STATE["tags"])
    if part is not None:
        _save_part(part, total)
    return path, total


# --- resuming --------------------------------------------------------------------------------------


def _part_path(parts: Path, shard: Path, key: str) -> Path:
    stat = shard.stat()
    ident = json.dumps([str(shard), stat.st_size, stat.st_mtime_ns, key])
    return parts / f"{hashlib.sha256(ident.encode()).hexdigest()[:24]}.npz"


def _save_part(path: Path, total: Totals) -> None:
    arrays = {"counts": total.counts, "n_samples": np.array([total.n_samples])}
    if total.matched is not None:
        arrays["matched"] = total.matched
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _load_part(path: Path, n_concepts: int, with_tags: bool) -> Totals | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            total = Totals(data["counts"], data["matched"] if with_tags else None, int(data["n_samples"][0]))
    except (OSError, KeyError, ValueError):
        return None  # unreadable partial result: count the shard again
    return total if len(total.counts) == n_concepts else None


def count_local(shards: list[Path], vocabulary: Vocabulary, settings: Settings, *, tags: TagIndex | None = None,
                workers: int = 1, parts: Path | None = None, progress: bool = True) -> Totals:
    """Count `shards` with `workers` processes (1: in this process).

    With `parts`, each finished shard's counts are saved there atomically and reused by a rerun with
    the same shard (path, size, modification time) and settings, so an interrupted run resumes.
    Worker processes are spawned, so a script calling this with `workers` > 1 needs the usual
    ``if __name__ == "__main__":`` guard.
    """
    analyzer = make_analyzer(settings.method, settings.lemmatizer)
    n_concepts = len(vocabulary.concepts)
    key = json.dumps([settings.__dict__, analyzer.spec, vocabulary.digest, tags.digest if tags else None])
    total = empty_totals(n_concepts, tags is not None)
    todo: list[tuple[Path, Path | None]] = []
    for shard in shards:
        part = _part_path(parts, shard, key) if parts is not None else None
        done = _load_part(part, n_concepts, tags is not None) if part is not None and part.exists() else None
        if done is None:
            todo.append((shard, part))
        else:
            total = total + done
    sizes = [count_rows(s) for s, _ in todo]
    bar = tqdm(total=sum(sizes) if None not in sizes else None, unit="captions", unit_scale=True,
               disable=not progress, desc="counting", initial=0)
    with bar:
        if workers <= 1 or len(todo) <= 1:
            matcher = Matcher(vocabulary, analyzer)
            for shard, part in todo:
                done = count_shard(shard, matcher, settings, tags)
                if part is not None:
                    _save_part(part, done)
                total = total + done
                bar.update(done.n_samples)
        else:
            # spawn, not fork: the parent may hold Arrow/OpenMP thread pools that fork would copy mid-use
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context, initializer=_init_worker,
                                     initargs=(vocabulary, settings, tags)) as pool:
                futures = [pool.submit(_worker_count, shard, part) for shard, part in todo]
                for future in as_completed(futures):
                    _, done = future.result()
                    total = total + done
                    bar.update(done.n_samples)
    return total


def remove_parts(parts: Path) -> None:
    shutil.rmtree(parts, ignore_errors=True)
