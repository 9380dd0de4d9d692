"""`letitwag eval`: zero-shot Let It Wag! evaluation of several open_clip models over one pass of the images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from letitwag_bench.cli._common import user_errors

if TYPE_CHECKING:  # the command imports torch and the evaluation code only when it runs
    import torch

    from letitwag_bench.fasteval import EvalRun


def evaluate_models(
    models: Annotated[list[str], typer.Option(
        "--models", help="open_clip model name, or MODEL,PRETRAINED (as clip_benchmark's --pretrained_model). "
        "Further models follow as arguments: --models A B C.")],
    dataset_root: Annotated[Path, typer.Option(
        help="Let It Wag! in the Hugging Face parquet layout (file or folder) or one folder per class.")],
    more_models: Annotated[list[str] | None, typer.Argument(help="More models (see --models).", show_default=False)]
    = None,
    pretrained: Annotated[str, typer.Option(
        help="Pretrained tag or checkpoint for models given without ',PRETRAINED'.")] = "",
    output: Annotated[Path, typer.Option(help="Folder for the per-model JSON and .concepts.csv files.")] = Path("."),
    split: Annotated[str, typer.Option(help="Split to read when the parquet names say which split they hold.")]
    = "test",
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    device: Annotated[str, typer.Option(help="auto (cuda if available), cpu, cuda, cuda:1, ...")] = "auto",
    decode: Annotated[str, typer.Option(
        help="auto: JPEGs decoded and preprocessed on the GPU when the device is CUDA, PIL + open_clip "
        "preprocess on CPU; tensor; standard.")] = "auto",
    workers: Annotated[int | None, typer.Option(
        help="Threads for PIL decoding on the standard path [default: CPU count].", min=1, show_default=False)]
    = None,
    amp: Annotated[bool | None, typer.Option(
        help="Autocast, as clip_benchmark does by default; unset: on CUDA only (float32 on CPU).",
        show_default=False)] = None,
    counts: Annotated[str, typer.Option(
        help="Counts source: 'bundled', a Hugging Face dataset ORG/NAME[@rev], or a local file/folder.")]
    = "bundled",
    corpus: Annotated[str, typer.Option(
        help="Pretraining corpus of the counts; 'auto' infers it from the pretrained tag (laion400m as a proxy "
        "where unknown).")] = "auto",
    method: Annotated[str, typer.Option(help="Count method: matched, text, image, or an upstream name.")]
    = "matched",
    seed: Annotated[int, typer.Option(help="Seed of the slope's bootstrap interval.")] = 0,
) -> None:
    """Evaluate several models on Let It Wag! in one pass over the images; write one result per model."""
    import torch

    from letitwag_bench import concept_results, fasteval
    from letitwag_bench.counts import load_counts
    from letitwag_bench.counts_choice import choose_counts
    from letitwag_bench.datasets import letitwag as lw
    from letitwag_bench.fasteval import results
    from letitwag_bench.stats import StatsError

    if decode not in fasteval.DECODE_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(fasteval.DECODE_MODES)}", param_hint="--decode")
    pairs = [_model_pair(m, pretrained) for m in [*models, *(more_models or [])]]
    paths = [results.output_path(output, "letitwag", name, p) for name, p in pairs]
    if len(set(paths)) < len(paths):
        raise typer.BadParameter("a model is given twice (same name and pretrained)", param_hint="--models")
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
    with user_errors(fasteval.SourceError, fasteval.ImageDecodeError, StatsError):
        source = fasteval.open_source(dataset_root, split=split)
        table = load_counts(counts)
        # the same counts rule as the clip_benchmark glue: "auto" → the corpus the tag names, else a proxy
        choices = [choose_counts(table, "letitwag", p, None if corpus == "auto" else corpus, method) for _, p in pairs]
        loaded = [fasteval.LoadedModel.load(name, p, dev) for name, p in pairs]
        labels = source.class_names
        run = fasteval.evaluate(loaded, source, lw.class_display_names(labels), fasteval.clip_templates(),
                                device=dev, batch_size=batch_size, amp=amp, decode=decode,
                                workers=workers or os.cpu_count() or 1)
        names, concepts = lw.sidecar_class_names(labels), lw.class_concepts(labels)
        for (name, p), pred, choice, path in zip(pairs, run.predictions, choices, paths, strict=True):
            sidecar = concept_results.concept_table(pred.top1, pred.labels, names, concepts, "letitwag", choice.counts)
            metrics = {**pred.metrics(), **concept_results.fit_metrics(sidecar, choice, seed=seed)}
            if metrics.get("letitwag_error"):  # the glue records it; here the user is told at once
                raise StatsError(metrics["letitwag_error"])
            results.write_result(path, dataset="letitwag", model=name, pretrained=p, metrics=metrics, table=sidecar)
            typer.echo(f"{name} {p or ''}: acc1 {metrics['acc1']:.4f}, slope {metrics['slope']:.2f} "
                       f"[{metrics['slope_ci_low']:.2f}, {metrics['slope_ci_high']:.2f}] → {path}")
    typer.echo(_summary(run, dev, decode, len(loaded)), err=True)


def _summary(run: EvalRun, device: torch.device, decode: str, n_models: int) -> str:
    """One line: where the images went (fallbacks by reason, so none passes unnoticed) and the timings."""
    fallbacks = {r: c for r, c in sorted(run.routes.items()) if r not in ("jpeg", "standard")}
    via_pil = run.routes.get("standard", 0) + sum(fallbacks.values())
    reasons = f" ({', '.join(f'{r}: {c}' for r, c in fallbacks.items())})" if fallbacks else ""
    rate = run.n_images / max(run.seconds["images"], 1e-9)
    return (f"{run.n_images} images on {device} ({decode} decode): {run.routes.get('jpeg', 0)} tensor-decoded, "
            f"{via_pil} via PIL{reasons}; classifiers {run.seconds['classifier']:.1f} s, "
            f"images {run.seconds['images']:.1f} s ({rate:.0f} images/s for {n_models} model(s))")


def _model_pair(spec: str, default_pretrained: str) -> tuple[str, str | None]:
    name, _, tag = spec.partition(",")
    return name, (tag or default_pretrained or None)
