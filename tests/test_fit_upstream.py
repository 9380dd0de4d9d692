"""The fit on the paper's released per-class results (skipped where the release is not beside the checkout)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from typer.testing import CliRunner

from letitwag_bench.cli import app

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("upstream_class_accuracy",
                                                  REPO / "scripts" / "upstream_class_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vitb32_laion400m_pooled_fit(upstream, tmp_path):
    pooled = _script().class_accuracy(upstream, "backboneViT-B-32_pretrainedlaion400m")
    assert len(pooled) == 4669 and pooled["dataset"].nunique() == 19
    assert pooled["accuracy"].between(0, 1).all()
    path = tmp_path / "vitb32.csv"
    pooled.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["fit", "--accuracy", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["counts_dataset"] == "per-row" and out["counts_corpus"] == "laion400m"
    assert out["n_concepts"] + out["n_missing_counts"] == 4669
    # The paper's finding: accuracy rises with log frequency, and the binned curve is close to a line.
    assert 0 < out["slope_ci_low"] < out["slope"] < out["slope_ci_high"]
    assert out["binned_r"] > 0.9 and out["pearson_r"] > 0
