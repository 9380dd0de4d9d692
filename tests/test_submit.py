"""`letitwag submit`: a clip_benchmark output goes in and shows up; every malformed file is rejected with a
clear message and leaves the records and the built leaderboard byte-for-byte unchanged."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import clip_benchmark_output, pooled_outputs, small_results, snapshot
from typer.testing import CliRunner

from letitwag_bench.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _build_board(factory: pytest.TempPathFactory, name: str, *args, **kwargs) -> Path:
    """A leaderboard built from `small_results(results, *args, **kwargs)`."""
    folder = factory.mktemp(name) / "lb"
    small_results(folder / "results", *args, **kwargs)
    out = invoke("leaderboard", "build", "--results", folder / "results", "--out", folder)
    assert out.exit_code == 0, out.output
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built leaderboard of four committed Let It Wag! records (built once per module)."""
    return _build_board(tmp_path_factory, "board")


@pytest.fixture
def board(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built leaderboard."""
    return Path(shutil.copytree(built, tmp_path / "lb"))


def submit(board: Path, *files: Path, extra: tuple[str, ...] = ()):
    return invoke("submit", *files, "--results", board / "results", "--out", board, *extra)


def rows(board: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((board / "leaderboard.csv").read_text())))


def test_round_trip_appears_in_rebuilt_leaderboard(board: Path, tmp_path: Path) -> None:
    before = {r["slug"] for r in rows(board)}
    out_json = clip_benchmark_output(tmp_path / "run")
    res = submit(board, out_json, extra=("--display-name", "Tiny test model", "--corpus", "laion400m"))
    assert res.exit_code == 0, res.output
    record = board / "results" / "vit-t-1--tiny_e1" / "letitwag.json"
    assert record.exists()
    after = {r["slug"]: r for r in rows(board)}
    assert set(after) == before | {"vit-t-1--tiny_e1"}
    new = after["vit-t-1--tiny_e1"]
    side = pd.read_csv(out_json.with_name("letitwag_result.concepts.csv"))
    assert float(new["top1"]) == pytest.approx(100 * side["correct"].sum() / side["n"].sum(), abs=1e-4)
    assert new["model"] == "Tiny test model" and new["corpus"] == "laion400m"
    assert "Tiny test model" in (board / "README.md").read_text()
    assert 'data-slug="vit-t-1--tiny_e1"' in (board / "index.html").read_text()
    data = json.loads(record.read_text())
    assert data["provenance"]["kind"] == "submitted" and data["provenance"]["date"]
    # --replace overwrites; without it the same model is a duplicate (tested below).
    again = clip_benchmark_output(tmp_path / "run2", seed=1)
    assert submit(board, again, extra=("--replace",)).exit_code == 0
    assert json.loads(record.read_text())["results"] != data["results"]


def _edit_json(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    return apply


def _edit_sidecar(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        side = path.with_name(path.name.replace(".json", ".concepts.csv"))
        change(pd.read_csv(side, keep_default_na=False)).to_csv(side, index=False)
    return apply


def _set_row(col: str, value: object, row: int = 3) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df[col] = df[col].astype(object)
        df.loc[row, col] = value
        if col == "accuracy" and "correct" in df:
            df = df.drop(columns="correct")  # so that the range check, not the correct/n check, fires
        return df
    return change


def _unlink_sidecar(path: Path) -> None:
    path.with_name(path.name.replace(".json", ".concepts.csv")).unlink()


MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "bad JSON": (lambda p: p.write_text(p.read_text()[:-20]), "not valid JSON"),
    "not an object": (lambda p: p.write_text("[1, 2]"), "expected a JSON object"),
    "missing key": (_edit_json(lambda d: d.pop("pretrained")), "missing key(s) ['pretrained']"),
    "metrics not an object": (_edit_json(lambda d: d.update(metrics=[1])), "field 'metrics' must be an object"),
    "../ in model name": (_edit_json(lambda d: d.update(model="../../etc")), "is not a safe name"),
    "space in model name": (_edit_json(lambda d: d.update(model="ViT B")), "is not a safe name"),
    "missing sidecar": (_unlink_sidecar, "per-concept sidecar not found"),
    "sidecar column missing": (_edit_sidecar(lambda df: df.drop(columns="accuracy")), "missing column(s) ['accuracy']"),
    "accuracy 1.5": (_edit_sidecar(_set_row("accuracy", 1.5)), "accuracy must be a finite fraction in [0, 1]"),
    "accuracy negative": (_edit_sidecar(_set_row("accuracy", -0.1)), "accuracy must be a finite fraction"),
    "accuracy NaN": (_edit_sidecar(_set_row("accuracy", "nan")), "is not a finite number"),
    "accuracy text": (_edit_sidecar(_set_row("accuracy", "high")), "is not a finite number"),
    "n zero": (_edit_sidecar(lambda df: df.assign(n=0, correct=0, accuracy=0.0)), "n must be a positive integer"),
    "accuracy not correct/n": (_edit_sidecar(lambda df: df.assign(correct=df["correct"] // 2)), "is not correct/n"),
    "unknown concept": (_edit_sidecar(_set_row("concept", "not a let it wag class")), "not in benchmark 'letitwag'"),
    "missing concepts": (_edit_sidecar(lambda df: df.iloc[:-5]), "5 of the benchmark's 290 concepts are missing"),
    "duplicate concept row": (_edit_sidecar(lambda df: pd.concat([df, df.iloc[:1]])), "appears more than once"),
    "unknown dataset": (_edit_sidecar(lambda df: df.assign(dataset="mnist")), "belong to no single benchmark"),
    "empty sidecar": (_edit_sidecar(lambda df: df.iloc[:0]), "no rows"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_submission_is_rejected_and_changes_nothing(kind: str, board: Path, tmp_path: Path) -> None:
    corrupt, message = MALFORMED[kind]
    path = clip_benchmark_output(tmp_path / "run")
    corrupt(path)
    before = snapshot(board)
    res = submit(board, path)
    assert res.exit_code == 2, res.output
    assert message in res.output, res.output
    assert "letitwag_result." in res.output  # the message names the file (JSON or its sidecar)
    assert res.output.startswith("error: ") and "Traceback" not in res.output
    assert snapshot(board) == before


def test_duplicate_without_replace_is_rejected(board: Path, tmp_path: Path) -> None:
    assert submit(board, clip_benchmark_output(tmp_path / "a")).exit_code == 0
    before = snapshot(board)
    res = submit(board, clip_benchmark_output(tmp_path / "b", seed=3))
    assert res.exit_code == 2
    assert "already exists; pass --replace" in res.output
    assert snapshot(board) == before


def test_bad_record_in_results_folder_is_reported_by_build(board: Path) -> None:
    bad = board / "results" / "vit-b-32--openai" / "letitwag.json"
    bad.write_text(bad.read_text().replace('"kind": "imported"', '"kind": "guessed"'))
    before = snapshot(board)
    res = invoke("leaderboard", "build", "--results", board / "results", "--out", board)
    assert res.exit_code == 2
    assert "vit-b-32--openai/letitwag.json" in res.output and "provenance.kind" in res.output
    assert snapshot(board) == before


def test_classification_outputs_merge_into_one_concepts_record(board: Path, tmp_path: Path) -> None:
    from letitwag_bench.leaderboard import BENCHMARKS

    classes = BENCHMARKS["concepts"].classes()
    rng = np.random.default_rng(0)
    files = []
    for dataset, group in classes.groupby("dataset"):
        folder = tmp_path / "runs"
        folder.mkdir(exist_ok=True)
        out = folder / f"{dataset}.json"
        out.write_text(json.dumps({"dataset": dataset, "model": "ViT-T-1", "pretrained": "tiny_e1",
                                   "task": "zeroshot_classification", "metrics": {"acc1": 0.5}}))
        correct = rng.integers(0, 11, len(group))
        group.assign(n=10, correct=correct, accuracy=correct / 10).to_csv(folder / f"{dataset}.concepts.csv",
                                                                         index=False)
        files.append(out)
    partial = submit(board, *files[:-1])
    assert partial.exit_code == 2 and "missing dataset(s): ucf101" in partial.output, partial.output
    res = submit(board, *files)
    assert res.exit_code == 0, res.output
    record = json.loads((board / "results" / "vit-t-1--tiny_e1" / "concepts.json").read_text())
    assert sorted(record["results"]) == sorted(classes["dataset"].unique())
    assert sum(len(v) for v in record["results"].values()) == len(classes)
    assert any(r["benchmark"] == "concepts" for r in rows(board))


def _lm_eval_run(folder: Path, task: str, concepts: pd.DataFrame, seed: int = 0) -> Path:
    """lm-eval output as `lm_eval --log_samples` writes it (results + one samples file), for `task`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results_2026-01-01T00-00-00.json"
    results.write_text(json.dumps({
        "results": {task: {"acc,none": 0.5}}, "configs": {task: {}}, "versions": {task: 1},
        "config": {"model": "hf-multimodal", "model_args": "pretrained=org/tiny-vlm"}, "model_name": "org/tiny-vlm",
        "lm_eval_version": "0.4.13"}))
    with open(folder / f"samples_{task}_2026-01-01T00-00-00.jsonl", "w") as f:
        for row in concepts.itertuples(index=False):
            for _ in range(3):  # three documents per concept
                doc = {"concept": row.concept, "class_name": row.class_name, "dataset": "letitwag", "count": 5}
                f.write(json.dumps({"doc": doc, "acc": {**doc, "correct": int(rng.integers(0, 2))}}) + "\n")
    return results


def test_lm_eval_vlm_results_are_submitted_to_their_own_board(board: Path, tmp_path: Path) -> None:
    from letitwag_bench.counts import letitwag_classes

    results = _lm_eval_run(tmp_path / "lm", "letitwag_vlm", letitwag_classes())
    res = submit(board, results)
    assert res.exit_code == 0, res.output
    record = json.loads((board / "results" / "org-tiny-vlm--hf-multimodal" / "letitwag_vlm.json").read_text())
    assert record["harness"]["name"] == "lm-eval" and sum(len(v) for v in record["results"].values()) == 290
    assert {r[1] for r in record["results"]["letitwag"]} == {3}  # n = documents per concept
    got = [r for r in rows(board) if r["benchmark"] == "letitwag_vlm"]
    assert [r["slug"] for r in got] == ["org-tiny-vlm--hf-multimodal"]
    assert {r["benchmark"] for r in rows(board)} == {"letitwag", "letitwag_vlm"}  # CLIP board unchanged


def test_lm_eval_partial_or_unboarded_runs_are_rejected(board: Path, tmp_path: Path) -> None:
    from letitwag_bench.counts import letitwag_classes

    before = snapshot(board)
    partial = submit(board, _lm_eval_run(tmp_path / "a", "letitwag_vlm", letitwag_classes().iloc[:50]))
    assert partial.exit_code == 2 and "240 of the benchmark's 290 concepts are missing" in partial.output
    probe = submit(board, _lm_eval_run(tmp_path / "b", "letitwag_concepts_lm", letitwag_classes()))
    assert probe.exit_code == 2 and "benchmark 'letitwag_concepts_lm' has no leaderboard" in probe.output
    assert snapshot(board) == before


# -- the pooled clip_benchmark board (concepts_cb) -------------------------------------------------------------

PAPER_CB = ("vit-b-32--laion400m_e32", "rn50--cc3m", "vit-l-14--laion2b_s32b_b82k")


@pytest.fixture(scope="module")
def cb_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built leaderboard of three imported paper models on concepts_cb."""
    return _build_board(tmp_path_factory, "cb", PAPER_CB, benchmark="concepts_cb")


@pytest.fixture
def cb_board(cb_built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(cb_built, tmp_path / "lb"))


@pytest.fixture(scope="module")
def cb_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return pooled_outputs(tmp_path_factory.mktemp("cb_runs"))


def test_pooled_clip_benchmark_run_is_ranked_with_the_paper_models(cb_board: Path, cb_runs: list[Path]) -> None:
    from letitwag_bench.leaderboard import BENCHMARKS

    res = submit(cb_board, *cb_runs, extra=("--display-name", "Tiny pooled model"))
    assert res.exit_code == 0, res.output
    record = json.loads((cb_board / "results" / "vit-t-1--tiny_e1" / "concepts_cb.json").read_text())
    assert record["benchmark"]["id"] == "concepts_cb"
    board = [r for r in rows(cb_board) if r["benchmark"] == "concepts_cb"]
    assert sorted(r["slug"] for r in board) == sorted([*PAPER_CB, "vit-t-1--tiny_e1"])
    new = next(r for r in board if r["slug"] == "vit-t-1--tiny_e1")
    assert int(new["n_classes"]) == len(BENCHMARKS["concepts_cb"].classes()) == 2656
    # top-1 is over the sidecars' rows minus caltech101's `background` (on no board: no count, no paper value)
    side = pd.concat(pd.read_csv(p.with_name(p.name.replace(".json", ".concepts.csv")), keep_default_na=False)
                     for p in cb_runs)
    side = side[~((side["dataset"] == "caltech101") & (side["concept"] == "background"))]
    assert float(new["top1"]) == pytest.approx(100 * side["correct"].sum() / side["n"].sum(), abs=1e-4)
    imagenet = side[side["dataset"] == "imagenet"]
    assert float(new["imagenet_top1"]) == pytest.approx(100 * imagenet["correct"].sum() / imagenet["n"].sum(),
                                                        abs=1e-4)
    assert "Tiny pooled model" in (cb_board / "README.md").read_text()


def test_pooled_run_missing_a_dataset_is_rejected(cb_board: Path, cb_runs: list[Path]) -> None:
    before = snapshot(cb_board)
    res = submit(cb_board, *[p for p in cb_runs if "_eurosat_" not in p.name])
    assert res.exit_code == 2, res.output
    assert "benchmark 'concepts_cb' needs results for all its datasets; missing dataset(s): eurosat" in res.output
    assert "clip_benchmark eval --dataset letitwag/eurosat" in res.output
    assert snapshot(cb_board) == before
    one = submit(cb_board, *[p for p in cb_runs if "_imagenet1k_" in p.name])  # a lone ImageNet run: same board
    assert one.exit_code == 2 and "missing dataset(s): caltech101, country211, eurosat" in one.output, one.output
    assert snapshot(cb_board) == before


def test_pooled_run_with_wrong_source_dataset_is_rejected(cb_board: Path, cb_runs: list[Path],
                                                          tmp_path: Path) -> None:
    """An imagenetv2 run writes dataset `imagenet` rows too; it must not stand in for imagenet1k."""
    files = []
    for p in cb_runs:
        files.append(Path(shutil.copy(p, tmp_path / p.name)))
        side = p.with_name(p.name.replace(".json", ".concepts.csv"))
        shutil.copy(side, tmp_path / side.name)
    v2 = next(p for p in files if "_imagenet1k_" in p.name)
    _edit_json(lambda d: d.update(dataset="letitwag/imagenetv2"))(v2)
    before = snapshot(cb_board)
    res = submit(cb_board, *files)
    assert res.exit_code == 2 and "field 'dataset' is 'letitwag/imagenetv2'" in res.output, res.output
    assert v2.name in res.output
    assert snapshot(cb_board) == before
