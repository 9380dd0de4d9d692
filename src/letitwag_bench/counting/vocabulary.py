"""The concepts to count and the batch matcher: which captions contain every word of which concept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from letitwag_bench.counting.text import Analyzer, token_spans, tokenise, tokens
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


_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)  # mask of the first n bytes


def _packed(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each span of at most 8 bytes as one uint64 (its bytes, zero-padded): exact keys for strings
    without NUL bytes, as tokens are. Longer spans give their first 8 bytes."""
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[: len(data)] = data
    windows = np.ndarray((len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))  # bytes i..i+7 at i
    return windows[starts] & _LOW_BYTES[np.minimum(lengths, 8)]


_SHARED = -2  # id of a slot that several listed tokens hash to


class _TokenIndex:
    """Exact token → id lookups for a whole batch of tokens (-1: not listed).

    Tokens of up to 8 bytes, nearly all of a caption's, are packed into integers and looked up in a
    direct-mapped table (one multiplicative hash, sized for few collisions; with the packing about
    twice as fast as Arrow's string hashing); the few listed tokens that share a slot are looked up in a
    pandas hash index instead. Longer tokens go through Arrow's ``index_in``.
    """

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * 2^64/phi

    def __init__(self, ids: dict[str, int]) -> None:
        encoded = [token.encode() for token in ids]
        values = np.fromiter(ids.values(), dtype=np.int32, count=len(ids))
        short = np.array([len(e) <= 8 for e in encoded], dtype=bool)
        short_keys = [e for e, s in zip(encoded, short, strict=True) if s]
        lengths = np.array([len(e) for e in short_keys], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        keys = _packed(np.frombuffer(b"".join(short_keys), dtype=np.uint8), starts, lengths)
        self._bits = max(12, int(np.ceil(np.log2(16 * max(len(keys), 1)))))  # 1/16 of the slots used
        slot = self._slot(keys)
        shared = np.bincount(slot, minlength=1 << self._bits) > 1
        alone = ~shared[slot]
        self._keys = np.zeros(1 << self._bits, dtype=np.uint64)  # 0 is no token's key: tokens have no NUL
        self._ids = np.where(shared, np.int32(_SHARED), np.int32(-1))
        self._keys[slot[alone]], self._ids[slot[alone]] = keys[alone], values[short][alone]
        self._crowded = pd.Index(keys[~alone])
        self._crowded_ids = np.append(values[short][~alone], -1)  # position -1 (not found) reads the final -1
        self._long = pa.array([e.decode() for e, s in zip(encoded, short, strict=True) if not s], pa.large_string())
        self._long_ids = np.append(values[~short], -1)

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * self._MULTIPLIER) >> np.uint64(64 - self._bits)).astype(np.intp)

    def lookup(self, flat: pa.Array, step: int, data: np.ndarray, starts: np.ndarray,
               lengths: np.ndarray) -> np.ndarray:
        """Ids of the tokens ``flat[::step]``, given as their byte spans (:func:`token_spans`)."""
        keys = _packed(data, starts, lengths)
        slot = self._slot(keys)
        ids = self._ids[slot]
        crowded = np.flatnonzero(ids == _SHARED)
        ids[self._keys[slot] != keys] = -1
        if len(crowded):
            ids[crowded] = self._crowded_ids[self._crowded.get_indexer(keys[crowded])]
        long = np.flatnonzero(lengths > 8)  # (their keys above are their first 8 bytes: replaced here)
        if len(long):
            found = pc.index_in(flat.take(long * step), value_set=self._long)
            ids[long] = self._long_ids[pc.fill_null(found, -1).to_numpy()]
        return ids


class Matcher:
    """Counts one batch of captions at a time against a :class:`Vocabulary`.

    Tokens become word ids by one vectorised lookup in a table of every token whose lemma is a concept
    word (from the analyzer's lemma table, built once per matcher); only tokens the table cannot decide
    (for the lookup lemmatiser: unknown words ending in ``s``, and non-ASCII words) are looked at one at
    a time, each distinct one once per matcher, and lemmatised only where their lemma could be a concept
    word. Batches are taken 16,384 captions at a time; in each, the distinct (word, caption) pairs are
    sorted, and a concept's captions are those of its word that is rarest in the batch, kept where each
    of its other words is found in the same caption. Counts equal those of the plain rule: every word of
    the concept among the caption's lemmas (the tests check both against per-token ``noun_lemma``).
    """

    def __init__(self, vocabulary: Vocabulary, analyzer: Analyzer) -> None:
        self.vocabulary = vocabulary
        self.analyzer = analyzer
        self._word_id = {w: i for i, w in enumerate(vocabulary.words)}
        self._token_id: dict[str, int] = {}
        self._index = _TokenIndex(self._forms())
        self._single = np.flatnonzero(vocabulary.need == 1)
        self._multi = np.flatnonzero(vocabulary.need > 1)

    def _forms(self) -> dict[str, int]:
        """Token → word id for every token a lookup table lemmatises to a concept word, and the concept
        words themselves."""
        word_id = self._word_id
        forms = {form: word_id[lemma] for form, lemma in self.analyzer.table_forms(word_id).items()}
        for word in self.vocabulary.words:
            wid = self._word_of(word)
            if wid >= 0:
                forms[word] = wid
            else:
                forms.pop(word, None)
        return forms

    def _word_of(self, token: str) -> int:
        """Word id of the token's lemma (-1: not a concept word). The lemma itself is only computed where
        the token's lemma options leave a choice between concept words and others."""
        options = self.analyzer.lemma_options(token)
        if self._word_id.keys().isdisjoint(options):
            return -1
        return self._word_id.get(next(iter(options)) if len(options) == 1 else self.analyzer.lemma(token), -1)

    def _lemma_ids(self, tokens: pa.Array) -> np.ndarray:
        """Word id (or -1) of each token by :meth:`_word_of`, each distinct token once per process."""
        encoded = tokens.dictionary_encode()
        cache = self._token_id
        ids = np.empty(len(encoded.dictionary), dtype=np.int32)
        for i, token in enumerate(encoded.dictionary.to_pylist()):
            wid = cache.get(token)
            if wid is None:
                wid = cache[token] = self._word_of(token)
            ids[i] = wid
        return ids[encoded.indices.to_numpy()]

    def word_pairs(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(caption row, word id) for every token of the batch whose lemma is a concept word."""
        flat, parents, interleaved = tokenise(self.analyzer.prepare(texts))
        step, (data, starts, lengths) = 2 if interleaved else 1, token_spans(flat, interleaved)
        ids = self._index.lookup(flat, step, data, starts, lengths)
        missing = np.flatnonzero(ids < 0)
        ask = missing[self.analyzer.unlisted(data, starts[missing], lengths[missing])]
        if len(ask):
            ids[ask] = self._lemma_ids(flat.take(ask * step))
        keep = np.flatnonzero(ids >= 0)  # then two gathers: about 3x faster than two boolean masks
        return parents[keep], ids[keep]

    def _batch(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct (word, caption) pairs as sorted keys ``word * len(texts) + row``, and per word
        the number of captions that hold it and the position of its first key."""
        rows, wids = self.word_pairs(texts)
        n, n_words = len(texts), len(self.vocabulary.words)
        kind = np.int32 if n_words * n < 2**31 else np.int64  # 32-bit keys sort about twice as fast
        keys = np.sort(wids.astype(kind) * kind(n) + rows.astype(kind))
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys
        bounds = np.searchsorted(keys, np.arange(n_words + 1, dtype=kind) * kind(n))
        return keys, np.diff(bounds), bounds[:-1]

    def _found(self, texts: pa.Array, concepts: np.ndarray, keys: np.ndarray, captions: np.ndarray,
               first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(caption row, concept id) for each caption holding every word of one of `concepts`."""
        n, matrix, need = len(texts), self.vocabulary.matrix, self.vocabulary.need
        # Each concept's word with the fewest captions in this batch: its captions are the candidates.
        entries = len(matrix.indices)  # (minimum of captions * entries + entry, per concept: its anchor entry)
        order = captions[matrix.indices].astype(np.int64) * entries + np.arange(entries)
        anchor_entry = np.minimum.reduceat(order, matrix.indptr[:-1]) % entries
        anchor = matrix.indices[anchor_entry[concepts]]
        sizes = captions[anchor]
        at = np.repeat(first[anchor] - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        rows, owner = keys[at] % max(n, 1), np.repeat(concepts, sizes)
        ok = np.ones(len(rows), dtype=bool)
        alive = np.arange(len(rows))  # candidates not yet refuted that have a k-th word
        for k in range(int(need[concepts].max(initial=0))):  # the k-th word of each candidate's concept
            alive = alive[ok[alive] & (need[owner[alive]] > k)]
            if not len(alive):
                break
            entry = matrix.indptr[owner[alive]] + k
            other = entry != anchor_entry[owner[alive]]
            check, entry = alive[other], entry[other]
            probe = matrix.indices[entry].astype(keys.dtype) * keys.dtype.type(n) + rows[check]
            order = np.argsort(probe)  # sorted, the binary searches share their paths: about 2x faster
            probe, check = probe[order], check[order]
            ok[check] &= keys[np.minimum(np.searchsorted(keys, probe), len(keys) - 1)] == probe
        return rows[ok], owner[ok]

    def _count(self, texts: pa.Array) -> np.ndarray:
        keys, captions, first = self._batch(texts)
        counts = np.zeros(len(self.vocabulary.concepts), dtype=np.int64)
        # A one-word concept is in every caption that holds its word (distinct pairs: counted once each).
        counts[self._single] = captions[self.vocabulary.matrix.indices[self.vocabulary.matrix.indptr[self._single]]]
        _, multi = self._found(texts, self._multi, keys, captions, first)
        return counts + np.bincount(multi, minlength=len(counts))

    def count(self, texts: pa.Array) -> np.ndarray:
        """Captions of the batch that contain each concept, as an int64 vector indexed by concept id."""
        counts = np.zeros(len(self.vocabulary.concepts), dtype=np.int64)
        for _, part in _chunks(texts):
            counts += self._count(part)
        return counts

    def matches(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(caption row, concept id) for every caption of the batch and every concept it contains."""
        every = np.arange(len(self.vocabulary.concepts))
        rows, concepts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for start, part in _chunks(texts):
            found_rows, found = self._found(part, every, *self._batch(part))
            rows.append(found_rows.astype(np.int64) + start)
            concepts.append(found.astype(np.int64))
        return np.concatenate(rows), np.concatenate(concepts)


_CHUNK = 16384  # captions per pass (about 1 MB of text): its arrays stay in a core's L2 cache (15-40 % faster
# than 65,536 on the 2-core development machine)


def _chunks(texts: pa.Array) -> Iterator[tuple[int, pa.Array]]:
    for start in range(0, len(texts), _CHUNK):
        yield start, texts.slice(start, _CHUNK)
