"""Caption text → words: the one tokeniser and lemmatiser used for concept names and captions alike,
by every engine (``local`` runs it in its worker processes, ``spark`` inside its Python workers).

Tokens: the text is lower-cased (Unicode), apostrophes are dropped (``potter's`` → ``potters``,
``cote d'ivoire`` → ``cote``, ``divoire``) and it is split at every run of characters that are neither
letters nor digits (``f-150`` → ``f``, ``150``; ``baseball-bat`` → ``baseball``, ``bat``; ``_`` too).
Running the same vectorised function on concept names and captions is what makes a concept's words
always findable in a caption that spells them the same way.

Lemmas (method ``lemmatized``, lemmatiser ``lookup``): :func:`noun_lemma`, lemminflect's English
lookup tables (nouns first) with its suffix rules for unknown plurals. The paper instead took spaCy
``en_core_web_lg`` lemmas of the caption tokens tagged NOUN or PROPN; see :class:`SpacyAnalyzer` for
that mode and the README ("Counting your own corpus") for how the two differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_APOSTROPHES = ("'", "’", "`")
_SEPARATORS = r"[^\p{L}\p{N}]+"  # RE2 syntax (pyarrow): anything that is not a letter or a digit

LOOKUP = "lookup"
METHODS = ("lemmatized", "lowercased")


class CountingError(ValueError):
    """Unusable counting input or settings; the message names the file, field and what was expected."""


def _regex_tokens(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The rule itself (any text): Unicode lower-casing, apostrophes dropped, RE2 split."""
    text = pc.utf8_lower(texts)
    for apostrophe in _APOSTROPHES:  # plain replaces: several times faster than one regex
        text = pc.replace_substring(text, apostrophe, "")
    lists = pc.split_pattern_regex(text, _SEPARATORS)
    flat, parents = pc.list_flatten(lists), pc.list_parent_indices(lists).to_numpy()
    nonempty = pc.greater(pc.binary_length(flat), 0)  # the split leaves "" where a text starts or ends
    return flat.filter(nonempty).cast(pa.large_string()), parents[nonempty.to_numpy(zero_copy_only=False)]


def _string_buffers(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets as int64 from 0, data bytes) of a string or large_string array, without copying the data
    (nor the offsets where they already are; treat both as read-only)."""
    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    _, offsets_buf, data_buf = strings.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=width)[strings.offset: strings.offset + len(strings) + 1]
    offsets = offsets.astype(np.int64, copy=False)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]: offsets[-1]] if data_buf else np.zeros(0, np.uint8)
    return offsets - offsets[0] if offsets[0] else offsets, data


def _ascii_tokens(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The same rule for ASCII-only texts, on their bytes with NumPy (several times faster than RE2):
    ASCII letters and digits are exactly the ASCII members of \\p{L} and \\p{N}.

    The tokens are returned as a string array whose odd elements are the separators between tokens
    (so no bytes are copied); callers take the even elements.
    """
    offsets, data = _string_buffers(pc.ascii_lower(texts))
    kept = (data != ord("'")) & (data != ord("`"))
    if not kept.all():
        offsets = offsets - np.searchsorted(np.flatnonzero(~kept), offsets)
        data = data[kept]
    # word[i + 1]: byte i is a letter or digit (uint8 arithmetic wraps: one comparison per range); the
    # zeros around it close the first and the last token.
    word = np.zeros(len(data) + 2, dtype=np.int8)
    np.logical_or(data - np.uint8(ord("a")) < 26, data - np.uint8(ord("0")) < 10, out=word[1:-1].view(bool))
    begins, ends = word[1:] > word[:-1], word[1:] < word[:-1]  # at byte i, or just after a token's last byte
    # No token runs on from one text into the next: where the bytes on both sides of a text boundary are
    # letters or digits, one token ends and the next begins there.
    inner = offsets[1:-1]
    joined = inner[(word[inner] != 0) & (word[inner + 1] != 0)]
    begins[joined] = ends[joined] = True
    bounds = np.empty(2 * int(np.count_nonzero(begins)), dtype=np.int64)
    bounds[0::2], bounds[1::2] = np.flatnonzero(begins), np.flatnonzero(ends)
    per_text = np.diff(np.searchsorted(bounds[0::2], offsets))
    if not len(bounds):
        bounds = np.zeros(1, dtype=np.int64)
    spans = pa.Array.from_buffers(pa.large_string(), len(bounds) - 1,
                                  [None, pa.py_buffer(bounds), pa.py_buffer(data)])
    return spans, np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), per_text)


def _even(spans: pa.Array) -> pa.Array:
    return spans.take(pa.array(np.arange(0, len(spans), 2)))


def tokenise(texts: pa.Array) -> tuple[pa.Array, np.ndarray, bool]:
    """All tokens of a batch of texts, flat, and the row each comes from (null texts have none).

    The third value says whether the tokens are interleaved with separators (take the even elements:
    ``tokens[0::2]``), which spares a copy on the fast path; :func:`tokens` shows the plain use.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        texts = texts.cast(pa.large_string())  # e.g. string_view: the fast path reads offset buffers
    texts = pc.fill_null(texts, "")
    if _string_buffers(texts)[1].max(initial=0) < 0x80:  # all ASCII: one pass over the bytes
        return (*_ascii_tokens(texts), True)
    ascii_rows = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    if not ascii_rows.any():
        return (*_regex_tokens(texts), False)
    fast, slow = np.flatnonzero(ascii_rows), np.flatnonzero(~ascii_rows)
    fast_spans, fast_rows = _ascii_tokens(texts.filter(ascii_rows))
    slow_tokens, slow_rows = _regex_tokens(texts.filter(~ascii_rows))
    return (pa.concat_arrays([_even(fast_spans), slow_tokens]), np.concatenate([fast[fast_rows], slow[slow_rows]]),
            False)


def token_spans(flat: pa.Array, interleaved: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tokens of :func:`tokenise` as UTF-8 byte spans: (data, start of each token, its length)."""
    offsets, data = _string_buffers(flat)
    step = 2 if interleaved else 1
    starts = offsets[:-1:step]
    return data, starts, offsets[1::step] - starts


def tokens(texts: list[str]) -> list[list[str]]:
    """:func:`tokenise` for a list of strings (concept names), by the same vectorised code."""
    flat, rows, interleaved = tokenise(pa.array(texts, pa.string()))
    out: list[list[str]] = [[] for _ in texts]
    for token, row in zip(_even(flat).to_pylist() if interleaved else flat.to_pylist(), rows.tolist(), strict=True):
        out[row].append(token)
    return out


@lru_cache(maxsize=1)
def _lemminflect():
    try:
        import lemminflect
    except ImportError as err:  # a declared dependency; only a broken install lacks it
        raise CountingError("the lookup lemmatiser needs the 'lemminflect' package: pip install lemminflect") from err
    return lemminflect


def noun_lemma(token: str) -> str:
    """Lemma of a lower-case token, read as a noun where it can be (``geese`` → ``goose``).

    Order: lemminflect's noun lookup table; else its lookup for other word classes, verbs first
    (``bars`` → ``bar``, ``was`` → ``be``); else, for unknown words ending in ``s``, its noun suffix
    rules (``suvs`` → ``suv``, ``corgis`` → ``corgi``), and where those leave it unchanged a plain final
    ``s`` is dropped (``tzus`` → ``tzu``; not after another ``s``); else the token itself. Tokens with digits
    (``a300b4``, ``150``) are kept as they are. Where a table lists several lemmas the first is taken.
    """
    if not token.isalpha():
        return token
    lem = _lemminflect()
    known = lem.getAllLemmas(token)  # one table lookup for every word class
    if known:
        return (known.get("NOUN") or known.get("VERB") or next(iter(known.values())))[0]
    if token.endswith("s") and len(token) > 3:
        guess = lem.getLemma(token, upos="NOUN", lemmatize_oov=True)[0]
        return token[:-1] if guess == token and token[-2] != "s" else guess
    return token


@lru_cache(maxsize=1)
def lookup_lemmas() -> dict[str, str]:
    """:func:`noun_lemma` of every ASCII token that lemminflect's lookup tables list, read from the tables
    at once: lemminflect copies a table entry on every call (about 10 µs a word), while a corpus's
    distinct tokens run into millions. The tests check every entry against :func:`noun_lemma`."""
    lemmatizer = _lemminflect().Lemmatizer()
    table, overrides = lemmatizer._getLemmaDict(), lemmatizer._getOverridesDict()  # what getAllLemmas reads
    out = {}
    for form in table.keys() | overrides.keys():
        # Tokens are lower-case and alphanumeric; other keys ("Aaron", "'d") are never looked up.
        if form.isascii() and form.isalpha() and form.islower():
            known = {**table.get(form, {}), **overrides.get(form, {})}  # overrides win, as in getAllLemmas
            out[form] = (known.get("NOUN") or known.get("VERB") or next(iter(known.values())))[0].lower()
    return out


@lru_cache(maxsize=1)
def _suffix_rules() -> tuple[tuple[str, str, bool], ...]:
    """lemminflect's rules for unknown words, as (ending removed, ending added, doubled letter dropped):
    its model only chooses among them (``LemmatizerRules.lemmatize``)."""
    rules = _lemminflect().Lemmatizer()._getOOVLemmatizer().rules
    return tuple((removed, added, double == "True") for removed, added, double in (r.split(",") for r in rules))


def _apply_rule(word: str, rule: tuple[str, str, bool]) -> str:
    """lemminflect's ``LemmatizerRules._applyRule``, given the rule itself."""
    removed, added, double = rule
    lemma = (word[: -len(removed)] if removed else word) + added
    return lemma[:-1] if double else lemma


def lemma_options(token: str) -> set[str]:
    """Every lemma :func:`noun_lemma` may give `token`, found without lemminflect's per-word calls: just
    the lemma, except for an unknown word ending in ``s``, whose lemma is what one of lemminflect's
    suffix rules makes of it (its model picks the rule, about 100 µs a word) or the word without the ``s``."""
    if not token.isascii() or token != token.lower():
        return {noun_lemma(token)}
    if token in lookup_lemmas():
        return {lookup_lemmas()[token]}
    if token.isalpha() and token.endswith("s") and len(token) > 3:
        return {_apply_rule(token, rule).lower() for rule in _suffix_rules()} | {token[:-1]}
    return {token}


@lru_cache(maxsize=1)
def _forms_by_lemma() -> dict[str, tuple[str, ...]]:
    """:func:`lookup_lemmas` inverted: lemma → the tokens it is the lemma of."""
    forms: dict[str, list[str]] = {}
    for form, lemma in lookup_lemmas().items():
        forms.setdefault(lemma, []).append(form)
    return {lemma: tuple(of) for lemma, of in forms.items()}


def _rule_candidates(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Which tokens (byte spans of `data`) :func:`noun_lemma` may change although :func:`lookup_lemmas`
    does not list them: unknown words ending in ``s`` (its suffix rules) and every non-ASCII token."""
    if not len(data):
        return np.zeros(len(starts), dtype=bool)
    out = (lengths > 3) & (data[np.maximum(starts + lengths - 1, 0)] == ord("s"))
    if data.max() >= 0x80:
        before = np.concatenate([[0], np.cumsum(data >= 0x80, dtype=np.int64)])
        out |= before[starts + lengths] > before[starts]
    return out


class Analyzer:
    """Turns caption texts into tokens whose lemmas are looked up (the fast, vectorised path).

    Subclasses change :meth:`prepare` (text → text before tokenising) and the lemma functions.
    ``spec`` names the analyzer for the output's metadata and resume keys.
    """

    def __init__(self, method: str) -> None:
        if method not in METHODS:
            raise CountingError(f"unknown counting method {method!r}; expected one of {', '.join(METHODS)}")
        self.method = method
        self.spec = f"{method}:{LOOKUP}" if method == "lemmatized" else method

    def prepare(self, texts: pa.Array) -> pa.Array:
        return texts

    def lemma(self, token: str) -> str:
        """Lemma of one caption token (after :meth:`prepare` and :func:`tokenise`)."""
        return noun_lemma(token) if self.method == "lemmatized" else token

    def concept_lemma(self, token: str) -> str:
        """Lemma of one token of a concept name."""
        return self.lemma(token)

    def table_forms(self, lemmas: Iterable[str]) -> dict[str, str]:
        """The tokens whose lemma is one of `lemmas` by a lookup table, with their lemma (``{}`` where
        lemmas are the tokens themselves)."""
        if self.method != "lemmatized":
            return {}
        forms = _forms_by_lemma()
        return {form: lemma for lemma in lemmas for form in forms.get(lemma, ())}

    def lemma_options(self, token: str) -> set[str]:
        """Lemmas :meth:`lemma` may give `token`, found more cheaply than the lemma itself."""
        return lemma_options(token) if self.method == "lemmatized" else {token}

    def unlisted(self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Which tokens (UTF-8 byte spans of `data`) missing from the lookup table behind :meth:`table_forms`
        may still have a lemma other than themselves (see :meth:`lemma_options`); for all others it is the
        token itself."""
        if self.method == "lemmatized":
            return _rule_candidates(data, starts, lengths)
        return np.zeros(len(starts), dtype=bool)


class SpacyAnalyzer(Analyzer):
    """The paper's lemmatisation: spaCy lemmas of caption tokens tagged NOUN or PROPN, and of each word
    of a concept name on its own. Needs spaCy and a trained pipeline with a tagger (e.g.
    ``en_core_web_sm``) installed; runs spaCy on every caption, so it is orders of magnitude slower.
    The lemmas are then tokenised like any text, so the word rules stay those of :func:`tokenise`.
    """

    def __init__(self, model: str) -> None:
        super().__init__("lemmatized")
        self.spec = f"lemmatized:spacy:{model}"
        self.model = model
        try:
            import spacy
        except ImportError as err:
            raise CountingError("--lemmatizer spacy:MODEL needs spaCy: pip install spacy") from err
        try:
            self._nlp = spacy.load(model, disable=["parser", "ner"])
        except OSError as err:
            raise CountingError(f"spaCy pipeline {model!r} is not installed ({err}); install it as a package, "
                                "or use --lemmatizer lookup") from err
        if not any(t.pos_ for t in self._nlp("a dog on a red sofa")):
            raise CountingError(f"spaCy pipeline {model!r} tags no parts of speech, so it cannot pick nouns as the "
                                "paper did; use a trained pipeline such as en_core_web_sm")

    def prepare(self, texts: pa.Array) -> pa.Array:
        captions = pc.fill_null(texts, "").to_pylist()
        # A token without a lemma (a pipeline with no lemmatiser for it) stands for itself.
        return pa.array([" ".join(t.lemma_ or t.text for t in doc if t.pos_ in ("NOUN", "PROPN"))
                         for doc in self._nlp.pipe(captions, batch_size=256)], pa.string())

    def lemma(self, token: str) -> str:
        return token  # already a lemma (prepare)

    def table_forms(self, lemmas: Iterable[str]) -> dict[str, str]:
        return {}

    def lemma_options(self, token: str) -> set[str]:
        return {token}

    def unlisted(self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return np.zeros(len(starts), dtype=bool)

    def concept_lemma(self, token: str) -> str:
        doc = self._nlp(token)
        lemma = tokens([doc[-1].lemma_ or doc[-1].text])[0] if len(doc) else []
        return lemma[-1] if lemma else token


def make_analyzer(method: str = "lemmatized", lemmatizer: str = LOOKUP) -> Analyzer:
    """``lemmatizer`` is ``lookup`` or ``spacy:MODEL`` (only with method ``lemmatized``)."""
    if lemmatizer == LOOKUP:
        return Analyzer(method)
    if lemmatizer.startswith("spacy:") and len(lemmatizer) > len("spacy:"):
        if method != "lemmatized":
            raise CountingError(f"--lemmatizer {lemmatizer} only applies to --method lemmatized, not {method}")
        return SpacyAnalyzer(lemmatizer.removeprefix("spacy:"))
    raise CountingError(f"unknown lemmatizer {lemmatizer!r}; expected 'lookup' or 'spacy:MODEL'")
