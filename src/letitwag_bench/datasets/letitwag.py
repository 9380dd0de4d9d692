"""The Let It Wag! image dataset: 290 long-tail classes (Udandarao et al., 2024).

Sources, in the order :func:`load_letitwag` tries them:

- a local folder (`root`): any ``*.parquet`` files under it, read with the features of the hosted
  dataset (``image`` Image, ``label`` ClassLabel), or else one sub-folder of images per class;
- the Hugging Face dataset ``bethgelab/Let-It-Wag`` through :func:`datasets.load_dataset`, which
  honours the usual cache and ``HF_DATASETS_OFFLINE``.

The hosted labels carry a domain suffix (``A300B4_aircraft``); prompts use
:func:`letitwag_bench.concepts.display_name` (``A300B4``) and the join to counts uses
:func:`letitwag_bench.concepts.concept_key` (``a300b4``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import datasets

from letitwag_bench.concepts import concept_key, display_name, strip_domain_suffix

HUB_ID = "bethgelab/Let-It-Wag"
N_CLASSES = 290
_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


class LetItWagError(ValueError):
    """The Let It Wag! source is missing or malformed; the message names it and what was expected."""


def load_letitwag(root: str | Path | None = None, split: str | None = None) -> datasets.Dataset:
    """Load Let It Wag! as a :class:`datasets.Dataset` with columns ``image`` (Image) and ``label`` (ClassLabel).

    `root`: a folder holding parquet files in the hosted layout or one folder per class; ``None``
    (or a path that does not exist) loads the hosted dataset. `split`: taken when the source has it;
    the hosted dataset has only ``train``, so any other request falls back to its single split.
    """
    path = Path(root).expanduser() if root is not None else None
    if path is not None and path.exists():
        if not path.is_dir():
            raise LetItWagError(f"{path}: expected a folder of parquet files or of per-class image folders")
        parquet = sorted(str(p) for p in path.rglob("*.parquet"))
        if parquet:
            dsd = datasets.load_dataset("parquet", data_files={"train": parquet})
        elif any(p.suffix.lower() in _IMAGE_SUFFIXES for p in path.rglob("*") if p.is_file()):
            dsd = datasets.load_dataset("imagefolder", data_dir=str(path))
        else:
            raise LetItWagError(f"{path}: holds neither *.parquet files nor per-class folders of images")
        where = str(path)
    else:
        where = f"Hugging Face dataset {HUB_ID}"
        try:
            dsd = datasets.load_dataset(HUB_ID)
        except Exception as err:  # the Hub client raises many types; all mean "not reachable or not cached"
            raise LetItWagError(
                f"could not load the {where}"
                f"{f' (and {path} does not exist)' if path is not None else ''}: {type(err).__name__}: {err}. "
                "Offline, point --dataset_root (root=) at a local copy of its parquet files or at one folder "
                "of images per class."
            ) from err
    ds = _pick_split(dsd, split, where)
    _check_features(ds, where)
    return ds


def _pick_split(dsd: datasets.DatasetDict, split: str | None, where: str) -> datasets.Dataset:
    if split in dsd:
        return dsd[split]
    if len(dsd) == 1:
        only = next(iter(dsd))
        if split is not None:
            warnings.warn(f"{where} has only the split {only!r}; using it instead of {split!r}", stacklevel=3)
        return dsd[only]
    raise LetItWagError(f"{where}: no split {split!r}; available splits: {', '.join(dsd)}")


def _check_features(ds: datasets.Dataset, where: str) -> None:
    feats = ds.features
    if not isinstance(feats.get("image"), datasets.Image):
        raise LetItWagError(f"{where}: column 'image' must have the datasets.Image feature; "
                            f"found {feats.get('image')!r}")
    if not isinstance(feats.get("label"), datasets.ClassLabel):
        raise LetItWagError(f"{where}: column 'label' must be a datasets.ClassLabel; found {feats.get('label')!r}")


def label_names(ds: datasets.Dataset) -> list[str]:
    """The labels as the source spells them (hosted: suffixed, e.g. ``A300B4_aircraft``), by label id."""
    return list(ds.features["label"].names)


# The per-class helpers take the dataset or its label names as the source spells them (the byte reader
# of `letitwag eval` has only the names, from the parquet's ClassLabel metadata).
Labels = datasets.Dataset | Sequence[str]


def _labels(ds: Labels) -> list[str]:
    return label_names(ds) if isinstance(ds, datasets.Dataset) else list(ds)


def class_display_names(ds: Labels) -> list[str]:
    """Human-readable class names for the text encoder, by label id (``A300B4``, ``Acadian Flycatcher``)."""
    return [display_name(n, letitwag_label=True) for n in _labels(ds)]


def class_concepts(ds: Labels) -> list[str]:
    """Concept key of each class, by label id: the join key to the counts."""
    return [concept_key(n, letitwag_label=True) for n in _labels(ds)]


def sidecar_class_names(ds: Labels) -> list[str]:
    """The sidecar's ``class_name`` of each class, by label id: the label without its domain suffix."""
    return [strip_domain_suffix(n) for n in _labels(ds)]


class LetItWagTorchDataset:
    """Map-style torch dataset over :func:`load_letitwag`: ``(transform(RGB image), label id)``.

    ``classes`` and ``templates`` are what clip_benchmark's zero-shot evaluation reads.
    """

    def __init__(self, ds: datasets.Dataset, transform: Callable[[Any], Any] | None = None,
                 templates: list[str] | None = None) -> None:
        self.ds = ds
        self.transform = transform
        self.classes = class_display_names(ds)
        self.templates = templates

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        row = self.ds[int(i)]
        image = row["image"].convert("RGB")
        return (self.transform(image) if self.transform else image), row["label"]
