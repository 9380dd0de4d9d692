"""clip_benchmark's zero-shot prompt templates, looked up as clip_benchmark looks them up."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path


def _shipped() -> Path:
    return Path(str(resources.files("clip_benchmark.datasets")))


def clip_benchmark_file(name: str) -> Path:
    """A custom classname/template file as clip_benchmark resolves it: the path, else a file it ships."""
    path = Path(name)
    return path if path.exists() else _shipped() / name


def clip_templates(language: str = "en", custom_template_file: str | None = None,
                   keys: Sequence[str] = ()) -> list[str]:
    """A custom file if given, else clip_benchmark's ``<language>_zeroshot_classification_templates.json``;
    the first of `keys` it holds, else ``imagenet1k`` (the 80 CLIP ensemble templates)."""
    default = _shipped() / f"{language}_zeroshot_classification_templates.json"
    path = clip_benchmark_file(custom_template_file) if custom_template_file else default
    if not path.exists():
        raise FileNotFoundError(f"zero-shot templates file {path} not found (language {language!r})")
    templates = json.loads(path.read_text())
    for key in [*keys, "imagenet1k"]:
        if key in templates:
            return list(templates[key])
    raise ValueError(f"{path}: no templates under {[*keys, 'imagenet1k']}")
