"""Local stand-ins for the clip_benchmark tests: a tiny random-init open_clip model saved as a
``local-dir:`` folder, a Let It Wag!-shaped parquet dataset, and a runner for the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PTH = "letitwag_bench_clip_benchmark.pth"

TINY_MODEL_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def save_tiny_model(folder: Path, seed: int = 0) -> Path:
    """A random-init open_clip CLIP as ``open_clip_config.json`` + ``open_clip_model.safetensors``."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = open_clip.model.CLIP(**TINY_MODEL_CFG)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_MODEL_CFG, "preprocess_cfg": {}}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    return folder


def synthetic_images(n: int, seed: int, size: int = 16) -> list:
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


def write_letitwag_parquet(folder: Path, labels: list[str], per_class: int, seed: int = 0) -> Path:
    """`labels` as the hosted dataset spells them; features as on the Hub: image (Image), label (ClassLabel)."""
    import datasets

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=labels)})
    ids = [i for i in range(len(labels)) for _ in range(per_class)]
    ds = datasets.Dataset.from_dict({"image": synthetic_images(len(ids), seed), "label": ids}, features=features)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    return folder


def offline_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp / "hf_home"),
               TRANSFORMERS_OFFLINE="1", LETITWAG_N_BOOTSTRAP="200", **extra)
    return env


def console_script() -> str:
    script = Path(sys.executable).parent / "clip_benchmark"
    found = str(script) if script.exists() else shutil.which("clip_benchmark")
    if not found:
        pytest.skip("the clip_benchmark console script is not installed next to this Python")
    return found


def hook_active(env: dict[str, str] | None = None) -> bool:
    """Whether a fresh interpreter of this environment has our import hook (the .pth) in place."""
    code = "import sys; print(any(getattr(f, '__name__', '') == 'LetitwagClipBenchmarkFinder' for f in sys.meta_path))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip() == "True"


def require_hook() -> None:
    if not hook_active():
        pytest.skip(f"letitwag-bench is not installed with its clip_benchmark hook ({PTH}) in {sys.prefix}; "
                    "install the package (`pip install -e .` or `pip install .`) to run this test")


def run_eval(tmp: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [console_script(), "eval", "--num_workers", "0", "--batch_size", "8", "--no_amp", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or offline_env(tmp), cwd=tmp, timeout=300)
