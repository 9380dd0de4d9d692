"""The concepts to count and the batch matcher: which captions contain every word of which concept."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from letitwag_bench.counting.text import Analyzer, tokenise, tokens
from letitwag_bench.counts import LETITWAG, CountsTable

# Function words in concept names ("kite (bird of prey)", "highway or road") are not required in the
# caption: the paper matched against an index of caption nouns only, where they never occur. Not "a":
# it is a real token of model names such as "f/a-18".
FUNCTION_WORDS = frozenset(["the", "of", "and", "or", "in", "on", "at", "to", "for", "with", "by", "from"])


def concept_words(names: list[str], analyzer: Analyzer) -> list[tuple[str, ...]]:
    """For each concept name, the lemmas a caption must contain to count for it (sorted, distinct);
    function words are dropped unless the name has nothing else. Empty for a name without letters
    or digits."""
    out = []
    for toks in tokens(names):
        content = [t for t in toks if t not in FUNCTION_WORDS] or toks
        out.append(tuple(sorted({analyzer.concept_lemma(t) for t in content})))
    return out


@dataclass(frozen=True)
class Vocabulary:
    """Concepts (index = concept id), their words (index = word id) and the classes that name them.

    ``classes`` has columns ``dataset``, ``class_name``, ``concept``: one output row each.
    ``matrix`` is the concept × word incidence (CSR, 0/1) and ``need`` each concept's word count.
    """

    classes: pd.DataFrame
    concepts: tuple[str, ...]
    words: tuple[str, ...]
    matrix: sp.csr_matrix
    need: np.ndarray

    @classmethod
    def from_classes(cls, classes: pd.DataFrame, analyzer: Analyzer) -> Vocabulary:
        """Build from (``dataset``, ``class_name``, ``concept``) rows; concepts without any word are dropped."""
        keys = sorted(set(classes["concept"]))
        by_concept = dict(zip(keys, concept_words(keys, analyzer), strict=True))
        concepts = tuple(c for c in keys if by_concept[c])
        words = tuple(sorted({w for c in concepts for w in by_concept[c]}))
        word_id = {w: i for i, w in enumerate(words)}
        rows = np.repeat(np.arange(len(concepts)), [len(by_concept[c]) for c in concepts])
        cols = np.array([word_id[w] for c in concepts for w in by_concept[c]], dtype=np.int64)
        matrix = sp.csr_matrix((np.ones(len(cols), np.int32), (rows, cols)), shape=(len(concepts), len(words)))
        kept = classes[classes["concept"].isin(set(concepts))]
        kept = kept[["dataset", "class_name", "concept"]].drop_duplicates(["dataset", "class_name"])
        return cls(kept.reset_index(drop=True), concepts, words, matrix, np.diff(matrix.indptr).astype(np.int32))

    @classmethod
    def from_counts(cls, table: CountsTable, analyzer: Analyzer) -> Vocabulary:
        """Every (dataset, class_name) of a counts table except the derived ``letitwag`` rows."""
        frame = table.frame[table.frame["dataset"] != LETITWAG]
        return cls.from_classes(frame, analyzer)

    def concept_words(self, concept: str) -> tuple[str, ...]:
        row = self.matrix.getrow(self.concepts.index(concept))
        return tuple(self.words[i] for i in sorted(row.indices))

    @property
    def digest(self) -> str:
        """Hash of the concepts and their words: partial results are only reused for the same vocabulary."""
        payload = json.dumps([self.concepts, self.words, self.matrix.indptr.tolist(), self.matrix.indices.tolist()])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


class Matcher:
    """Counts one batch of captions at a time against a :class:`Vocabulary`.

    Each distinct token is lemmatised once (cached for the process), captions become sparse rows of
    word ids, and one sparse product with the concept × word matrix gives, per caption and concept,
    how many of the concept's words it holds; a caption matches where that equals the concept's need.
    """

    def __init__(self, vocabulary: Vocabulary, analyzer: Analyzer) -> None:
        self.vocabulary = vocabulary
        self.analyzer = analyzer
        self._word_id = {w: i for i, w in enumerate(vocabulary.words)}
        self._token_id: dict[str, int] = {}
        self._word_concept = vocabulary.matrix.T.tocsr()

    def _token_ids(self, uniques: list[str]) -> np.ndarray:
        cache, word_id, lemma = self._token_id, self._word_id, self.analyzer.lemma
        out = np.empty(len(uniques), dtype=np.int64)
        for i, tok in enumerate(uniques):
            wid = cache.get(tok)
            if wid is None:
                wid = cache[tok] = word_id.get(lemma(tok), -1) if tok else -1
            out[i] = wid
        return out

    def word_pairs(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(caption row, word id) for every token of the batch whose lemma is a concept word."""
        flat, parents, interleaved = tokenise(self.analyzer.prepare(texts))
        encoded = flat.dictionary_encode()  # separators between interleaved tokens encode too, then drop
        indices = encoded.indices.to_numpy()
        ids = self._token_ids(encoded.dictionary.to_pylist())[indices[0::2] if interleaved else indices]
        keep = ids >= 0
        return parents[keep], ids[keep]

    def _hits(self, texts: pa.Array) -> sp.csr_matrix:
        rows, wids = self.word_pairs(texts)
        n = len(texts)
        caption_words = sp.csr_matrix((np.ones(len(rows), np.int32), (rows, wids)),
                                      shape=(n, len(self.vocabulary.words)))
        caption_words.data[:] = 1  # a word said twice in a caption is still one word
        return caption_words @ self._word_concept

    def count(self, texts: pa.Array) -> np.ndarray:
        """Captions of the batch that contain each concept, as an int64 vector indexed by concept id."""
        hits = self._hits(texts)
        full = hits.data == self.vocabulary.need[hits.indices]
        return np.bincount(hits.indices[full], minlength=len(self.vocabulary.concepts)).astype(np.int64)

    def matches(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(caption row, concept id) for every caption of the batch and every concept it contains."""
        hits = self._hits(texts)
        full = hits.data == self.vocabulary.need[hits.indices]
        rows = np.repeat(np.arange(hits.shape[0]), np.diff(hits.indptr))
        return rows[full], hits.indices[full].astype(np.int64)
