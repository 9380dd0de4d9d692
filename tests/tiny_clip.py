"""Reusable test fixtures: a tiny random-init open_clip model saved as a ``local-dir:`` folder, and a
small parquet with the Hugging Face features of Let It Wag! (``image`` Image, ``label`` ClassLabel).

Plain functions (no pytest import) so tests, benchmarks and other helpers' tests can share them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

TINY_MODEL_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def save_tiny_clip(folder: Path, *, seed: int = 0, image_size: int = 64,
                   preprocess_cfg: dict | None = None) -> str:
    """Write a random-init tiny CLIP (``open_clip_config.json`` + ``open_clip_model.safetensors``) and
    return the ``local-dir:`` model name that ``open_clip.create_model`` loads offline."""
    import open_clip
    from safetensors.torch import save_file

    cfg = json.loads(json.dumps(TINY_MODEL_CFG))
    cfg["vision_cfg"]["image_size"] = image_size
    torch.manual_seed(seed)
    model = open_clip.CLIP(**cfg)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    config = {"model_cfg": cfg, "preprocess_cfg": preprocess_cfg or {}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    return f"local-dir:{folder}"


def synthetic_image(rng: np.random.Generator, size: tuple[int, int] = (400, 300),
                    label: int = 0) -> Image.Image:
    """A structured RGB image (gradient background, random shapes whose colour depends on ``label``),
    so that image features differ between images and classes."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.uniform(0, 255, size=3)
    grad = np.stack([(xx / w) * base[0], (yy / h) * base[1], ((xx + yy) / (w + h)) * base[2]], -1)
    img = Image.fromarray(grad.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    hue = np.array([(label * 67) % 256, (label * 131) % 256, (label * 29) % 256])
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = rng.integers(0, w - 20), rng.integers(0, h - 20)
        x1, y1 = x0 + rng.integers(10, w // 2), y0 + rng.integers(10, h // 2)
        colour = tuple(int(c) for c in np.clip(hue + rng.normal(0, 30, 3), 0, 255))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    return img


def jpeg_bytes(img: Image.Image, quality: int = 90, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_letitwag_parquet(path: Path, images: Sequence[bytes], labels: Sequence[int],
                           class_names: Sequence[str]) -> Path:
    """Write rows with the Hugging Face features of ``bethgelab/Let-It-Wag`` (``image``: Image feature
    storing the encoded bytes, ``label``: ClassLabel) as one parquet file, via ``datasets``."""
    import datasets

    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=list(class_names))})
    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": b, "path": None} for b in images], "label": list(labels)}, features=features)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(path))
    return path


def synthetic_jpegs(n: int, n_classes: int, *, seed: int = 0, size: tuple[int, int] = (400, 300),
                    quality: int = 90) -> tuple[list[bytes], list[int]]:
    """``n`` synthetic JPEGs with labels cycling through ``n_classes``."""
    rng = np.random.default_rng(seed)
    labels = [i % n_classes for i in range(n)]
    return [jpeg_bytes(synthetic_image(rng, size, lab), quality) for lab in labels], labels
