"""Leaderboard pieces: record schema and file layout, Arena ranks, top-1, build determinism, compare, push."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from leaderboard_fixtures import COMMITTED, small_results, snapshot
from typer.testing import CliRunner

from letitwag_bench import leaderboard as lb
from letitwag_bench import stats
from letitwag_bench.cli import app
from letitwag_bench.records import RecordError, ResultRecord, model_slug, read_record

runner = CliRunner()
RECORD = COMMITTED / "results" / "vit-b-32--laion400m_e32" / "letitwag.json"


def test_record_round_trip_and_compact_rows() -> None:
    rec = read_record(RECORD)
    assert len(rec.results) == 290 and rec.results.n.tolist() == [450.0] * 290
    text = rec.to_json()
    assert ResultRecord.from_json(text, where="x").to_json() == text
    row = next(line for line in text.splitlines() if line.startswith('   ["An-12"'))
    assert json.loads(row.rstrip(",")) == ["An-12", 450, pytest.approx(95 / 450, abs=1e-6)]


def test_concept_is_stored_only_when_not_derivable() -> None:
    rec = read_record(RECORD).model_copy()
    data = json.loads(rec.to_json())
    data["results"]["letitwag"][0].append("a custom key")
    again = ResultRecord.from_json(json.dumps(data), where="x")
    assert "a custom key" in set(again.results.concept)
    assert '"a custom key"]' in again.to_json()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["results"]["letitwag"][0].__setitem__(2, 1.5), "accuracy must be a finite fraction in [0, 1]"),
    (lambda d: d["results"]["letitwag"][0].__setitem__(1, 0), "n must be a positive integer"),
    (lambda d: d["results"]["letitwag"][0].__setitem__(2, "0.5"), "accuracy must be a number"),
    (lambda d: d["results"]["letitwag"].append(list(d["results"]["letitwag"][0])), "appears more than once"),
    (lambda d: d["model"].__setitem__("architecture", "../x"), "is not a safe name"),
    (lambda d: d.pop("provenance"), "field 'provenance': Field required"),
    (lambda d: d.__setitem__("extra", 1), "field 'extra': Extra inputs are not permitted"),
])
def test_invalid_records_name_the_field(change, message) -> None:
    data = json.loads(RECORD.read_text())
    change(data)
    with pytest.raises(RecordError, match=r"^rec\.json: ") as err:
        ResultRecord.from_json(json.dumps(data), where="rec.json")
    assert message in str(err.value)


def test_nan_is_rejected_in_json() -> None:
    text = RECORD.read_text().replace('["An-12", 450, 0.211111]', '["An-12", 450, NaN]')
    with pytest.raises(RecordError, match="NaN is not allowed"):
        ResultRecord.from_json(text, where="r")


@pytest.mark.parametrize("name", ["..", "a/../b", "/abs", "a b", "a\\b", "", "x/", "é"])
def test_unsafe_model_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a safe name"):
        model_slug(name, "tag")


def test_slug() -> None:
    assert model_slug("hf-hub:timm/ViT-B-16-SigLIP", "webli") == "hf-hub-timm-vit-b-16-siglip--webli"


def test_arena_ranks_known_answer() -> None:
    # A above everything; B and C overlap each other; D is below B only.
    low = [10, 5, 3.5, 1]
    high = [12, 7, 6, 4.5]
    assert lb.arena_ranks(low, high) == [1, 2, 2, 3]
    assert lb.arena_ranks([0, 0, 0], [1, 1, 1]) == [1, 1, 1]  # all overlap: all share rank 1


def test_top1_weights_by_n_only_when_known() -> None:
    accuracy = np.array([1.0, 0.0])
    assert lb.top1(accuracy, np.array([3.0, 1.0])) == 75.0
    assert lb.top1(accuracy, np.array([3.0, np.nan])) == 50.0


def test_benchmark_counts_follow_the_documented_choice() -> None:
    from letitwag_bench.counts import load_counts

    table = load_counts()
    lw = lb.BENCHMARKS["letitwag"].counts(table)
    expected = table.concept_counts("laion400m", "image", dataset="letitwag")
    assert len(lw) == 290 and (lw.set_index("concept")["count"] == expected.reindex(lw["concept"])).all()
    pooled = lb.BENCHMARKS["concepts"].counts(table)
    assert len(pooled) == 4669 and pooled["count"].isna().sum() == 1  # cifar10 `plane` has no count
    imagenet = pooled[pooled["dataset"] == "imagenet"].set_index("concept")["count"]
    own = table.concept_counts("laion400m", "matched", dataset="imagenet")
    assert (imagenet == own.reindex(imagenet.index)).all()  # each class joined to its own dataset's count


def test_build_is_deterministic_and_matches_stats(tmp_path: Path) -> None:
    results = small_results(tmp_path / "results")
    lb.build(results, tmp_path / "a")
    lb.build(results, tmp_path / "b")
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    data = json.loads((tmp_path / "a" / "leaderboard.json").read_text())
    row = next(r for r in data["benchmarks"]["letitwag"]["models"] if r["slug"] == "vit-b-32--openai")
    rec = read_record(results / "vit-b-32--openai" / "letitwag.json")
    from letitwag_bench.counts import load_counts

    counts = load_counts().concept_counts("laion400m", "image", dataset="letitwag")
    fit = stats.fit_scaling(rec.results.accuracy, counts.reindex(rec.results.concept).to_numpy(float))
    assert row["slope"] == round(fit.slope, 4) and row["slope_ci_low"] == round(fit.slope_ci_low, 4)
    assert row["top1"] == pytest.approx(100 * rec.results.accuracy.mean(), abs=1e-4)
    readme = (tmp_path / "a" / "README.md").read_text()
    assert readme.count("\n| ") == 2 + 4  # header, rule, 4 models
    for name in ("index.html", "leaderboard.csv", "plots/letitwag_slopes.svg", "plots/letitwag_curves.svg"):
        assert (tmp_path / "a" / name).stat().st_size > 0


def test_compare_cli(tmp_path: Path) -> None:
    results = COMMITTED / "results"
    plot = tmp_path / "cmp.svg"
    out = runner.invoke(app, ["compare", "vit-b-32--laion400m_e32", "vit-b-32--openai", "--json",
                              "--results", str(results), "--plot", str(plot)])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert res["n_concepts"] == 290
    assert res["slope_difference"] == pytest.approx(res["slope_a"] - res["slope_b"])
    assert res["ci_low"] < res["slope_difference"] < res["ci_high"] and 0 < res["p_value"] <= 1
    a, b = (read_record(results / s / "letitwag.json") for s in ("vit-b-32--laion400m_e32", "vit-b-32--openai"))
    assert res["top1_difference"] == pytest.approx(100 * (a.results.accuracy.mean() - b.results.accuracy.mean()))
    assert plot.read_text().startswith("<?xml") and "<svg" in plot.read_text()
    same = runner.invoke(app, ["compare", "vit-b-32--openai", "vit-b-32--openai", "--json", "--results",
                               str(results), "--plot", str(tmp_path / "same.svg")])
    res = json.loads(same.output)
    assert res["slope_difference"] == 0 and res["ci_low"] == res["ci_high"] == 0


def test_compare_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    out = runner.invoke(app, ["compare", "nope", "vit-b-32--openai", "--results", str(COMMITTED / "results"),
                              "--plot", str(tmp_path / "x.svg")])
    assert out.exit_code == 2 and "no 'letitwag' record for model 'nope'" in out.output


def test_push_dry_run_writes_the_upload_folder(tmp_path: Path) -> None:
    board = tmp_path / "lb"
    lb.build(small_results(board / "results"), board)
    staging = tmp_path / "upload"
    out = runner.invoke(app, ["leaderboard", "push", "--repo-id", "org/letitwag-leaderboard", "--dry-run",
                              "--staging", str(staging), "--out", str(board)])
    assert out.exit_code == 0, out.output
    files = snapshot(staging)
    built = snapshot(board)
    assert {k: v for k, v in files.items() if k != "README.md"} == {k: v for k, v in built.items()
                                                                       if k != "README.md"}
    card = (staging / "README.md").read_text()
    assert card.startswith("---\n") and "path: leaderboard.csv" in card and "org/letitwag-leaderboard" in card
    import datasets

    ds = datasets.load_dataset(str(staging), split="train")
    assert ds.num_rows == 4 and "slope" in ds.column_names


def test_examples_needed_text() -> None:
    assert lb.examples_text({"examples_50": None}) == "–"
    assert lb.examples_text({"examples_50": 0.2, "examples_50_extrapolated": True}) == "≤ 1"
    assert lb.examples_text({"examples_50": 1234.0, "examples_50_extrapolated": False}) == "1.2e+03"


def test_page_escapes_model_names(tmp_path: Path) -> None:
    results = small_results(tmp_path / "results", slugs=("vit-b-32--openai", "rn50--cc3m", "vit-h-14--dfn"))
    path = results / "vit-b-32--openai" / "letitwag.json"
    evil = "<img src=x onerror=alert(1)></script>"
    data = json.loads(path.read_text())
    data["model"]["display_name"] = evil
    path.write_text(ResultRecord.from_json(json.dumps(data), where="x").to_json())
    lb.build(results, tmp_path)
    html = (tmp_path / "index.html").read_text()
    assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("</script>") == html.count("<script")  # the embedded JSON cannot close its element
