#!/usr/bin/env bash
# The one-command GPU check of issue 7, for a session that is lent a GPU (H100 or H200):
#   here:       bash benchmarks/gpu_wheels.sh
#   device run: command "bash benchmarks/gpu_check.sh", carry [".whl"], timeout_s 600
# Runs the CUDA tests (fallbacks and top-1 agreement on the GPU path), then the full benchmark
# (ViT-B-32 random init, 20,000 synthetic 400x300 JPEGs, 290 classes; ceiling vs clip_benchmark vs ours;
# letitwag eval with 3 models vs 1). Logs and JSON land in $OUT (or /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONPATH=src
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:src
fi
out="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, torchvision, open_clip, datasets, pyarrow; print('torch', torch.__version__, \
'torchvision', torchvision.__version__, 'open_clip', open_clip.__version__, 'datasets', datasets.__version__, \
'pyarrow', pyarrow.__version__, 'cpus', __import__('os').cpu_count())" | tee -a "$out/gpu.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_fasteval.py -s -k "cuda or agreement or mixed or rejection" \
    2>&1 | tee "$out/tests.log"
python3 benchmarks/bench_throughput.py --full --multi --data-dir /tmp/letitwag-bench --json "$out/bench_full.json" \
    "$@" 2>&1 | grep -v 'it/s]' | tee "$out/bench.log"
