"""`letitwag counts ...`: inspect and export the concept-frequency table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from letitwag_bench.cli._common import Format, print_frame, user_errors
from letitwag_bench.counts import export_dataset, load_counts

app = typer.Typer(help="Inspect and export the concept-frequency counts table.", no_args_is_help=True)

CountsOption = Annotated[
    str,
    typer.Option(
        "--counts", help="Counts source: 'bundled', a Hugging Face dataset ORG/NAME[@rev], or a local file/folder."
    ),
]


@app.command()
def show(
    dataset: Annotated[str, typer.Option(help="Dataset whose classes to list, e.g. letitwag, imagenet.")],
    corpus: Annotated[str, typer.Option(help="Pretraining corpus, e.g. laion400m.")] = "laion400m",
    method: Annotated[str, typer.Option(help="Count method: matched, text, image, or an upstream name.")] = "matched",
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    source: CountsOption = "bundled",
) -> None:
    """Print one row per class of DATASET with its concept key and count (unmatched classes have none)."""
    with user_errors():
        frame = load_counts(source).show(dataset, corpus, method)
    print_frame(frame, fmt)


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="Folder to write (data/counts.parquet + README.md card).")],
    source: CountsOption = "bundled",
) -> None:
    """Write the counts as a Hugging Face-ready dataset folder that `datasets.load_dataset(FOLDER)` reads."""
    with user_errors():
        table = load_counts(source)
        export_dataset(table, folder)
    typer.echo(f"wrote {len(table.frame)} rows to {folder} (revision {table.revision}, digest {table.digest})")


@app.command("list")
def list_names(source: CountsOption = "bundled") -> None:
    """List the datasets, corpora and methods in a counts source, and its revision."""
    with user_errors():
        table = load_counts(source)
    typer.echo(f"source: {table.source}\nrevision: {table.revision}\ndigest: {table.digest}")
    typer.echo(f"datasets: {', '.join(table.datasets())}")
    for corpus in table.corpora():
        typer.echo(f"{corpus}: {', '.join(table.methods(corpus=corpus))}")
