"""`letitwag fit` / `letitwag compare-fit`: input files, counts joins, JSON and error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from letitwag_bench.cli import app
from letitwag_bench.counts import load_counts

runner = CliRunner()

# x = 0 … 6 exactly; accuracy = 10 points + 5 points per decade, so slope 5 and intercept 10.
LINE = pd.DataFrame({
    "concept": ["Alpha", "beta", "Gamma_Ray", "delta", "epsilon", "zeta", "eta"],
    "count": [1, 10, 100, 1000, 10**4, 10**5, 10**6],
})
LINE["accuracy"] = 0.1 + 0.05 * np.log10(LINE["count"])


def write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def fit_json(*args: str) -> tuple[dict, str]:
    result = runner.invoke(app, ["fit", *args, "--json", "--bootstrap", "200"])
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout), result.stderr


def test_fit_with_a_concept_count_csv(tmp_path):
    acc = write(tmp_path / "acc.csv", LINE[["concept", "accuracy"]])
    counts = write(tmp_path / "counts.csv", LINE[["concept", "count"]])
    out, err = fit_json("--accuracy", str(acc), "--counts", str(counts))
    assert out["slope"] == pytest.approx(5.0) and out["intercept"] == pytest.approx(10.0)
    assert out["slope_ci_low"] == pytest.approx(5.0) and out["slope_ci_high"] == pytest.approx(5.0)
    assert out["n_concepts"] == 7 and out["n_missing_counts"] == 0 and err == ""
    # a concept,count CSV is one corpus/method ('custom'): used without --corpus/--method
    assert (out["counts_corpus"], out["counts_method"]) == ("custom", "custom")
    assert out["counts_source"] == str(counts) and out["counts_revision"].startswith("sha256-")
    assert out["examples_needed_50"] == pytest.approx(1e8) and out["examples_needed_50_extrapolated"] is True
    assert out["examples_needed_80"] == pytest.approx(1e14)
    for key in ("pearson_r", "spearman_rho", "n_zero_count", "binned", "tail_accuracy", "head_accuracy",
                "binned_r"):
        assert key in out
    assert len(out["binned"]) == 12 and out["logistic"] is None


def test_concepts_without_counts_are_reported_not_dropped_silently(tmp_path):
    extra = pd.DataFrame({"concept": ["Unknown Thing", "other_unknown"], "accuracy": [0.5, 0.7]})
    acc = write(tmp_path / "acc.csv", pd.concat([LINE[["concept", "accuracy"]], extra]))
    counts = write(tmp_path / "counts.csv", LINE[["concept", "count"]])
    out, err = fit_json("--accuracy", str(acc), "--counts", str(counts))
    assert out["n_concepts"] == 7 and out["slope"] == pytest.approx(5.0)
    assert out["n_missing_counts"] == 2 and out["missing_counts"] == ["other unknown", "unknown thing"]
    assert "2 of 9 concepts have no count" in err and "unknown thing" in err


def test_fit_reads_the_per_concept_sidecar_and_its_count_column(tmp_path):
    side = LINE.assign(concept=LINE["concept"].str.lower().str.replace("_", " "), class_name=LINE["concept"],
                       dataset="letitwag", n=50)
    side["correct"] = (side["accuracy"] * 50).round().astype(int)
    side["accuracy"] = side["correct"] / 50
    side = side[["concept", "class_name", "dataset", "n", "correct", "accuracy", "count"]]
    side.loc[len(side)] = ["no count here", "No_count_here", "letitwag", 50, 10, 0.2, None]
    path = write(tmp_path / "run.concepts.csv", side)
    out, err = fit_json("--accuracy", str(path))
    assert out["counts_source"] == f"file:{path}" and out["counts_corpus"] is None
    assert out["n_concepts"] == 7 and out["missing_counts"] == ["letitwag:no count here"]
    assert "letitwag:no count here" in err
    assert out["slope"] == pytest.approx(5.0, abs=0.1)
    assert out["logistic"]["slope"] > 0  # n present → binomial GLM reported too
    weighted, _ = fit_json("--accuracy", str(path), "--weighting", "n")
    assert weighted["weighting"] == "n"


def test_fit_joins_bundled_counts_per_dataset(tmp_path):
    table = load_counts()
    imagenet = table.concept_counts("laion400m", "matched", "imagenet")
    cub = table.concept_counts("laion400m", "matched", "cub")
    rows = pd.concat([
        pd.DataFrame({"dataset": "imagenet", "concept": imagenet.index[:60]}),
        pd.DataFrame({"dataset": "cub", "concept": cub.index[:40]}),
    ], ignore_index=True)
    rows["accuracy"] = np.linspace(0.05, 0.95, len(rows))
    path = write(tmp_path / "pooled.csv", rows)
    out, _ = fit_json("--accuracy", str(path))
    assert out["counts_source"] == "bundled" and out["counts_dataset"] == "per-row"
    assert out["counts_notes"] == []
    assert (out["counts_corpus"], out["counts_method"]) == ("laion400m", "matched")
    assert out["n_concepts"] == 100
    expected = np.concatenate([imagenet.to_numpy()[:60], cub.to_numpy()[:40]])
    assert out["n_zero_count"] == int((expected == 0).sum())
    single, _ = fit_json("--accuracy", str(write(tmp_path / "in.csv", rows[:60].drop(columns="dataset"))),
                         "--dataset", "imagenet")
    assert single["counts_dataset"] == "imagenet" and single["n_zero_count"] == int((expected[:60] == 0).sum())


def test_pooled_rows_of_datasets_the_source_lacks_are_noted(tmp_path):
    rows = LINE[["concept", "accuracy"]].assign(dataset="my-benchmark")
    counts = write(tmp_path / "counts.csv", LINE[["concept", "count"]])
    out, err = fit_json("--accuracy", str(write(tmp_path / "acc.csv", rows)), "--counts", str(counts))
    assert out["slope"] == pytest.approx(5.0) and out["n_concepts"] == 7
    assert "'my-benchmark' is not in" in err and len(out["counts_notes"]) == 1


def test_summary_is_readable(tmp_path):
    acc = write(tmp_path / "acc.csv", LINE[["concept", "accuracy"]])
    counts = write(tmp_path / "counts.csv", LINE[["concept", "count"]])
    result = runner.invoke(app, ["fit", "--accuracy", str(acc), "--counts", str(counts), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    assert "slope: 5.000 points per 10x examples (95% CI 5.000 to 5.000, percentile bootstrap" in result.stdout
    assert "examples needed for 50%: 1e+08 (extrapolated)" in result.stdout
    assert "binned curve" in result.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("", "file is empty"),
    ("concept,acc\na,0.5\n", "missing column(s) ['accuracy']"),
    ("concept,accuracy\n", "no rows"),
    ("concept,accuracy\na,0.5\nb,1.5\n", "line 3, field 'accuracy': got '1.5'; expected a fraction in [0, 1]"),
    ("concept,accuracy\na,50\nb,70\n", "looks like percent"),
    ("concept,accuracy\na,0.5\nb,\n", "line 3, field 'accuracy': got ''; expected a number"),
    ("concept,accuracy\na,0.5\nb,NaN\n", "field 'accuracy'"),
    ("concept,accuracy\nShih_Tzu,0.5\nshih tzu,0.6\n", "'shih tzu' occurs on lines 2, 3"),
    ("concept,accuracy,n\na,0.5,0\n", "field 'n'"),
    ("concept,accuracy\n,0.5\n", "field 'concept'"),
])
def test_bad_accuracy_files_name_file_and_field(tmp_path, content, message):
    path = tmp_path / "acc.csv"
    path.write_text(content)
    result = runner.invoke(app, ["fit", "--accuracy", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.stderr and message in result.stderr, result.stderr


def test_degenerate_fits_are_clean_errors(tmp_path):
    counts = write(tmp_path / "counts.csv", pd.DataFrame({"concept": list("abc"), "count": [5, 5, 5]}))
    acc = write(tmp_path / "acc.csv", pd.DataFrame({"concept": list("abc"), "accuracy": [0.1, 0.2, 0.3]}))
    result = runner.invoke(app, ["fit", "--accuracy", str(acc), "--counts", str(counts)])
    assert result.exit_code == 2 and "same log10 count" in result.stderr
    one = write(tmp_path / "one.csv", pd.DataFrame({"concept": ["a"], "accuracy": [0.1]}))
    result = runner.invoke(app, ["fit", "--accuracy", str(one), "--counts", str(counts)])
    assert result.exit_code == 2 and "at least 3 concepts" in result.stderr
    result = runner.invoke(app, ["fit", "--accuracy", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2 and "no such file" in result.stderr
    result = runner.invoke(app, ["fit", "--accuracy", str(acc), "--counts", str(counts), "--corpus", "nope"])
    assert result.exit_code == 2 and "unknown corpus 'nope'" in result.stderr


def test_compare_fit_pairs_shared_concepts(tmp_path):
    counts = write(tmp_path / "counts.csv", LINE[["concept", "count"]])
    a = write(tmp_path / "a.csv", LINE[["concept", "accuracy"]])
    b_frame = LINE[["concept", "accuracy"]].assign(accuracy=0.2 + 0.02 * np.log10(LINE["count"]))
    b_frame.loc[len(b_frame)] = ["only_in_b", 0.5]
    b = write(tmp_path / "b.csv", b_frame)
    result = runner.invoke(app, ["compare-fit", str(a), str(b), "--counts", str(counts), "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    out = json.loads(result.stdout)
    assert out["difference"] == pytest.approx(3.0) and out["slope_a"] == pytest.approx(5.0)
    assert out["slope_b"] == pytest.approx(2.0) and out["n_concepts"] == 7
    assert out["n_only_b"] == 1 and out["n_only_a"] == 0
    assert out["ci_low"] == pytest.approx(3.0) and out["p_value"] < 0.01
    text = runner.invoke(app, ["compare-fit", str(a), str(b), "--counts", str(counts)])
    assert "difference A - B: 3.000" in text.stdout


def test_same_seed_and_any_row_order_give_identical_json_and_console_script_runs(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"concept": [f"c{i}" for i in range(300)], "accuracy": rng.uniform(0, 1, 300)})
    counts = pd.DataFrame({"concept": frame["concept"], "count": np.floor(10 ** rng.uniform(0, 6, 300))})
    acc, cnt = write(tmp_path / "acc.csv", frame), write(tmp_path / "cnt.csv", counts)
    args = ["fit", "--accuracy", str(acc), "--counts", str(cnt), "--seed", "7", "--json"]
    first = runner.invoke(app, args).stdout
    proc = subprocess.run([sys.executable, "-m", "letitwag_bench", *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == first
    # Row order does not matter: rows are sorted by concept key before the bootstrap.
    write(acc, frame.sample(frac=1, random_state=3))
    assert runner.invoke(app, args).stdout == first
    other_seed = json.loads(runner.invoke(app, [*args[:-3], "--seed", "8", "--json"]).stdout)
    assert other_seed["slope"] == json.loads(first)["slope"]
    assert other_seed["slope_ci_low"] != json.loads(first)["slope_ci_low"]
