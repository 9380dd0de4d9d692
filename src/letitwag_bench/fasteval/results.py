"""Per-model result files of ``letitwag eval``, in the clip_benchmark adapter's format.

``<output>.json``: clip_benchmark's own JSON (``dataset, model, pretrained, task, metrics, language``)
with :func:`letitwag_bench.concept_results.fit_metrics` added inside ``metrics``; next to it the
per-concept sidecar (:func:`letitwag_bench.concept_results.sidecar_path`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from letitwag_bench._io import atomic_write_text
from letitwag_bench.concept_results import sidecar_path, write_sidecar


def output_path(folder: Path, dataset: str, model: str, pretrained: str | None) -> Path:
    """clip_benchmark's default name ``{dataset}_{pretrained}_{model}_{language}_{task}.json``, with path
    separators in model names (``local-dir:/x/y``, ``hf-hub:org/m``) made file-name safe."""
    def slug(s: str) -> str:
        return re.sub(r"[^\w.+-]+", "_", s).strip("_") or "none"
    return folder / f"{slug(dataset)}_{slug(pretrained or 'none')}_{slug(model)}_en_zeroshot_classification.json"


def write_result(path: Path, *, dataset: str, model: str, pretrained: str | None, metrics: dict,
                 table: pd.DataFrame, extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``path`` (JSON) and its sidecar, atomically."""
    dump = {"dataset": dataset, "model": model, "pretrained": pretrained or "", "task": "zeroshot_classification",
            "metrics": {k: _json_number(v) for k, v in metrics.items()}, "language": "en", **(extra or {})}
    sidecar = sidecar_path(path)
    write_sidecar(table, sidecar)
    atomic_write_text(path, json.dumps(dump, indent=1))
    return path, sidecar


def _json_number(value):
    return None if isinstance(value, float) and math.isnan(value) else value
