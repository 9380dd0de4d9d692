"""Fast zero-shot evaluation: encoded images read once, decoded once (on the GPU where there is one),
preprocessed once per distinct preprocessing, encoded by several models. See ``engine`` for the
decode modes and ``images`` for the fallback rules."""

from letitwag_bench.datasets.templates import clip_templates  # the templates clip_benchmark uses
from letitwag_bench.fasteval.engine import (
    DECODE_MODES,
    EvalRun,
    LoadedModel,
    Predictions,
    evaluate,
    zero_shot_classifier,
)
from letitwag_bench.fasteval.images import ImageDecodeError, PreprocessSpec, route
from letitwag_bench.fasteval.source import ImageSource, SourceError, open_source

__all__ = [
    "DECODE_MODES",
    "EvalRun",
    "ImageDecodeError",
    "ImageSource",
    "LoadedModel",
    "Predictions",
    "PreprocessSpec",
    "SourceError",
    "clip_templates",
    "evaluate",
    "open_source",
    "route",
    "zero_shot_classifier",
]
