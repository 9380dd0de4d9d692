"""clip_benchmark glue: ``clip_benchmark eval --dataset letitwag`` and ``--dataset letitwag/<name>``.

clip_benchmark 1.6.2 has no plugin mechanism, so a lazy import hook (a .pth-installed meta-path
finder, :mod:`._clip_benchmark_hook`) hands us its modules right after they are imported, and
:func:`install` wraps three functions:

- ``builder.build_dataset``: builds ``letitwag`` (Let It Wag!, 80 CLIP templates) and ``letitwag/<name>``
  (clip_benchmark's own ``<name>``, untouched, plus the class → concept map); other names go straight
  to the original;
- ``zeroshot_classification.evaluate``: for our datasets only, runs the original while capturing the
  logits (and with a numpy ≥ 2.4–safe ``accuracy``) — or, for ``letitwag`` on a CUDA device, the fast
  engine of ``letitwag eval`` (:func:`use_fast_path`) — then adds the scaling fit to the metrics;
- ``cli.run``: for our datasets only, resolves the counts before the model loads and writes the
  per-concept sidecar next to ``--output`` afterwards.

Which counts: ``LETITWAG_COUNTS`` (source, default ``bundled``), ``LETITWAG_CORPUS`` (default: the
corpus named in the open_clip pretrained tag — cc3m, cc12m, yfcc15m, laion400m — else laion400m as a
proxy), ``LETITWAG_METHOD`` (default ``matched``), ``LETITWAG_N_BOOTSTRAP`` (2000), ``LETITWAG_SEED`` (0).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from letitwag_bench.concepts import concept_key
from letitwag_bench.counts_choice import CountsChoice, pick_corpus
from letitwag_bench.datasets.clip_benchmark_classes import (
    COUNTS_DATASET,
    POOLED_DATASETS,
    clip_benchmark_class_names,
    map_classes,
)
from letitwag_bench.datasets.templates import clip_benchmark_file, clip_templates

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from letitwag_bench.counts import CountsTable
    from letitwag_bench.datasets.letitwag import LetItWagTorchDataset

# Heavy modules (pandas, pyarrow, scipy, datasets) are imported inside the functions that need them:
# this module is imported whenever clip_benchmark is, and plain datasets must not pay for them.
LETITWAG = "letitwag"  # = letitwag_bench.counts.LETITWAG

PREFIX = "letitwag/"
_MARK = "__letitwag_wrapped__"


def is_ours(dataset_name: str) -> bool:
    return dataset_name == LETITWAG or dataset_name.startswith(PREFIX)


# ---------------------------------------------------------------------------------------------------
# Which counts


@functools.lru_cache(maxsize=4)
def _table(source: str) -> CountsTable:
    from letitwag_bench.counts import load_counts

    return load_counts(source)


def _bundled_rows(columns: list[str], **equal: str) -> pd.DataFrame:
    """Rows of the bundled counts parquet where each column in `equal` has that value.

    Reading one slice with a pushed-down filter takes milliseconds where building the whole
    :class:`CountsTable` takes a few hundred; ``test_bundled_fast_path_matches_counts_table`` keeps the
    two equal. Any other source goes through :func:`letitwag_bench.counts.load_counts`.
    """
    from importlib import resources

    import pyarrow.parquet as pq

    path = resources.files("letitwag_bench") / "data" / "counts.parquet"
    filters = [(k, "=", v) for k, v in equal.items()]
    # dictionary-decoding the string columns halves the read; the few matching rows are cast back
    strings = ["concept", "dataset", "corpus", "method"]
    frame = pq.read_table(str(path), columns=columns, filters=filters, read_dictionary=strings).to_pandas()
    return frame.astype({c: str for c in columns if c in strings})


def choose_counts(pretrained: str, dataset: str) -> CountsChoice:
    """Counts for a run: environment overrides first, then :func:`..counts_choice.pick_corpus`."""
    from letitwag_bench import counts_choice
    from letitwag_bench.counts import BUNDLED_REVISION, METHOD_ALIASES

    source = os.environ.get("LETITWAG_COUNTS", "bundled")
    override = os.environ.get("LETITWAG_CORPUS") or None
    method = os.environ.get("LETITWAG_METHOD", "matched")
    if source == "bundled":
        corpus, is_proxy = pick_corpus(pretrained, override)
        upstream = METHOD_ALIASES.get(method, method)
        rows = _bundled_rows(["concept", "count"], dataset=dataset, corpus=corpus, method=upstream)
        if len(rows):
            return CountsChoice(source, BUNDLED_REVISION, corpus, upstream, is_proxy, dataset,
                                rows.groupby("concept")["count"].max())
    # other sources, and unknown names in the bundled one (CountsError lists the valid names)
    return counts_choice.choose_counts(_table(source), dataset, pretrained, override, method)


def counted_concepts(dataset: str) -> set[str]:
    """Concept keys the counts source holds for `dataset` (any corpus or method)."""
    source = os.environ.get("LETITWAG_COUNTS", "bundled")
    if source == "bundled":
        rows = _bundled_rows(["concept"], dataset=dataset)
        if len(rows):
            return set(rows["concept"])
    return set(_table(source).classes(dataset)["concept"])


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r}: expected an integer") from None


# ---------------------------------------------------------------------------------------------------
# Datasets


@dataclass
class Stratification:
    """Attached to a built dataset as ``letitwag_stratification``: how its classes join the counts."""

    dataset: str  # counts dataset name, the sidecar's `dataset`
    class_names: list[str]  # per class index
    class_concepts: list[str]  # concept key per class index
    unmatched: list[str] = field(default_factory=list)  # class names without a counts concept


def build_letitwag(root: str | None, transform: Any, split: str, language: str,
                   custom_template_file: str | None, custom_classname_file: str | None) -> LetItWagTorchDataset:
    from letitwag_bench.datasets import letitwag as lw

    ds = lw.load_letitwag(root if root and Path(root).exists() else None, split=split)
    torch_ds = lw.LetItWagTorchDataset(ds, transform, clip_templates(language, custom_template_file, [LETITWAG]))
    if custom_classname_file:
        names = json.loads(clip_benchmark_file(custom_classname_file).read_text())
        if LETITWAG in names:
            torch_ds.classes = names[LETITWAG]
    torch_ds.letitwag_stratification = Stratification(
        dataset=LETITWAG,
        class_names=lw.sidecar_class_names(ds),
        class_concepts=lw.class_concepts(ds),
    )
    return torch_ds


def stratification_for(name: str, class_names: list[str]) -> Stratification:
    """Class → concept map of clip_benchmark dataset `name` (see :mod:`..datasets.clip_benchmark_classes`)."""
    counts_ds = COUNTS_DATASET[name]
    found = map_classes(counts_ds, class_names, counted_concepts(counts_ds))
    return Stratification(
        dataset=counts_ds,
        class_names=list(class_names),
        class_concepts=[c if c is not None else concept_key(n) for c, n in zip(found, class_names, strict=True)],
        unmatched=[n for c, n in zip(found, class_names, strict=True) if c is None],
    )


def pooled_classes() -> pd.DataFrame:
    """What ``clip_benchmark eval --dataset letitwag/<name>`` writes for each of the `concepts_cb` board's
    datasets, from clip_benchmark's shipped class names through :func:`stratification_for` (the run's own
    map): ``dataset``, ``class_name`` (merged classes joined by ``"; "``, as in the sidecar), ``concept``,
    and ``matched`` (False for classes without a counts concept, which keep their own key)."""
    import pandas as pd

    parts = []
    for name in POOLED_DATASETS:
        strat = stratification_for(name, list(clip_benchmark_class_names(name)))
        names: dict[str, list[str]] = {}
        for class_name, concept in zip(strat.class_names, strat.class_concepts, strict=True):
            names.setdefault(concept, []).append(class_name)
        unmatched = {concept_key(n) for n in strat.unmatched}
        parts.append(pd.DataFrame({"dataset": strat.dataset, "class_name": ["; ".join(v) for v in names.values()],
                                   "concept": list(names), "matched": [c not in unmatched for c in names]}))
    return pd.concat(parts, ignore_index=True).sort_values(["dataset", "concept"]).reset_index(drop=True)


def _wrap_build_dataset(original):
    signature = inspect.signature(original)

    @functools.wraps(original)
    def build_dataset(dataset_name, *args, **kwargs):
        if not is_ours(dataset_name):
            return original(dataset_name, *args, **kwargs)
        bound = signature.bind(dataset_name, *args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        if a["task"] != "zeroshot_classification":
            raise ValueError(f"dataset {dataset_name!r} supports only --task zeroshot_classification, "
                             f"not {a['task']!r}")
        if dataset_name == LETITWAG:
            return build_letitwag(a["root"], a["transform"], a["split"], a["language"],
                                  a["custom_template_file"], a["custom_classname_file"])
        name = dataset_name[len(PREFIX):]
        if name not in COUNTS_DATASET:
            raise ValueError(f"unknown dataset {dataset_name!r}; stratified datasets: "
                             f"{', '.join(PREFIX + n for n in COUNTS_DATASET)}")
        a["dataset_name"] = name
        ds = original(*bound.args, **bound.kwargs)
        ds.letitwag_stratification = stratification_for(name, list(ds.classes))
        return ds

    setattr(build_dataset, _MARK, True)
    return build_dataset


# ---------------------------------------------------------------------------------------------------
# Metrics


def accuracy(output, target, topk=(1,)):
    """clip_benchmark's top-k accuracy without its ``float(ndarray)`` (an error on numpy ≥ 2.4)."""
    pred = output.topk(max(topk), 1, True, True)[1].t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum().item() / len(target) for k in topk]


@dataclass
class StratifiedResult:
    metrics: dict[str, Any]  # the flat keys added to clip_benchmark's metrics
    table: pd.DataFrame  # the per-concept sidecar


def stratify(predictions: np.ndarray, targets: np.ndarray, strat: Stratification, choice: CountsChoice, *,
             n_bootstrap: int = 2000, seed: int = 0) -> StratifiedResult:
    """Per-concept accuracy joined to the counts, and the scaling fit over concepts that have a count."""
    from letitwag_bench.concept_results import concept_table, fit_metrics

    if choice.dataset != strat.dataset:
        raise ValueError(f"counts chosen for {choice.dataset!r}, results are for {strat.dataset!r}")
    table = concept_table(predictions, targets, strat.class_names, strat.class_concepts, strat.dataset, choice.counts)
    metrics = fit_metrics(table, choice, n_bootstrap=n_bootstrap, seed=seed, n_classes_unmatched=len(strat.unmatched))
    return StratifiedResult(metrics, table)


@contextmanager
def _swapped(module: ModuleType, **attrs: Any):
    old = {k: getattr(module, k) for k in attrs}
    for k, v in attrs.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


@dataclass
class _Run:
    """State of the one `clip_benchmark eval` run of one of our datasets in progress."""

    pretrained: str
    choice: CountsChoice | None = None
    result: StratifiedResult | None = None


_current: _Run | None = None


def use_fast_path(model: Any, dataset: Any, device: Any, *, save_clf: Any = None, load_clfs: Any = ()) -> bool:
    """Whether :func:`fast_evaluate` replaces clip_benchmark's loop: for Let It Wag! (whose encoded images
    can be read undecoded) with an open_clip model on an available CUDA device, unless the run saves or
    loads classifiers or ``LETITWAG_FAST_EVAL=0``. Everything else, CPU runs included, takes the standard path."""
    import torch

    from letitwag_bench.datasets.letitwag import LetItWagTorchDataset

    return (os.environ.get("LETITWAG_FAST_EVAL", "1") != "0"
            and isinstance(dataset, LetItWagTorchDataset)
            and save_clf is None and not load_clfs
            and getattr(getattr(model, "visual", None), "preprocess_cfg", None) is not None
            and torch.device(device).type == "cuda" and torch.cuda.is_available())


def fast_evaluate(model: Any, dataloader: Any, tokenizer: Any, classnames: list[str], templates: list[str],
                  device: Any, amp: bool) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """clip_benchmark's metrics, predictions and targets by :mod:`letitwag_bench.fasteval` (JPEGs decoded
    and preprocessed on the GPU, the classifier encoded in large batches)."""
    from letitwag_bench import fasteval

    source = fasteval.ImageSource.from_dataset(dataloader.dataset.ds)
    run = fasteval.evaluate([fasteval.LoadedModel.wrap(model, tokenizer)], source, classnames, templates,
                            device=device, batch_size=dataloader.batch_size or 256, amp=amp,
                            workers=os.cpu_count() or 1)
    pred = run.predictions[0]
    return pred.metrics(), pred.top1, pred.labels


def _wrap_evaluate(zsc: ModuleType, original):
    signature = inspect.signature(original)

    @functools.wraps(original)
    def evaluate(model, dataloader, *args, **kwargs):
        strat = getattr(getattr(dataloader, "dataset", None), "letitwag_stratification", None)
        if strat is None:
            return original(model, dataloader, *args, **kwargs)
        bound = signature.bind(model, dataloader, *args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        if use_fast_path(model, dataloader.dataset, a["device"], save_clf=a["save_clf"], load_clfs=a["load_clfs"]):
            metrics, predictions, targets = fast_evaluate(model, dataloader, a["tokenizer"], a["classnames"],
                                                          a["templates"], a["device"], a["amp"])
        else:
            captured: list = []
            run_classification = zsc.run_classification

            def capture(*a, **k):
                captured[:] = run_classification(*a, **k)
                return tuple(captured)

            with _swapped(zsc, run_classification=capture, accuracy=accuracy):
                metrics = original(model, dataloader, *args, **kwargs)
            predictions, targets = captured[0].argmax(dim=1).numpy(), captured[1].numpy()
        run = _current or _Run(pretrained="")
        choice = run.choice or choose_counts(run.pretrained, strat.dataset)
        result = stratify(predictions, targets, strat, choice,
                          n_bootstrap=_env_int("LETITWAG_N_BOOTSTRAP", 2000), seed=_env_int("LETITWAG_SEED", 0))
        run.result = result
        return {**metrics, **result.metrics}

    setattr(evaluate, _MARK, True)
    return evaluate


def _output_path(args: Any, dataset_name: str, task: str) -> str:
    """The path `clip_benchmark.cli.run` writes, formatted exactly as it does."""
    is_file = os.path.isfile(args.pretrained)
    return args.output.format(
        model=args.model,
        pretrained=os.path.basename(args.pretrained) if is_file else args.pretrained,
        pretrained_full_path=args.pretrained.replace("/", "_") if is_file else args.pretrained,
        task=task,
        dataset=dataset_name.replace("/", "_"),
        language=args.language,
    )


def _wrap_run(original):
    @functools.wraps(original)
    def run(args):
        global _current
        if not is_ours(args.dataset):
            return original(args)
        name = args.dataset
        dataset = LETITWAG if name == LETITWAG else COUNTS_DATASET.get(name[len(PREFIX):])
        state = _Run(pretrained=args.pretrained)
        if dataset is not None:  # unknown names fail in build_dataset with the list of valid ones
            state.choice = choose_counts(args.pretrained, dataset)  # bad overrides fail before the model loads
        _current = state
        try:
            status = original(args)
        finally:
            _current = None
        if state.result is not None:
            from letitwag_bench.concept_results import sidecar_path, write_sidecar

            output = _output_path(args, name, "zeroshot_classification" if args.task == "auto" else args.task)
            write_sidecar(state.result.table, sidecar_path(output))
            if args.verbose:
                print(f"Per-concept results: {sidecar_path(output)}")
        return status

    setattr(run, _MARK, True)
    return run


# ---------------------------------------------------------------------------------------------------
# Installation (called by the import hook)


def install(module: ModuleType) -> None:
    """Patch a freshly imported clip_benchmark module (idempotent)."""
    if module.__name__ == "clip_benchmark.datasets.builder":
        if not hasattr(module.build_dataset, _MARK):
            module.build_dataset = _wrap_build_dataset(module.build_dataset)
    elif module.__name__ == "clip_benchmark.cli":
        if not hasattr(module.build_dataset, _MARK):  # cli binds it by name; builder may predate the hook
            module.build_dataset = _wrap_build_dataset(module.build_dataset)
        zsc = module.zeroshot_classification
        if not hasattr(zsc.evaluate, _MARK):
            zsc.evaluate = _wrap_evaluate(zsc, zsc.evaluate)
        if not hasattr(module.run, _MARK):
            module.run = _wrap_run(module.run)
