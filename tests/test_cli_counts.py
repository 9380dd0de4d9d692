"""The `letitwag` command line, run as users run it: the installed console script in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from letitwag_bench.counts import load_counts


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # `python -m letitwag_bench` is the console script's twin; it needs no PATH set-up in tests.
    return subprocess.run([sys.executable, "-m", "letitwag_bench", *args], capture_output=True, text=True,
                          timeout=120)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_show_letitwag_csv_has_290_rows() -> None:
    out = run("counts", "show", "--dataset", "letitwag", "--corpus", "laion400m", "--method", "matched",
              "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = csv_rows(out.stdout)
    assert len(rows) == 290
    assert list(rows[0]) == ["class_name", "concept", "count", "note"]
    counts = load_counts().concept_counts("laion400m", "matched", dataset="letitwag")
    assert all(int(r["count"]) == counts[r["concept"]] for r in rows)


def test_show_imagenet_has_1000_rows_and_json() -> None:
    out = run("counts", "show", "--dataset", "imagenet", "--corpus", "laion400m", "--method", "matched",
              "--format", "csv")
    assert len(csv_rows(out.stdout)) == 1000
    out = run("counts", "show", "--dataset", "cifar10", "--corpus", "cc3m", "--method", "text", "--format", "json")
    rows = json.loads(out.stdout)
    assert len(rows) == 10 and {r["concept"] for r in rows} >= {"airplane", "dog"}


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["--dataset", "nope"], "valid datasets: birdsnap"),
        (["--dataset", "imagenet", "--corpus", "nope"], "valid corpora: cc12m"),
        (["--dataset", "imagenet", "--method", "nope"], "valid methods: integrated_tlemmatized_i0.5"),
    ],
)
def test_unknown_names_exit_2_with_valid_list(args: list[str], listed: str) -> None:
    out = run("counts", "show", *args)
    assert out.returncode == 2
    assert listed in out.stderr and "Traceback" not in out.stderr


def test_export_then_read_back(tmp_path: Path) -> None:
    out = run("counts", "export", str(tmp_path / "hf"))
    assert out.returncode == 0, out.stderr
    back = run("counts", "show", "--dataset", "dtd", "--counts", str(tmp_path / "hf"), "--format", "csv")
    ref = run("counts", "show", "--dataset", "dtd", "--format", "csv")
    assert back.stdout == ref.stdout and len(csv_rows(back.stdout)) == 47


@pytest.mark.parametrize("command", [[], ["counts"], ["counts", "show"], ["counts", "export"], ["counts", "list"]])
def test_help_says_what_it_does(command: list[str]) -> None:
    out = run(*command, "--help")
    assert out.returncode == 0
    assert len(out.stdout) > 200 and ("counts" in out.stdout.lower())
