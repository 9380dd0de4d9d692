"""Publish the leaderboard (records + built tables) as a Hugging Face dataset."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from letitwag_bench._io import atomic_write_text
from letitwag_bench.records import RecordError

BUILT = ("leaderboard.csv", "leaderboard.json", "index.html")


def _card(repo_id: str, readme: str) -> str:
    body = readme.split("\n", 1)[1] if readme.startswith("# ") else readme
    return f"""---
license: mit
pretty_name: letitwag-bench scaling-slope leaderboards
tags:
- clip
- long-tail
- leaderboard
configs:
- config_name: default
  data_files:
  - split: train
    path: leaderboard.csv
---

# Scaling-slope leaderboards ({repo_id})

Per-model result records (`results/<model>/<benchmark>.json`) and the leaderboard built from them with
`letitwag leaderboard build` (letitwag-bench). Figures of the imported models: MIT License,
Copyright (c) 2023 Vishaal Udandarao (Udandarao et al., NeurIPS 2024).
{body}"""


def stage(out_dir: Path, folder: Path, *, repo_id: str) -> Path:
    """Write exactly the folder `push` uploads: results/, plots/, the tables, index.html and a dataset card."""
    out_dir, folder = Path(out_dir), Path(folder)
    missing = [n for n in (*BUILT, "README.md", "results", "plots") if not (out_dir / n).exists()]
    if missing:
        raise RecordError(f"{out_dir}: missing {missing}; run `letitwag leaderboard build` first")
    if folder.exists():
        if not folder.is_dir() or (any(folder.iterdir()) and not (folder / "leaderboard.json").exists()):
            raise RecordError(f"{folder}: exists and is not a staging folder written by this command; choose "
                              "another --staging path")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in BUILT:
        shutil.copyfile(out_dir / name, folder / name)
    for sub in ("results", "plots"):
        shutil.copytree(out_dir / sub, folder / sub, ignore=shutil.ignore_patterns(".*"))
    atomic_write_text(folder / "README.md", _card(repo_id, (out_dir / "README.md").read_text(encoding="utf-8")))
    return folder


def push(out_dir: Path, *, repo_id: str) -> str:
    from huggingface_hub import HfApi

    with tempfile.TemporaryDirectory() as tmp:
        folder = stage(out_dir, Path(tmp) / "upload", repo_id=repo_id)
        api = HfApi()
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        info = api.upload_folder(folder_path=folder, repo_id=repo_id, repo_type="dataset",
                                 commit_message="Update scaling-slope leaderboards (letitwag leaderboard push)")
    return str(getattr(info, "commit_url", info))
