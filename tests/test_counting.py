"""Counting concepts in caption corpora: planted known answers, engine equality, resume, output use."""

from __future__ import annotations

import json
import os
import shutil
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from counting_corpus import CONCEPTS, concepts_csv, planted, synthetic_captions, tags_table, write_shards
from hypothesis import given, settings
from hypothesis import strategies as st

from letitwag_bench.counting import CountingError, build_counts, corpus_size
from letitwag_bench.counting import local as local_engine
from letitwag_bench.counting.text import (
    _apply_rule,
    _ascii_tokens,
    _even,
    _regex_tokens,
    _suffix_rules,
    lemma_options,
    lookup_lemmas,
    make_analyzer,
    noun_lemma,
    token_spans,
    tokenise,
    tokens,
)
from letitwag_bench.counting.vocabulary import Matcher, Vocabulary
from letitwag_bench.counts import export_dataset, load_counts

MATCHED = "integrated_tlemmatized_i0.7"


def have_spark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


needs_spark = pytest.mark.skipif(not have_spark(), reason="PySpark or Java not installed")


@pytest.fixture(scope="module")
def spark():
    if not have_spark():
        pytest.skip("PySpark or Java not installed")
    from letitwag_bench.counting.spark import spark_session

    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false",
                                         "spark.ui.showConsoleProgress": "false"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    frame, expected, matched = planted(seed=1)
    tags = folder / "tags.parquet"
    pq.write_table(tags_table(frame), tags)
    return {"frame": frame, "expected": expected, "matched": matched, "tags": tags,
            "concepts": str(concepts_csv(folder / "concepts.csv")),
            "all": write_shards(frame, folder / "all", ("parquet", "jsonl", "tar")),
            "spark": write_shards(frame, folder / "spark", ("parquet", "jsonl"))}


def counts_of(result, method: str) -> dict[str, int]:
    rows = result.frame[(result.frame["method"] == method) & (result.frame["dataset"] == "custom")]
    return dict(zip(rows["concept"], rows["count"].astype(int), strict=True))


# --- tokens and lemmas -------------------------------------------------------------------------------


def test_tokens_split_on_non_alphanumerics_and_drop_apostrophes() -> None:
    assert tokens(["Potter's  wheel", "F/A-18_Hornet", "Côte d’Ivoire!", "", "16.4 l"]) == [
        ["potters", "wheel"], ["f", "a", "18", "hornet"], ["côte", "divoire"], [], ["16", "4", "l"]]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=string.printable + "'`", max_size=40)), min_size=1, max_size=12),
       st.integers(0, 3))
def test_ascii_fast_path_tokenises_like_the_regex_rule(texts: list[str | None], offset: int) -> None:
    array = pc.fill_null(pa.array(texts, pa.string()), "").slice(min(offset, len(texts) - 1))
    fast, fast_rows = _ascii_tokens(array)
    rule, rule_rows = _regex_tokens(array)
    assert _even(fast).to_pylist() == rule.to_pylist()
    assert fast_rows.tolist() == rule_rows.tolist()


@pytest.mark.parametrize(("word", "lemma"), [("geese", "goose"), ("mice", "mouse"), ("wolves", "wolf"),
                                             ("cacti", "cactus"), ("suvs", "suv"), ("tzus", "tzu"), ("bus", "bus"),
                                             ("glass", "glass"), ("a300b4", "a300b4"), ("species", "species")])
def test_noun_lemma(word: str, lemma: str) -> None:
    assert noun_lemma(word) == lemma


@pytest.mark.slow  # about 5 s: lemminflect copies a table entry per call
def test_lemma_table_is_noun_lemma_for_every_listed_word() -> None:
    """The Matcher's vectorised lookups read this table instead of calling noun_lemma: every entry must agree."""
    table = lookup_lemmas()
    assert len(table) > 50_000
    assert [(form, lemma) for form, lemma in table.items() if noun_lemma(form) != lemma] == []


def lemma_probe_tokens(rng: np.random.Generator) -> list[str]:
    """Tokens around the lemma table's edges: listed words, their plurals and near-misses (mostly
    unlisted), made-up words with and without a final s, digits, non-ASCII letters."""
    listed = sorted(lookup_lemmas())
    sample = [listed[i] for i in rng.choice(len(listed), 3000, replace=False)]
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    made_up = ["".join(rng.choice(letters, rng.integers(1, 11))) for _ in range(3000)]
    return (sample + [w + "s" for w in sample[:1000]] + [w[:-1] + "q" for w in sample[1000:1500]] + made_up
            + [w + "s" for w in made_up[:1500]] + ["sss", "ass", "1990s", "a300b4s", "737", "geese", "cafés",
                                                    "straße", "mice", "tzus", "buses", "news", "species"])


def test_tokens_outside_the_lemma_table_keep_their_form_unless_flagged() -> None:
    """What lets the Matcher skip noun_lemma for unlisted tokens: where the analyzer does not flag a
    token for the slow path, its lemma is the token itself."""
    analyzer = make_analyzer("lemmatized")
    rng = np.random.default_rng(5)
    unlisted = sorted({t for t in lemma_probe_tokens(rng) if t not in lookup_lemmas()})
    flat, _, interleaved = tokenise(pa.array(unlisted))
    flagged = analyzer.unlisted(*token_spans(flat, interleaved))
    found = (_even(flat) if interleaved else flat).to_pylist()  # the non-ASCII ones come last
    assert sorted(found) == unlisted
    assert 0 < flagged.sum() < len(unlisted)
    assert [t for t, f in zip(found, flagged, strict=True) if not f and noun_lemma(t) != t] == []


def test_suffix_rules_apply_as_lemminflects_own() -> None:
    from lemminflect import Lemmatizer

    rules = Lemmatizer()._getOOVLemmatizer()
    words = ["s", "es", "ices", "bus", "wolves", "corgis", "matrices", "xyzzys", "ab"]
    assert len(_suffix_rules()) == len(rules.rules) > 10
    assert [[_apply_rule(w, rule) for rule in _suffix_rules()] for w in words] == [
        [rules._applyRule(w, r) for r in range(len(rules.rules))] for w in words]


def test_noun_lemma_is_among_the_lemma_options() -> None:
    """The Matcher lemmatises an unknown token only where one of its options is a concept word."""
    tokens_ = sorted(set(lemma_probe_tokens(np.random.default_rng(8))))
    options = {t: lemma_options(t) for t in tokens_}
    assert [t for t in tokens_ if noun_lemma(t) not in options[t]] == []
    several = [t for t in tokens_ if len(options[t]) > 1]
    assert len(several) > 1000 and all(t.endswith("s") and t not in lookup_lemmas() for t in several)


@pytest.mark.parametrize("method", ["lemmatized", "lowercased"])
def test_matcher_word_ids_are_the_lemmas_of_every_token(method: str) -> None:
    """Matcher.word_pairs against noun_lemma token by token, over the whole lemma table and its edges,
    ASCII and non-ASCII batches, with concept words drawn from the same lemmas."""
    analyzer = make_analyzer(method)
    rng = np.random.default_rng(6)
    probes = lemma_probe_tokens(rng)
    table = lookup_lemmas()
    lemmas = sorted({table[t] for t in probes if t in table} | set(probes[::7]))
    names = [str(w) for w in rng.choice(lemmas, 2500, replace=False)] + ["shih tzu", "straße", "737"]
    vocabulary = Vocabulary.from_classes(pd.DataFrame({"dataset": "d", "class_name": names, "concept": names}),
                                         analyzer)
    word_id = {w: i for i, w in enumerate(vocabulary.words)}
    matcher = Matcher(vocabulary, analyzer)
    listed, table = sorted(table), table if method == "lemmatized" else {}
    captions = [" ".join(listed[i: i + 5]) for i in range(0, len(listed), 5)] + probes
    for batch in (captions, [c.title() for c in captions if c.isascii()], captions[::-1]):
        rows, ids = matcher.word_pairs(pa.array(batch))
        # (the lemma table is checked against noun_lemma entry by entry above)
        lemma = {t: table[t] if t in table else analyzer.lemma(t) for t in {t for row in tokens(batch) for t in row}}
        expected = sorted((r, word_id[lemma[t]]) for r, row in enumerate(tokens(batch)) for t in row
                          if lemma[t] in word_id)
        assert sorted(zip(rows.tolist(), ids.tolist(), strict=True)) == expected
        assert len(expected) > 1000


def test_matcher_counts_and_matches_agree_with_a_per_caption_reference() -> None:
    """Many multi-word concepts over a small word pool (so captions often hold some but not all of a
    concept's words), repeated words, empty and null captions: counts and matches equal a plain
    per-caption set check."""
    analyzer = make_analyzer("lowercased")
    rng = np.random.default_rng(7)
    pool = [f"w{i}" for i in range(40)]
    names = sorted({" ".join(rng.choice(pool, int(rng.integers(1, 5)))) for _ in range(300)})
    vocabulary = Vocabulary.from_classes(pd.DataFrame({"dataset": "d", "class_name": names, "concept": names}),
                                         analyzer)
    texts = [None if i % 50 == 0 else " ".join(rng.choice([*pool, "x", "y"], int(rng.integers(0, 12))))
             for i in range(3000)]
    words = [set(vocabulary.concept_words(c)) for c in vocabulary.concepts]
    expected = {(r, c) for r, row in enumerate(tokens([t or "" for t in texts])) for c, need in enumerate(words)
                if need <= set(row)}
    matcher = Matcher(vocabulary, analyzer)
    rows, concepts = matcher.matches(pa.array(texts))
    assert sorted(zip(rows.tolist(), concepts.tolist(), strict=True)) == sorted(expected)
    counts = np.bincount([c for _, c in expected], minlength=len(words))
    assert matcher.count(pa.array(texts)).tolist() == counts.tolist()
    assert (vocabulary.need > 1).sum() > 100 and counts[vocabulary.need > 1].sum() > 100


@pytest.mark.parametrize("method", ["lemmatized", "lowercased"])
def test_every_bundled_concept_is_found_in_its_own_class_name(method: str) -> None:
    analyzer = make_analyzer(method)
    vocabulary = Vocabulary.from_counts(load_counts("bundled"), analyzer)
    assert len(vocabulary.concepts) > 3900
    classes = vocabulary.classes
    names = pa.array([f"a photo of a {n.replace('_', ' ')}." for n in classes["class_name"]])
    rows, concepts = Matcher(vocabulary, analyzer).matches(names)
    found = set(zip(rows.tolist(), concepts.tolist(), strict=True))
    index = {c: i for i, c in enumerate(vocabulary.concepts)}
    missing = [n for r, (n, c) in enumerate(zip(classes["class_name"], classes["concept"], strict=True))
               if (r, index[c]) not in found]
    assert missing == []


# --- planted corpus: both engines give exactly the planted counts ------------------------------------


@pytest.mark.parametrize("method", ["lemmatized", "lowercased"])
def test_local_engine_counts_exactly_the_planted_occurrences(corpus, method: str) -> None:
    result = build_counts(corpus["all"], corpus="planted", method=method, concepts=corpus["concepts"],
                          workers=1, batch_size=7, progress=False)
    assert counts_of(result, method) == corpus["expected"][method]
    assert result.info["corpus_size"] == len(corpus["frame"])
    assert set(result.frame["method"]) == {method}


def test_local_engine_matched_counts(corpus) -> None:
    result = build_counts(corpus["all"], corpus="planted", concepts=corpus["concepts"], tags=[corpus["tags"]],
                          workers=1, progress=False)
    assert counts_of(result, "lemmatized") == corpus["expected"]["lemmatized"]
    assert counts_of(result, MATCHED) == corpus["matched"]
    assert sum(corpus["matched"].values()) > 0


@needs_spark
def test_spark_engine_counts_exactly_the_planted_occurrences(corpus, spark) -> None:
    result = build_counts(corpus["spark"], corpus="planted", method="lowercased", concepts=corpus["concepts"],
                          engine="spark", spark=spark)
    assert counts_of(result, "lowercased") == corpus["expected"]["lowercased"]
    assert result.info["corpus_size"] == len(corpus["frame"])
    result = build_counts(corpus["spark"], corpus="planted", concepts=corpus["concepts"], engine="spark",
                          tags=[corpus["tags"]], spark=spark)
    assert counts_of(result, "lemmatized") == corpus["expected"]["lemmatized"]
    assert counts_of(result, MATCHED) == corpus["matched"]
    assert result.info["corpus_size"] == len(corpus["frame"])


# --- engines agree on a larger synthetic corpus ------------------------------------------------------


def synthetic_shards(folder: Path, n: int, n_shards: int) -> list[Path]:
    concepts = sorted(set(load_counts("bundled").frame["class_name"].str.replace("_", " ")))
    captions = synthetic_captions(n, concepts, seed=3)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, part in enumerate(np.array_split(np.arange(n), n_shards)):
        path = folder / f"shard-{i:03d}.parquet"
        pq.write_table(pa.table({"caption": [captions[j] for j in part]}), path, row_group_size=50_000)
        paths.append(path)
    return paths


def engines_agree(tmp_path: Path, spark, n: int, n_shards: int) -> None:
    shards = synthetic_shards(tmp_path / "corpus", n, n_shards)
    local = build_counts(shards, corpus="synthetic", workers=2, progress=False)
    remote = build_counts(shards, corpus="synthetic", engine="spark", spark=spark)
    pd.testing.assert_frame_equal(local.frame, remote.frame)
    assert local.info["corpus_size"] == remote.info["corpus_size"] == n
    assert local.frame["count"].sum() > n // 4  # the corpus really hits concepts


@needs_spark
def test_local_and_spark_identical_on_synthetic_corpus(tmp_path, spark) -> None:
    engines_agree(tmp_path, spark, n=20_000, n_shards=3)


@needs_spark
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("LETITWAG_1M_TEST"), reason="set LETITWAG_1M_TEST=1 (about 2-3 min on 2 cores)")
def test_local_and_spark_identical_on_a_million_captions(tmp_path, spark) -> None:
    engines_agree(tmp_path, spark, n=1_000_000, n_shards=8)


# --- resume, output, errors --------------------------------------------------------------------------


def test_interrupted_run_resumes_without_recounting_finished_shards(corpus, tmp_path, monkeypatch) -> None:
    shards = write_shards(corpus["frame"], tmp_path / "shards", ("parquet", "jsonl"))
    good = shards[1].read_bytes()
    shards[1].write_bytes(b"not json at all {")
    parts = tmp_path / "out.parquet.parts"
    with pytest.raises(CountingError, match=str(shards[1].name)):
        build_counts(shards, corpus="planted", concepts=corpus["concepts"], workers=1, parts=parts, progress=False)
    assert len(list(parts.glob("*.npz"))) == 1  # the parquet shard finished and was kept
    shards[1].write_bytes(good)
    counted: list[Path] = []
    original = local_engine.count_shard
    monkeypatch.setattr(local_engine, "count_shard", lambda path, *a: counted.append(path) or original(path, *a))
    result = build_counts(shards, corpus="planted", concepts=corpus["concepts"], workers=1, parts=parts,
                          out=tmp_path / "out.parquet", progress=False)
    assert counted == [shards[1].resolve()]
    assert counts_of(result, "lemmatized") == corpus["expected"]["lemmatized"]
    assert result.info["corpus_size"] == len(corpus["frame"])
    assert not parts.exists()  # removed once the table is written
    assert corpus_size(tmp_path / "out.parquet") == len(corpus["frame"])


def test_counted_corpus_merges_with_bundled_counts(corpus, tmp_path) -> None:
    folder = tmp_path / "counts"
    export_dataset(load_counts("bundled"), folder)
    result = build_counts(corpus["all"], corpus="planted", concepts=corpus["concepts"], tags=[corpus["tags"]],
                          workers=1, progress=False)
    result.write(folder / "data" / "planted.parquet")
    assert corpus_size(folder / "data" / "planted.parquet") == len(corpus["frame"])
    table = load_counts(str(folder))
    assert "planted" in table.corpora() and "laion400m" in table.corpora()
    text = table.concept_counts(corpus="planted", method="text")
    assert {c: int(text[c]) for c in CONCEPTS} == corpus["expected"]["lemmatized"]
    matched = table.concept_counts(corpus="planted", method="matched")
    assert {c: int(matched[c]) for c in CONCEPTS} == corpus["matched"]
    bundled = load_counts("bundled").concept_counts(corpus="laion400m", method="matched")
    pd.testing.assert_series_equal(table.concept_counts(corpus="laion400m", method="matched"), bundled)
    shown = table.show("letitwag", "planted", "text")  # Let It Wag! classes get the new corpus's counts
    assert shown.set_index("concept").loc["shih tzu", "count"] == corpus["expected"]["lemmatized"]["shih tzu"] > 0


def test_missing_caption_column_names_the_file_and_column(corpus, tmp_path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": ["a goose"]}), path)
    with pytest.raises(CountingError, match=r"bad\.parquet: no column 'caption' \(columns: text\)"):
        build_counts([path], corpus="x", concepts=corpus["concepts"], workers=1, progress=False)


def test_cli_build_writes_a_table_load_counts_reads(corpus, tmp_path) -> None:
    out = tmp_path / "counts" / "planted.parquet"
    proc = subprocess.run([sys.executable, "-m", "letitwag_bench", "counts", "build", *map(str, corpus["all"]),
                           "--corpus", "planted", "--out", str(out), "--concepts", corpus["concepts"],
                           "--method", "lowercased", "--workers", "1", "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(corpus['frame'])} captions" in proc.stdout
    counts = load_counts(str(out.parent)).concept_counts(corpus="planted", method="lowercased")
    assert {c: int(counts[c]) for c in CONCEPTS} == corpus["expected"]["lowercased"]
    bad = subprocess.run([sys.executable, "-m", "letitwag_bench", "counts", "build", str(tmp_path / "nope.parquet"),
                          "--corpus", "x", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "nope.parquet: no such caption file" in bad.stderr


def test_fit_uses_a_counted_corpus_end_to_end(corpus, tmp_path) -> None:
    """`letitwag counts build` then `letitwag fit --counts FOLDER --corpus NAME`: the slope is that of the
    planted counts (accuracy made exactly linear in log10 count, so the fit must recover the line)."""
    folder = tmp_path / "counts"
    export_dataset(load_counts("bundled"), folder)
    build = subprocess.run([sys.executable, "-m", "letitwag_bench", "counts", "build", *map(str, corpus["all"]),
                            "--corpus", "planted", "--out", str(folder / "data" / "planted.parquet"),
                            "--concepts", corpus["concepts"], "--workers", "1", "--no-progress"],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    counts = corpus["expected"]["lemmatized"]
    accuracy = pd.DataFrame({"concept": list(counts),
                             "accuracy": [0.1 + 0.2 * np.log10(max(c, 1)) for c in counts.values()]})
    accuracy.to_csv(tmp_path / "acc.csv", index=False)
    fit = subprocess.run([sys.executable, "-m", "letitwag_bench", "fit", "--accuracy", str(tmp_path / "acc.csv"),
                          "--counts", str(folder), "--corpus", "planted", "--method", "text", "--json",
                          "--bootstrap", "50"], capture_output=True, text=True, timeout=300)
    assert fit.returncode == 0, fit.stderr
    result = json.loads(fit.stdout)
    assert result["slope"] == pytest.approx(20.0)  # points per decade
    assert result["n_concepts"] == len(counts)


def test_spacy_mode_counts_noun_lemmas_only(monkeypatch) -> None:
    """The paper's rule through `--lemmatizer spacy:MODEL`, with a stand-in pipeline (no trained model
    is installable offline): a rule tags every alphabetic word NOUN except 'flying' (VERB)."""
    spacy = pytest.importorskip("spacy")

    def fake_load(name: str, disable: list[str]):
        nlp = spacy.blank("en")
        ruler = nlp.add_pipe("attribute_ruler")
        nlp.initialize()
        ruler.add([[{"IS_ALPHA": True}]], {"POS": "NOUN"})
        ruler.add([[{"LOWER": "flying"}]], {"POS": "VERB", "LEMMA": "fly"})
        for word, lemma in (("geese", "goose"), ("mice", "mouse"), ("fly", "fly")):
            ruler.add([[{"LOWER": word}]], {"LEMMA": lemma})
        return nlp

    monkeypatch.setattr(spacy, "load", fake_load)
    analyzer = make_analyzer("lemmatized", "spacy:stand_in")
    assert analyzer.spec == "lemmatized:spacy:stand_in"
    classes = pd.DataFrame({"dataset": "d", "class_name": ["goose", "mouse", "flying", "shih tzu"],
                            "concept": ["goose", "mouse", "flying", "shih tzu"]})
    vocabulary = Vocabulary.from_classes(classes, analyzer)
    counts = Matcher(vocabulary, analyzer).count(pa.array(["Two geese flying", "mice", "a Shih Tzu", None]))
    assert dict(zip(vocabulary.concepts, counts.tolist(), strict=True)) == {
        "flying": 0, "goose": 1, "mouse": 1, "shih tzu": 1}
    with pytest.raises(CountingError, match="only applies to --method lemmatized"):
        make_analyzer("lowercased", "spacy:stand_in")
