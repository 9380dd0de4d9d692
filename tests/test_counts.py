from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from letitwag_bench import counts as counts_mod
from letitwag_bench.concepts import concept_key
from letitwag_bench.counts import (
    COLUMNS,
    CountsError,
    CountsTable,
    export_dataset,
    letitwag_classes,
    load_counts,
)


@pytest.fixture(scope="module")
def bundled() -> CountsTable:
    return load_counts()


def test_bundled_schema_and_provenance(bundled: CountsTable) -> None:
    frame = bundled.frame
    assert tuple(frame.columns) == COLUMNS
    assert frame["count"].dtype == "int64" and (frame["count"] >= 0).all()
    assert not frame.duplicated(["dataset", "class_name", "corpus", "method"]).any()
    assert bundled.revision.startswith("upstream-")
    data = Path(counts_mod.__file__).parent / "data"
    assert "MIT" in (data / "LICENSE").read_text()
    assert counts_mod.UPSTREAM_COMMIT in (data / "PROVENANCE.md").read_text()


def test_bundled_equals_every_upstream_file(bundled: CountsTable, upstream: Path) -> None:
    """Every (dataset, corpus, method, class) count in the 783 released files is in the table, unchanged."""
    files = sorted((upstream / "search_counts").glob("*_search_counts.json"))
    assert len(files) == 783
    frame = bundled.frame[bundled.frame["dataset"] != "letitwag"]
    indexed = frame.set_index(["dataset", "corpus", "method", "class_name"])["count"]
    expected = {}
    for path in files:
        stem = path.name.removesuffix("_search_counts.json")
        for corpus in sorted(frame["corpus"].unique(), key=len, reverse=True):
            if f"_{corpus}_" in stem:
                dataset, method = stem.split(f"_{corpus}_", 1)
                break
        else:
            pytest.fail(f"no known corpus in {path.name}")
        for name, count in json.loads(path.read_text()).items():
            expected[(dataset, corpus, method, name)] = count
    assert len(expected) == len(indexed)
    got = indexed.loc[list(expected)]
    assert got.tolist() == list(expected.values())


def test_letitwag_classes_all_map(bundled: CountsTable, upstream: Path) -> None:
    names = [line.strip().strip('"') for line in
             (upstream / "let_it_wag_datasets" / "let_it_wag_class_list.txt").read_text().splitlines()]
    classes = letitwag_classes()
    assert classes["class_name"].tolist() == names
    assert (classes["source_datasets"] != "").all(), "every Let It Wag! class maps to some source"
    row = classes.set_index("class_name").loc["stratified_texture"]
    assert row["source_concept"] == "stratified" and row["source_datasets"] == "dtd"


def test_letitwag_count_is_largest_over_sources(bundled: CountsTable) -> None:
    """Shih_Tzu: the pseudo-dataset takes the largest count of the concept over the source files."""
    frame = bundled.frame
    cases = [("laion400m", "rampp0.7"), ("laion400m", "integrated_tlemmatized_i0.7"), ("cc3m", "rampp0.6")]
    for corpus, method in cases:
        src = frame[(frame["concept"] == "shih tzu") & (frame["corpus"] == corpus)
                    & (frame["method"] == method) & (frame["dataset"] != "letitwag")]
        assert src["count"].nunique() > 1, "the case must have differing counts"
        got = frame[(frame["dataset"] == "letitwag") & (frame["class_name"] == "Shih_Tzu")
                    & (frame["corpus"] == corpus) & (frame["method"] == method)]["count"]
        assert got.tolist() == [src["count"].max()]
    assert bundled.concept_counts("laion400m", "rampp0.7")["shih tzu"] == frame[
        (frame["concept"] == "shih tzu") & (frame["corpus"] == "laion400m") & (frame["method"] == "rampp0.7")
    ]["count"].max()


def test_rule_on_differing_counts_synthetic() -> None:
    rows = pd.DataFrame(
        [("x", "a", "X", "c", "m", 3), ("x", "b", "x", "c", "m", 7), ("y", "a", "Y", "c", "m", 0)],
        columns=COLUMNS,
    )
    classes = pd.DataFrame({"class_name": ["X_bird", "Z"], "concept": ["x", "z"], "source_concept": ["x", "z"]})
    out = counts_mod.add_letitwag_rows(rows, classes)
    lw = out[out["dataset"] == "letitwag"]
    assert lw[["class_name", "count"]].values.tolist() == [["X_bird", 7]]  # Z has no source: no row


def test_show_sizes_and_unmatched(bundled: CountsTable) -> None:
    assert len(bundled.show("letitwag", "laion400m", "matched")) == 290
    assert len(bundled.show("imagenet", "laion400m", "matched")) == 1000
    missing = bundled.show("imagenet-r", "cc3m", "text")
    assert len(missing) == 200 and missing["count"].isna().all()
    assert missing["note"].str.contains("no imagenet-r counts").all()


@pytest.mark.parametrize(
    ("kwargs", "listed"),
    [
        ({"dataset": "imagenet1k", "corpus": "laion400m", "method": "matched"}, "imagenet-sketch"),
        ({"dataset": "imagenet", "corpus": "laion2b", "method": "matched"}, "yfcc15m"),
        ({"dataset": "imagenet", "corpus": "laion400m", "method": "clip"}, "rampp0.7"),
    ],
)
def test_unknown_names_list_valid_ones(bundled: CountsTable, kwargs: dict, listed: str) -> None:
    with pytest.raises(CountsError, match=listed):
        bundled.show(**kwargs)


def test_method_not_counted_on_corpus(bundled: CountsTable) -> None:
    with pytest.raises(CountsError, match=r"methods for laion200m_train_test_sim_normalized: rampp0\.7"):
        bundled.resolve(corpus="laion200m_train_test_sim_normalized", method="matched")


def test_export_round_trip(bundled: CountsTable, tmp_path: Path) -> None:
    import datasets

    folder = export_dataset(bundled, tmp_path / "hf")
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlicense: mit") and "configs:" in card and "@inproceedings" in card
    mine = load_counts(str(folder))
    pd.testing.assert_frame_equal(mine.frame, bundled.frame)
    assert mine.revision == bundled.revision and mine.digest == bundled.digest
    theirs = datasets.load_dataset(str(folder), split="train").to_pandas()
    pd.testing.assert_frame_equal(counts_mod.normalise_frame(theirs), bundled.frame)
    assert theirs.shape == bundled.frame.shape


def test_hub_source_goes_through_load_dataset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              bundled: CountsTable) -> None:
    """A Hub id is read with datasets.load_dataset(repo, revision=...); here served from a local export."""
    import datasets

    small = CountsTable(bundled.frame[bundled.frame["dataset"] == "cub"].reset_index(drop=True), "x", "y")
    folder = export_dataset(small, tmp_path / "hub")
    calls = []
    real = datasets.load_dataset

    def fake(path, revision=None, split=None):
        calls.append((path, revision, split))
        return real(str(folder), split=split)

    monkeypatch.setattr(datasets, "load_dataset", fake)
    table = load_counts("someorg/concept-counts@v1.0")
    assert calls == [("someorg/concept-counts", "v1.0", "train")]
    assert table.revision == "v1.0" and table.source == "someorg/concept-counts@v1.0"
    # Let It Wag! rows are derived for a Hub table that lacks them.
    assert (table.frame["dataset"] == "letitwag").any()
    assert set(table.frame.loc[table.frame["dataset"] != "letitwag", "dataset"]) == {"cub"}


@pytest.mark.skipif(os.environ.get("HF_DATASETS_OFFLINE") != "1", reason="needs the offline environment")
def test_unreachable_hub_fails_clearly() -> None:
    with pytest.raises(CountsError) as err:
        load_counts("nobody-here/no-such-counts")
    message = str(err.value)
    assert "nobody-here/no-such-counts" in message and "--counts bundled" in message


def test_minimal_csv_source(tmp_path: Path) -> None:
    path = tmp_path / "my.csv"
    path.write_text("concept,count\nShih_Tzu,12\nEggnog,0\n")
    table = load_counts(str(path))
    series = table.concept_counts("custom", "custom")
    assert series.to_dict() == {"eggnog": 0, "shih tzu": 12}
    assert table.revision.startswith("sha256-")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("concept,dataset,class_name,corpus,method\n", "missing column"),
        ("concept,count\nx,-1\n", "integers ≥ 0"),
        ("concept,count\nx,1.5\n", "integers ≥ 0"),
        ("concept,count\nx,many\n", "integers ≥ 0"),
        ("concept,count\nx,1\nX,2\n", "duplicate row"),
        ("", "not a readable CSV"),
    ],
)
def test_bad_local_files_name_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(CountsError, match=message) as err:
        load_counts(str(path))
    assert str(path) in str(err.value)


def test_bad_source_string() -> None:
    with pytest.raises(CountsError, match="neither 'bundled'"):
        load_counts("not a source")


def test_concept_keys_match_normalisation(bundled: CountsTable) -> None:
    sample = bundled.frame.sample(500, random_state=0)
    non_letitwag = sample[sample["dataset"] != "letitwag"]
    assert non_letitwag["concept"].tolist() == [concept_key(n) for n in non_letitwag["class_name"]]
