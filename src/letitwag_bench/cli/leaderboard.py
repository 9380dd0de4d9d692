"""`letitwag leaderboard build|push`, `letitwag submit` and `letitwag compare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from letitwag_bench import leaderboard as lb
from letitwag_bench.cli._common import user_errors
from letitwag_bench.records import RecordError
from letitwag_bench.stats import StatsError

app = typer.Typer(help="Build and publish the scaling-slope leaderboards.", no_args_is_help=True)

ResultsOption = Annotated[Path, typer.Option("--results", help="Folder of result records <slug>/<benchmark>.json.")]
OutOption = Annotated[Path, typer.Option("--out", help="Folder to write the leaderboard files into.")]
CountsOption = Annotated[str, typer.Option("--counts", help="Counts source (default: the bundled snapshot).")]
DEFAULT_OUT = Path("leaderboards")
DEFAULT_RESULTS = DEFAULT_OUT / "results"


@app.command()
def build(results: ResultsOption = DEFAULT_RESULTS, out: OutOption = DEFAULT_OUT,
          counts: CountsOption = "bundled") -> None:
    """Fit every record and write README.md, leaderboard.csv/.json, index.html and plots/ (same inputs, same bytes)."""
    with user_errors(RecordError, StatsError):
        written = lb.build(results, out, counts_source=counts)
    typer.echo(f"wrote {len(written)} files to {out}: {', '.join(p.name for p in written)}")


@app.command()
def push(
    repo_id: Annotated[str, typer.Option("--repo-id", help="Hugging Face dataset to upload to, ORG/NAME.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only write the folder that would be uploaded.")] = False,
    staging: Annotated[Path, typer.Option("--staging", help="Where --dry-run writes the upload folder.")] = Path(
        "leaderboard-hf"),
    out: OutOption = DEFAULT_OUT,
) -> None:
    """Publish the records and built tables as a Hugging Face dataset (run `leaderboard build` first)."""
    from letitwag_bench.publish import push as do_push
    from letitwag_bench.publish import stage

    with user_errors(RecordError):
        if dry_run:
            folder = stage(out, staging, repo_id=repo_id)
            typer.echo(f"dry run: wrote the upload folder for {repo_id} to {folder} (nothing uploaded)")
            return
        url = do_push(out, repo_id=repo_id)
    typer.echo(f"uploaded to {url}")


def submit(
    files: Annotated[list[Path], typer.Argument(
        help="clip_benchmark output .json files (with .concepts.csv sidecars).")],
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an existing record of the same model.")] = False,
    display_name: Annotated[str | None, typer.Option(help="Name shown on the leaderboard.")] = None,
    corpus: Annotated[str, typer.Option(help="The model's pretraining corpus, e.g. laion2b.")] = "unknown",
    url: Annotated[str | None, typer.Option(help="Model homepage or checkpoint URL.")] = None,
    release_date: Annotated[str | None, typer.Option(help="YYYY[-MM[-DD]].")] = None,
    params: Annotated[int | None, typer.Option(help="Parameter count.")] = None,
    results: ResultsOption = DEFAULT_RESULTS,
    out: OutOption = DEFAULT_OUT,
    counts: CountsOption = "bundled",
) -> None:
    """Turn harness outputs into result records, validate them, write them and rebuild the leaderboard."""
    from letitwag_bench.submit import submit as do_submit

    with user_errors(RecordError, StatsError):
        written = do_submit(files, results_dir=results, out_dir=out, replace=replace, counts_source=counts,
                            display_name=display_name, corpus=corpus, url=url, release_date=release_date,
                            params=params)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"rebuilt the leaderboard in {out}; commit {results} and {out} and open a pull request")


def compare(
    model_a: Annotated[str, typer.Argument(help="Model slug (folder name under results/).")],
    model_b: Annotated[str, typer.Argument(help="Model slug to compare against.")],
    benchmark: Annotated[str, typer.Option(help="Benchmark id: letitwag, concepts or retrieval.")] = "letitwag",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Overlay plot to write (default compare-A-vs-B-BENCH.svg).")] = None,
    results: ResultsOption = DEFAULT_RESULTS,
    counts: CountsOption = "bundled",
) -> None:
    """Paired bootstrap comparison of two models' slopes on their shared concepts, top-1 difference and an
    overlay plot of both curves."""
    from letitwag_bench.compare import compare_models

    with user_errors(RecordError, StatsError):
        plot = plot or Path(f"compare-{model_a}-vs-{model_b}-{benchmark}.svg")
        result = compare_models(results, model_a, model_b, benchmark, plot=plot, counts_source=counts)
    if as_json:
        typer.echo(json.dumps(result, indent=1, sort_keys=True))
        return
    typer.echo(f"{benchmark}: {model_a} vs {model_b} on {result['n_concepts']} shared concepts")
    typer.echo(f"slope {result['slope_a']:.2f} vs {result['slope_b']:.2f} pp per 10x: difference "
               f"{result['slope_difference']:+.2f} [{result['ci_low']:+.2f}, {result['ci_high']:+.2f}] "
               f"({result['ci_level']:.0%} paired bootstrap), p = {result['p_value']:.3g}")
    typer.echo(f"top-1 {result['top1_a']:.2f} vs {result['top1_b']:.2f}: "
               f"difference {result['top1_difference']:+.2f} pp")
    typer.echo(f"overlay plot: {result['plot']}")
