"""Encoded images and labels, read once, in row order, without decoding.

Two local layouts of Let It Wag!:

* the Hugging Face parquet layout of ``bethgelab/Let-It-Wag`` (a ``.parquet`` file or a folder of
  them, ``image`` Image feature storing the encoded bytes, ``label`` ClassLabel): read with pyarrow
  record batch by record batch, the class names taken from the ``datasets`` features in the parquet
  metadata;
* one folder per class (``ROOT/<class>/<image>``), classes in sorted order, as torchvision's
  ``ImageFolder`` orders them.

Row numbers are the position in this order; errors about an image name its row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class SourceError(ValueError):
    """The dataset root is not a layout this module reads; the message names the file and field."""


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows: ``rows[i]`` is the dataset row of ``data[i]`` (encoded bytes) and ``labels[i]``."""

    rows: np.ndarray
    data: list[bytes]
    labels: np.ndarray


@dataclass(frozen=True)
class ImageSource:
    """Where the encoded images are, the class names (as the dataset spells them) and the row count."""

    root: Path
    class_names: list[str]
    n_rows: int
    parquet_files: list[Path] = field(default_factory=list)
    image_files: list[tuple[Path, int]] = field(default_factory=list)
    dataset: Any = None  # a datasets.Dataset, for from_dataset()

    @classmethod
    def from_dataset(cls, ds: Any) -> ImageSource:
        """A loaded ``datasets.Dataset`` with an ``image`` Image and a ``label`` ClassLabel column (what
        the Let It Wag! loader returns), read as Arrow so the images are not decoded."""
        import datasets

        label = ds.features.get("label")
        if not isinstance(ds.features.get("image"), datasets.Image) or not isinstance(label, datasets.ClassLabel):
            raise SourceError(f"dataset features must be 'image' (Image) and 'label' (ClassLabel); found {ds.features}")
        return cls(root=Path(ds.cache_files[0]["filename"]) if ds.cache_files else Path("."),
                   class_names=list(label.names), n_rows=len(ds), dataset=ds)

    def chunks(self, size: int) -> Iterator[Chunk]:
        """Yield the rows in order, ``size`` at a time (the last chunk may be smaller)."""
        if self.dataset is not None:
            parts = self._dataset_parts(size)
        else:
            parts = self._parquet_parts(size) if self.parquet_files else self._folder_parts(size)
        start = 0
        for data, labels in _rebatch(parts, size):
            yield Chunk(rows=np.arange(start, start + len(data)), data=data, labels=labels)
            start += len(data)

    def _parquet_parts(self, size: int) -> Iterator[Part]:
        for path in self.parquet_files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=size, columns=["image", "label"]):
                images = batch.column("image")
                data = images.field("bytes").to_pylist()
                if any(d is None for d in data):
                    bad = next(i for i, d in enumerate(data) if d is None)
                    raise SourceError(f"{path}: column 'image' has no bytes in a row (batch row {bad}); "
                                      "expected the Hugging Face Image feature with embedded bytes")
                yield data, batch.column("label").to_numpy(zero_copy_only=False).astype(np.int64)

    def _dataset_parts(self, size: int) -> Iterator[Part]:
        for table in self.dataset.with_format("arrow").iter(batch_size=size):
            images = table.column("image").combine_chunks()
            data = [b if b is not None else _read_path(p, self.root)
                    for b, p in zip(images.field("bytes").to_pylist(), images.field("path").to_pylist(), strict=True)]
            yield data, table.column("label").to_numpy().astype(np.int64)

    def _folder_parts(self, size: int) -> Iterator[Part]:
        for start in range(0, len(self.image_files), size):
            part = self.image_files[start:start + size]
            yield [p.read_bytes() for p, _ in part], np.array([lab for _, lab in part], dtype=np.int64)


Part = tuple[list[bytes], np.ndarray]


def _read_path(path: str | None, root: Path) -> bytes:
    # datasets' imagefolder keeps only the file path of each image
    if path is None or not Path(path).is_file():
        raise SourceError(f"{root}: an 'image' row has neither bytes nor a readable file path ({path!r})")
    return Path(path).read_bytes()


def _rebatch(parts: Iterator[Part], size: int) -> Iterator[Part]:
    """Re-cut parts (parquet row groups need not align with the batch size) into ``size``-row batches."""
    data: list[bytes] = []
    labels: list[np.ndarray] = []
    n = 0
    for d, lab in parts:
        data.extend(d)
        labels.append(lab)
        n += len(d)
        while n >= size:
            merged = np.concatenate(labels)
            yield data[:size], merged[:size]
            data, labels, n = data[size:], [merged[size:]], n - size
    if n:
        yield data, np.concatenate(labels)


def open_source(root: Path | str, split: str = "test") -> ImageSource:
    """Open a parquet file, a folder of parquet files (those of ``split`` when the names say which split
    they hold, as the Hub's ``data/test-00000-of-00002.parquet`` do) or a folder of class folders."""
    root = Path(root)
    if not root.exists():
        raise SourceError(f"dataset root {root} does not exist; expected a parquet file, a folder of "
                          "parquet files or a folder with one sub-folder per class")
    files = [root] if root.is_file() else sorted(root.rglob("*.parquet"))
    if files:
        of_split = [f for f in files
                    if f.name.startswith(f"{split}-") or f.stem == split or f.parent.name == split]
        return _open_parquet(root, of_split or files)
    return _open_folder(root)


def _open_parquet(root: Path, files: list[Path]) -> ImageSource:
    import datasets

    names: list[str] | None = None
    n_rows = 0
    for path in files:
        try:
            meta = pq.read_metadata(path)
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowInvalid) as err:
            raise SourceError(f"{path}: not a readable parquet file ({err})") from err
        for col in ("image", "label"):
            if col not in schema.names:
                raise SourceError(f"{path}: missing column {col!r}; expected the Let It Wag! features "
                                  f"'image' (Image) and 'label' (ClassLabel), found {schema.names}")
        image_type = schema.field("image").type
        if not (pa.types.is_struct(image_type) and image_type.get_field_index("bytes") >= 0):
            raise SourceError(f"{path}: column 'image' is {image_type}; expected the Hugging Face Image "
                              "feature, a struct with a 'bytes' field")
        label = datasets.Features.from_arrow_schema(schema).get("label")
        if not isinstance(label, datasets.ClassLabel):
            raise SourceError(f"{path}: column 'label' is not a ClassLabel in the parquet's datasets "
                              "metadata, so the class names are unknown; write it with datasets")
        if names is not None and label.names != names:
            raise SourceError(f"{path}: its ClassLabel names differ from those of {files[0]}")
        names = list(label.names)
        n_rows += meta.num_rows
    return ImageSource(root=root, class_names=names or [], n_rows=n_rows, parquet_files=files)


def _open_folder(root: Path) -> ImageSource:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files = [(p, i) for i, c in enumerate(classes) for p in sorted((root / c).iterdir())
             if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise SourceError(f"{root}: no parquet files and no class folders with images "
                          f"({', '.join(IMAGE_SUFFIXES)}) found")
    return ImageSource(root=root, class_names=classes, n_rows=len(files), image_files=files)
