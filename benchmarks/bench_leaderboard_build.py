"""Speed of `letitwag leaderboard build` at scale: 1,000 synthetic models × 5,000 concepts.

Usage:
    python benchmarks/bench_leaderboard_build.py [--models 1000] [--concepts 5000] [--bootstrap 2000]

Writes the synthetic records as JSON files into a temporary folder, then times the build stages
(read + validate, fit, render + write) and prints them with the target (20 s), the build's CPU time
(wall time on a shared machine includes waiting for a core) and, as the baseline measured in the same
run, the time to merely `json.loads` the same files.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from letitwag_bench import leaderboard as lb
from letitwag_bench.records import (
    BenchmarkRef,
    Harness,
    ModelInfo,
    Provenance,
    ResultRecord,
    load_records,
    write_record,
)

TARGET_S = 20.0


def synthetic(models: int, concepts: int, seed: int = 0) -> tuple[lb.Benchmark, list[ResultRecord]]:
    rng = np.random.default_rng(seed)
    names = [f"concept {i:05d}" for i in range(concepts)]
    counts = np.floor(10 ** rng.uniform(0, 6, concepts)).astype(int)
    classes = pd.DataFrame({"dataset": "synth", "class_name": names, "concept": names})
    bench = lb.Benchmark(id="synthetic", version="1", title="Synthetic", metric="top-1 accuracy",
                         corpus="synthetic", method="synthetic", why="speed benchmark", class_table=classes,
                         count_table=classes.assign(count=pd.array(counts, dtype="Int64")))
    x = np.log10(np.maximum(counts, 1))
    records = []
    for m in range(models):
        slope, base = rng.uniform(0.02, 0.08), rng.uniform(0.0, 0.4)
        acc = np.clip(base + slope * x + rng.normal(0, 0.1, concepts), 0, 1)
        records.append(ResultRecord(
            model=ModelInfo(architecture=f"Synth-{m:04d}", pretrained="synthetic", display_name=f"Synth {m}",
                            corpus="synthetic"),
            benchmark=BenchmarkRef(id="synthetic", version="1"), harness=Harness(name="synthetic", version="0"),
            prompt_set="none", provenance=Provenance(kind="submitted", description="synthetic"),
            results={"synth": [[name, 100, round(float(a), 2)] for name, a in zip(names, acc, strict=True)]}))
    return bench, records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--concepts", type=int, default=5000)
    parser.add_argument("--bootstrap", type=int, default=lb.N_BOOTSTRAP)
    args = parser.parse_args()
    bench, records = synthetic(args.models, args.concepts)
    benchmarks = {bench.id: bench}
    with tempfile.TemporaryDirectory() as tmp:
        results, out = Path(tmp) / "results", Path(tmp) / "out"
        for rec in records:
            write_record(rec, results)
        del records
        size = sum(p.stat().st_size for p in results.rglob("*.json"))

        t0 = time.perf_counter()
        for p in sorted(results.rglob("*.json")):
            json.loads(p.read_text())
        baseline = time.perf_counter() - t0

        t0, c0 = time.perf_counter(), time.process_time()
        recs = load_records(results)
        lb.validate_records(recs, benchmarks=benchmarks)
        t1 = time.perf_counter()
        data = lb.leaderboard_data(lb.evaluate(recs, None, n_bootstrap=args.bootstrap, benchmarks=benchmarks),
                                   {"source": "synthetic", "revision": "0", "digest": "0"}, benchmarks)
        t2 = time.perf_counter()
        written = lb.write_files(lb.render_files(data), out)
        t3, c3 = time.perf_counter(), time.process_time()
        out_size = sum(p.stat().st_size for p in written)
    total = t3 - t0
    print(f"{args.models} models x {args.concepts} concepts, {args.bootstrap} bootstrap resamples; "
          f"records {size / 1e6:.0f} MB, outputs {out_size / 1e6:.1f} MB")
    print(f"read+validate {t1 - t0:6.2f} s")
    print(f"fit           {t2 - t1:6.2f} s  ({(t2 - t1) / args.models * 1e3:.1f} ms per model)")
    print(f"render+write  {t3 - t2:6.2f} s")
    print(f"total build   {total:6.2f} s  (target {TARGET_S:.0f} s: {'met' if total <= TARGET_S else 'MISSED'}, "
          f"{total / TARGET_S:.2f}x)")
    print(f"CPU time of the build {c3 - c0:6.2f} s (wall time above includes waiting on a shared machine)")
    print(f"baseline json.loads of the records {baseline:.2f} s; build / baseline = {total / baseline:.1f}x")


if __name__ == "__main__":
    main()
