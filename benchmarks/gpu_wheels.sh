#!/usr/bin/env bash
# Run HERE (where pip reaches the package index), before a GPU session's device run: downloads into .whl/
# the pure-Python packages the device image lacks (it has torch, torchvision, pyarrow, pandas, sklearn,
# timm, typer, ... but not open_clip, clip_benchmark, datasets). .whl/ is git-ignored (.gitignore) and
# travels with `carry: [".whl"]`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    open_clip_torch==3.3.0 clip-benchmark==1.6.2 ftfy==6.3.1 wcwidth==0.9.4 \
    datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
ls -la .whl
