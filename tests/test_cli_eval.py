"""`letitwag eval`: several models over one local Let It Wag!-shaped parquet, offline, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_clip import save_tiny_clip, synthetic_jpegs, write_letitwag_parquet
from typer.testing import CliRunner

from letitwag_bench.cli import app
from letitwag_bench.concepts import concept_key, strip_domain_suffix
from letitwag_bench.counts import METHOD_ALIASES, letitwag_classes, load_counts
from letitwag_bench.fasteval import ImageSource, open_source
from letitwag_bench.fasteval.source import SourceError

pytest.importorskip("letitwag_bench.stats")

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, list[str]]:
    """16 real Let It Wag! classes, hosted-style names (some with the domain suffix), 4 images each,
    split over two parquet files as the Hub's shards are."""
    classes = letitwag_classes()["class_name"].tolist()[::18][:16]
    hosted = [f"{c}_bird" if i % 3 == 0 else c for i, c in enumerate(classes)]
    datas, labels = synthetic_jpegs(64, 16, seed=11, size=(120, 90))
    root = tmp_path_factory.mktemp("letitwag")
    write_letitwag_parquet(root / "data" / "test-00000-of-00002.parquet", datas[:40], labels[:40], hosted)
    write_letitwag_parquet(root / "data" / "test-00001-of-00002.parquet", datas[40:], labels[40:], hosted)
    return root, hosted


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> list[str]:
    base = tmp_path_factory.mktemp("models")
    return [save_tiny_clip(base / "m1", seed=1), save_tiny_clip(base / "m2", seed=2),
            save_tiny_clip(base / "m3", seed=3, image_size=96)]


def test_eval_three_models_writes_clip_benchmark_results_and_sidecars(dataset, models, tmp_path):
    root, hosted = dataset
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", "--models", models[0], f"{models[1]},laion400m_e32", models[2],
                                 "--dataset-root", str(root), "--output", str(out), "--device", "cpu",
                                 "--batch-size", "24", "--no-amp"])
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.json"))
    assert len(files) == 3
    counts = load_counts("bundled").concept_counts("laion400m", "matched", dataset="letitwag")
    for path in files:
        dump = json.loads(path.read_text())
        assert {"dataset", "model", "pretrained", "task", "metrics", "language"} <= dump.keys()
        assert dump["dataset"] == "letitwag" and dump["task"] == "zeroshot_classification"
        metrics = dump["metrics"]
        for key in ("acc1", "acc5", "mean_per_class_recall", "slope", "slope_ci_low", "slope_ci_high",
                    "intercept", "pearson_r", "spearman_rho", "binned_r", "tail_accuracy", "head_accuracy",
                    "n_concepts", "n_zero_count", "counts_source", "counts_revision", "counts_corpus",
                    "counts_method", "counts_corpus_is_proxy"):
            assert key in metrics, key
        sidecar = pd.read_csv(path.with_name(path.name.replace(".json", ".concepts.csv")))
        assert list(sidecar.columns) == ["concept", "class_name", "dataset", "n", "correct", "accuracy", "count"]
        assert sidecar["n"].sum() == 64 and len(sidecar) == 16
        assert metrics["acc1"] == pytest.approx(sidecar["correct"].sum() / sidecar["n"].sum())
        np.testing.assert_allclose(sidecar["accuracy"], sidecar["correct"] / sidecar["n"])
        # the sidecar joins to the bundled counts through the concept key (domain suffix stripped)
        assert set(sidecar["concept"]) == {concept_key(h, letitwag_label=True) for h in hosted}
        joined = sidecar.set_index("concept")["count"]
        for concept, count in joined.dropna().items():
            assert count == counts[concept]
        assert metrics["n_concepts"] == joined.notna().sum()
        # the same record as the clip_benchmark glue writes: upstream method name, class names unsuffixed
        assert metrics["counts_method"] == METHOD_ALIASES["matched"] and metrics["counts_dataset"] == "letitwag"
        assert sorted(sidecar["class_name"]) == sorted(strip_domain_suffix(h) for h in hosted)
    by_pretrained = {json.loads(p.read_text())["pretrained"]: json.loads(p.read_text())["metrics"] for p in files}
    assert by_pretrained["laion400m_e32"]["counts_corpus_is_proxy"] is False
    assert by_pretrained[""]["counts_corpus_is_proxy"] is True
    assert "64 images on cpu" in result.output


def test_eval_reports_undecodable_image_by_row(models, tmp_path):
    datas, labels = synthetic_jpegs(10, 2, size=(64, 48))
    datas[6] = b"not an image at all"
    write_letitwag_parquet(tmp_path / "test.parquet", datas, labels, ["guenon", "Vizsla"])
    result = runner.invoke(app, ["eval", "--models", models[0], "--dataset-root", str(tmp_path),
                                 "--output", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 2
    assert "row 6: image bytes cannot be decoded" in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_eval_bad_dataset_root_is_a_clear_error(models, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["eval", "--models", models[0], "--dataset-root", str(tmp_path / "empty"),
                                 "--device", "cpu"])
    assert result.exit_code == 2
    assert "no parquet files and no class folders" in result.output


def test_source_rejects_parquet_without_class_names(tmp_path):
    pd.DataFrame({"image": [{"bytes": b"x", "path": None}], "label": [0]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(SourceError, match=r"t\.parquet: column 'label' is not a ClassLabel"):
        open_source(tmp_path)


def test_source_reads_class_folders_in_sorted_order(tmp_path):
    datas, _ = synthetic_jpegs(3, 1, size=(32, 32))
    for cls, data in zip(["b_class", "a_class", "b_class"], datas, strict=True):
        (tmp_path / cls).mkdir(exist_ok=True)
        (tmp_path / cls / f"{len(list((tmp_path / cls).iterdir()))}.jpg").write_bytes(data)
    source = open_source(tmp_path)
    assert source.class_names == ["a_class", "b_class"] and source.n_rows == 3
    chunks = list(source.chunks(2))
    assert [len(c.data) for c in chunks] == [2, 1]
    assert np.concatenate([c.labels for c in chunks]).tolist() == [0, 1, 1]
    assert np.concatenate([c.rows for c in chunks]).tolist() == [0, 1, 2]


def test_source_from_loaded_dataset_matches_parquet_source(dataset):
    import datasets

    root, hosted = dataset
    files = sorted(str(p) for p in root.rglob("*.parquet"))
    ds = datasets.load_dataset("parquet", data_files={"test": files}, split="test")
    from_ds = ImageSource.from_dataset(ds)
    from_files = open_source(root)
    assert from_ds.class_names == from_files.class_names == hosted and from_ds.n_rows == 64
    a, b = list(from_ds.chunks(24)), list(from_files.chunks(24))
    assert [c.data for c in a] == [c.data for c in b]
    assert np.array_equal(np.concatenate([c.labels for c in a]), np.concatenate([c.labels for c in b]))


def test_eval_rejects_unknown_decode_and_duplicate_models(models, tmp_path):
    bad = runner.invoke(app, ["eval", "--models", models[0], "--dataset-root", str(tmp_path), "--decode", "gpu"])
    assert bad.exit_code == 2 and "--decode" in bad.output
    twice = runner.invoke(app, ["eval", "--models", models[0], models[0], "--dataset-root", str(tmp_path)])
    assert twice.exit_code == 2 and "given twice" in twice.output
