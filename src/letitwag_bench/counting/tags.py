"""Per-image tags (sample id → concepts, e.g. from an image tagger) for matched counts.

A tags file is parquet with an id column and a tags column that holds either a list of concept names
per row or one concept name per row (several rows per id are merged). Names are normalised with
:func:`letitwag_bench.concepts.concept_key`; names outside the vocabulary are ignored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from letitwag_bench.concepts import concept_key
from letitwag_bench.counting.text import CountingError
from letitwag_bench.counting.vocabulary import Vocabulary


def tag_concept_ids(names: list[str], vocabulary: Vocabulary) -> np.ndarray:
    """Concept id of each tag name (-1 where the normalised name is not a concept of the vocabulary)."""
    concept_id = {c: i for i, c in enumerate(vocabulary.concepts)}
    return np.array([concept_id.get(concept_key(n), -1) for n in names], dtype=np.int64)


def read_tag_pairs(path: Path, id_column: str, tags_column: str) -> tuple[pa.Array, pa.Array]:
    """(id, tag name) pairs of one tags file, ids as strings."""
    try:
        table = pq.read_table(path, columns=[id_column, tags_column])
    except (pa.ArrowInvalid, OSError, KeyError) as err:
        have = ", ".join(pq.read_schema(path).names) if path.is_file() else "file missing"
        raise CountingError(f"{path}: cannot read tags columns {id_column!r} and {tags_column!r} ({have}); "
                            f"pass --id-column / --tags-column ({err})") from err
    ids, tags = table.column(id_column).combine_chunks(), table.column(tags_column).combine_chunks()
    if pa.types.is_list(tags.type) or pa.types.is_large_list(tags.type):
        ids = ids.take(pc.list_parent_indices(tags))
        tags = pc.list_flatten(tags)
    if not (pa.types.is_string(tags.type) or pa.types.is_large_string(tags.type)):
        raise CountingError(f"{path}: tags column {tags_column!r} has type {table.schema.field(tags_column).type}; "
                            "expected a concept name or a list of concept names per row")
    keep = pc.is_valid(tags)
    return ids.filter(keep).cast(pa.string()), tags.filter(keep)


@dataclass(frozen=True)
class TagIndex:
    """Tags held in memory for the local engine: sorted unique ids and, per id, its concept ids (CSR)."""

    ids: pd.Index
    indptr: np.ndarray
    concepts: np.ndarray

    @classmethod
    def read(cls, paths: list[Path], vocabulary: Vocabulary, *, id_column: str, tags_column: str) -> TagIndex:
        id_parts, concept_parts = [], []
        for path in paths:
            ids, names = read_tag_pairs(Path(path), id_column, tags_column)
            encoded = names.dictionary_encode()
            concept = tag_concept_ids(encoded.dictionary.to_pylist(), vocabulary)[encoded.indices.to_numpy()]
            known = concept >= 0
            id_parts.append(np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)[known])
            concept_parts.append(concept[known])
        all_ids = np.concatenate(id_parts) if id_parts else np.array([], dtype=object)
        codes, uniques = pd.factorize(all_ids, sort=True)
        n_concepts = len(vocabulary.concepts)
        pairs = np.unique(codes.astype(np.int64) * n_concepts + np.concatenate(concept_parts or [np.array([], int)]))
        rows, concepts = np.divmod(pairs, n_concepts)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(uniques)))])
        return cls(pd.Index(uniques), indptr, concepts)

    @property
    def digest(self) -> str:
        sha = hashlib.sha256()
        sha.update(pd.util.hash_pandas_object(pd.Series(self.ids), index=False).to_numpy().tobytes())
        sha.update(self.indptr.tobytes())
        sha.update(self.concepts.tobytes())
        return sha.hexdigest()[:16]

    def pairs(self, ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(row, concept id) for every row of `ids` that has tags, and each of its tagged concepts."""
        pos = self.ids.get_indexer(np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object))
        rows = np.flatnonzero(pos >= 0)
        starts, ends = self.indptr[pos[rows]], self.indptr[pos[rows] + 1]
        lengths = ends - starts
        out_rows = np.repeat(rows, lengths)
        # positions starts[i] .. ends[i]-1 for each tagged row, flattened
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return out_rows, self.concepts[np.arange(lengths.sum()) + offsets]


def matched_counts(caption_rows: np.ndarray, caption_concepts: np.ndarray, tag_rows: np.ndarray,
                   tag_concepts: np.ndarray, n_concepts: int) -> np.ndarray:
    """Per concept, the rows whose caption and tags both contain it (both inputs are distinct pairs)."""
    both = np.intersect1d(caption_rows * n_concepts + caption_concepts, tag_rows * n_concepts + tag_concepts,
                          assume_unique=True)
    return np.bincount(both % n_concepts, minlength=n_concepts).astype(np.int64)
