"""Validation suite for the committed `leaderboards/` folder (runs in CI, like MTEB's results-repo tests):
every record parses against the schema, folders are slugs, no duplicates, values in range, provenance
present, and the committed built files equal a fresh build byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from leaderboard_fixtures import COMMITTED, snapshot

from letitwag_bench import leaderboard as lb
from letitwag_bench.concepts import concept_key
from letitwag_bench.counts import UPSTREAM_COMMIT
from letitwag_bench.records import iter_record_paths, load_records, read_record

RESULTS = COMMITTED / "results"


@pytest.fixture(scope="module")
def records():
    return load_records(RESULTS)  # raises on any schema, slug or file-name mismatch


def test_every_file_is_a_record(records) -> None:
    files = sorted(p for p in RESULTS.rglob("*") if p.is_file())
    assert files == iter_record_paths(RESULTS), "results/ may only hold <slug>/<benchmark>.json files"
    assert len(records) == len(files) > 0


def test_records_are_complete_and_unique(records) -> None:
    lb.validate_records(records, where=str(RESULTS))  # known benchmark, version, full concept set, no dupes
    slugs = [p.parent.name for p in iter_record_paths(RESULTS)]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._+-]*", s) for s in slugs)


def test_values_in_range_and_provenance(records) -> None:
    for rec in records:
        acc, n = rec.results.accuracy, rec.results.n
        assert ((acc >= 0) & (acc <= 1)).all(), rec.relpath()
        assert ((n > 0) | (n != n)).all(), rec.relpath()
        assert rec.provenance.description
        if rec.provenance.kind == "imported":
            assert UPSTREAM_COMMIT in rec.provenance.description
        else:
            assert rec.provenance.date and rec.provenance.packages and rec.provenance.command


def test_files_are_canonical(records) -> None:
    """Committed records are in the canonical layout, so re-writing them changes nothing."""
    for path in iter_record_paths(RESULTS):
        assert read_record(path).to_json() == path.read_text(encoding="utf-8"), path


def test_paper_release_is_complete(records) -> None:
    per_bench: dict[str, int] = {}
    for rec in records:
        per_bench[rec.benchmark.id] = per_bench.get(rec.benchmark.id, 0) + 1
    assert per_bench["letitwag"] >= 40 and per_bench["concepts"] >= 21 and per_bench["retrieval"] >= 21
    assert per_bench["concepts_cb"] >= 21


def test_letitwag_top1_equals_paper_full(upstream: Path) -> None:
    """Acceptance: the built table shows, for each of the 40 released models, the paper's `full` top-1."""
    release = json.loads((upstream / "let_it_wag_datasets/evaluations/let_it_wag_ensemble_results.json").read_text())
    shown = {r["slug"]: r["top1"] for r in json.loads((COMMITTED / "leaderboard.json").read_text())
             ["benchmarks"]["letitwag"]["models"]}
    imported = {p.parent.name: _pct(read_record(p)) for p in RESULTS.glob("*/letitwag.json")
                if read_record(p).provenance.kind == "imported"}
    by_full = {}
    for entry in release.values():
        pct = {concept_key(c): v for c, v in entry["classwise"].items()}
        # the record holding these per-class numbers (stored to 1e-6 as fractions = 1e-4 points)
        slug = next(s for s, mine in imported.items()
                    if mine.keys() == pct.keys() and all(abs(mine[c] - v) < 1e-3 for c, v in pct.items()))
        by_full[slug] = entry["full"]
    assert len(by_full) == 40
    for slug, full in by_full.items():
        assert shown[slug] == pytest.approx(full, abs=0.01), slug


def _pct(rec) -> dict[str, float]:
    return {c: 100 * a for c, a in zip(rec.results.concept, rec.results.accuracy, strict=True)}


def _differing(mine: dict[str, float], paper: dict[str, float]) -> list[str]:
    return [c for c in mine if c not in paper or abs(mine[c] - paper[c]) > 1e-3]


@pytest.mark.parametrize("dataset", ["caltech101", "country211", "eurosat", "flowers102", "imagenet-r",
                                     "oxfordpets", "imagenet"])
def test_concepts_cb_per_dataset_top1_equals_paper(upstream: Path, records, dataset: str) -> None:
    """Each of the 21 imported models on concepts_cb: a dataset's top-1 (mean per-class accuracy) is the one of
    the paper's released per-class numbers. ImageNet, where CLIP's names give two pairs of classes one concept
    each: every other class keeps its value, and each merged concept is the mean of its two classes."""
    release = json.loads((upstream / f"zero_shot_evaluations/{dataset}_ensemble_results.json").read_text())
    mine = {}
    for rec in records:
        if rec.benchmark.id == "concepts_cb" and rec.provenance.kind == "imported":
            here = rec.results.dataset == dataset
            mine[rec.slug] = dict(zip(rec.results.concept[here], 100 * rec.results.accuracy[here], strict=True))
    assert len(mine) == len(release) == 21
    matched = set()
    for key, entry in release.items():
        pct = {concept_key(c): v for c, v in entry["classwise"].items()}
        slug = min(mine, key=lambda s: len(_differing(mine[s], pct)))  # the record holding this model's numbers
        matched.add(slug)
        diff, extra = _differing(mine[slug], pct), sorted(set(pct) - set(mine[slug]))
        if dataset == "imagenet":
            assert sorted(diff) == ["missile", "sunglasses"] and extra == ["projectile", "sunglass"], key
            for merged, other in zip(sorted(diff), extra, strict=True):
                assert mine[slug][merged] == pytest.approx((pct[merged] + pct[other]) / 2, abs=1e-3), key
            continue
        assert diff == [] and extra == [], key
        assert lb.top1(np.array(list(mine[slug].values())) / 100, np.full(len(pct), np.nan)) == pytest.approx(
            float(np.mean(list(pct.values()))), abs=0.01), key
    assert len(matched) == 21


@pytest.mark.slow
def test_committed_build_equals_fresh_build(tmp_path: Path) -> None:
    lb.build(RESULTS, tmp_path)
    fresh = snapshot(tmp_path)
    committed = {k: v for k, v in snapshot(COMMITTED).items() if not k.startswith("results/")}
    built_with = re.search(r"matplotlib (\S+)</dc:title>", (COMMITTED / "plots/letitwag_slopes.svg").read_text())
    if built_with is None or built_with.group(1) != matplotlib.__version__:
        # Plot bytes depend on the matplotlib version; the numbers, tables and page must still match.
        fresh = {k: v for k, v in fresh.items() if not k.startswith("plots/")}
        committed = {k: v for k, v in committed.items() if not k.startswith("plots/")}
    assert fresh == committed, "leaderboards/ is stale: run `letitwag leaderboard build` and commit the result"


@pytest.mark.parametrize(("bench_id", "slug"), [("letitwag", "vit-b-32--laion400m_e32"), ("concepts", "rn50--cc3m"),
                                               ("concepts_cb", "vit-b-32--laion400m_e32")])
def test_fit_cli_reproduces_the_published_numbers(tmp_path: Path, bench_id: str, slug: str) -> None:
    """Every leaderboard number can be traced: `letitwag fit` on the record's per-concept table, with the
    benchmark's counts, seed and resamples, gives the published slope and interval."""
    import json

    from typer.testing import CliRunner

    from letitwag_bench.cli import app
    from letitwag_bench.records import read_record

    repo = Path(__file__).resolve().parents[1] / "leaderboards"
    board = json.loads((repo / "leaderboard.json").read_text())["benchmarks"][bench_id]
    row = next(m for m in board["models"] if m["slug"] == slug)
    table = read_record(repo / "results" / slug / f"{bench_id}.json").results.frame()
    path = tmp_path / "acc.csv"
    table[["dataset", "concept", "accuracy"]].to_csv(path, index=False)
    out = CliRunner().invoke(app, ["fit", "--accuracy", str(path), "--corpus", board["corpus"], "--method",
                                   board["method"], "--seed", str(board["seed"]), "--bootstrap",
                                   str(board["n_bootstrap"]), "--json"])
    assert out.exit_code == 0, out.output
    fit = json.loads(out.stdout)
    for key in ("slope", "slope_ci_low", "slope_ci_high", "intercept", "binned_r", "binned_r_trimmed"):
        assert round(fit[key], 4) == row[key], key
