"""`letitwag counts ...`: inspect, export and build (count in a caption corpus) the concept-frequency table."""

from __future__ import annotations

from enum import Enum
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


class Engine(str, Enum):
    local = "local"
    spark = "spark"


class TextMethod(str, Enum):
    lemmatized = "lemmatized"
    lowercased = "lowercased"


@app.command()
def build(
    captions: Annotated[list[Path], typer.Argument(
        help="Caption shards: parquet, JSON-lines (.jsonl[.gz]) or webdataset .tar files, or folders of them "
             "(with --engine spark also hdfs:// or s3a:// paths).")],
    corpus: Annotated[str, typer.Option(help="Name to record as the counts' corpus, e.g. datacomp1b.")],
    out: Annotated[Path, typer.Option(help="Counts parquet to write (put it in a folder to use as --counts).")],
    engine: Annotated[Engine, typer.Option(help="local: all cores here; spark: a PySpark job.")] = Engine.local,
    caption_column: Annotated[str, typer.Option(help="Column (JSON field) holding the caption.")] = "caption",
    method: Annotated[TextMethod, typer.Option(help="Text matching method.")] = TextMethod.lemmatized,
    lemmatizer: Annotated[str, typer.Option(
        help="'lookup' (lemminflect, no model) or 'spacy:MODEL' (the paper's spaCy noun lemmas; slow).")] = "lookup",
    tags: Annotated[list[Path] | None, typer.Option(
        help="Per-image tags parquet (sample id → concepts) for matched counts; repeatable.")] = None,
    id_column: Annotated[str, typer.Option(help="Sample id column in the captions and the tags.")] = "key",
    tags_column: Annotated[str, typer.Option(help="Tags column: a concept name or a list of them.")] = "concepts",
    matched_method: Annotated[str | None, typer.Option(
        help="Method name of the matched counts (default: integrated_t<METHOD>_i0.7, alias 'matched').")] = None,
    concepts: Annotated[str, typer.Option(
        help="Counts source whose (dataset, class) rows define the concepts to count.")] = "bundled",
    workers: Annotated[int | None, typer.Option(help="Local processes (default: all cores).")] = None,
    batch_size: Annotated[int, typer.Option(help="Captions per batch.")] = 65536,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Count the benchmark's concepts in a caption corpus and write them in the counts table schema.

    A rerun after an interruption skips the shards already counted (their results wait in OUT.parts/).
    """
    from letitwag_bench.counting import CountingError, build_counts

    with user_errors(CountingError):
        result = build_counts(
            captions, corpus=corpus, engine=engine.value, method=method.value, lemmatizer=lemmatizer,
            caption_column=caption_column, id_column=id_column, tags=tags, tags_column=tags_column,
            matched_method=matched_method, concepts=concepts, workers=workers, batch_size=batch_size,
            parts=out.with_name(out.name + ".parts"), out=out, progress=progress,
        )
    info = result.info
    typer.echo(f"counted {len(info['methods'])} method(s) {', '.join(info['methods'])} for {info['n_concepts']} "
               f"concepts in {info['corpus_size']} captions of {corpus}; wrote {len(result.frame)} rows to {out}")
