"""Let It Wag! evaluation throughput: encoder-only ceiling vs the standard clip_benchmark path vs ours.

Generates a synthetic Let It Wag!-shaped set (N 400×300 JPEGs, the 290 classes) as a Hugging Face
parquet and measures, in one run on one machine:

1. encoder-only ceiling: ``encode_image`` + classifier on a batch already on the device;
2. standard path: ``clip_benchmark.metrics.zeroshot_classification.evaluate`` with a torch DataLoader
   (PIL decode + the model's open_clip preprocess in worker processes);
3. ours: ``letitwag_bench.fasteval.evaluate`` (decode ``auto``: JPEGs decoded and preprocessed on the
   GPU with CUDA, the standard PIL path on CPU);
4. with ``--multi``: the ``letitwag eval`` command with 3 models vs 1 model (same images).

Images/s are over the image pass (read → decode → preprocess → encode → top-k); the text classifier
is timed separately (clip_benchmark: one batch per class; ours: all prompts in large batches).

    python benchmarks/bench_throughput.py --small --multi   # CPU, CI-sized: tiny random-init model, 2,000 images
    python benchmarks/bench_throughput.py --full --multi    # GPU: ViT-B-32 random init, 20,000 images
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # shared tiny-model/data fixtures
from tiny_clip import jpeg_bytes, save_tiny_clip, synthetic_image, write_letitwag_parquet

from letitwag_bench import fasteval
from letitwag_bench.concepts import display_name
from letitwag_bench.counts import letitwag_classes


def _make_images(args: tuple[int, int, int]) -> list[bytes]:
    start, stop, n_classes = args
    out = []
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        out.append(jpeg_bytes(synthetic_image(rng, (400, 300), i % n_classes), quality=90))
    return out


def make_dataset(root: Path, n: int, workers: int) -> Path:
    """The synthetic set as a parquet with the Let It Wag! features; reused when already there."""
    names = letitwag_classes()["class_name"].tolist()
    path = root / f"letitwag-synthetic-{n}" / "data" / "test-00000-of-00001.parquet"
    if path.exists():
        return path.parents[1]
    step = max(1, n // (workers * 4))
    parts = [(s, min(n, s + step), len(names)) for s in range(0, n, step)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        datas = [d for part in pool.map(_make_images, parts) for d in part]
    write_letitwag_parquet(path, datas, [i % len(names) for i in range(n)], names)
    return path.parents[1]


class ParquetImages(torch.utils.data.Dataset):
    """The standard path's dataset: encoded bytes in memory, PIL decode + open_clip preprocess per item."""

    def __init__(self, source: fasteval.ImageSource, transform, classes: list[str]):
        self.data: list[bytes] = []
        self.labels: list[int] = []
        for chunk in source.chunks(4096):
            self.data.extend(chunk.data)
            self.labels.extend(chunk.labels.tolist())
        self.transform = transform
        self.classes = classes

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.open(io.BytesIO(self.data[i])).convert("RGB")), self.labels[i]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def encoder_ceiling(m: fasteval.LoadedModel, classifier: torch.Tensor, n: int, batch: int,
                    device: torch.device, amp: bool) -> float:
    x = torch.randn(batch, 3, *m.spec.size, device=device)
    steps = max(1, n // batch)
    with torch.no_grad(), torch.autocast(device.type, enabled=amp):
        for _ in range(2):  # warm-up
            m.model.encode_image(x)
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            feats = F.normalize(m.model.encode_image(x), dim=-1)
            (100.0 * feats @ classifier).float().topk(5, dim=1)
        _sync(device)
    return steps * batch / (time.perf_counter() - t)


def standard_path(m: fasteval.LoadedModel, source: fasteval.ImageSource, classnames: list[str],
                  templates: list[str], device: torch.device, batch: int, workers: int, amp: bool) -> dict:
    from clip_benchmark.metrics import zeroshot_classification as zsc

    # clip-benchmark 1.6.2's accuracy() calls float() on a 1-element array, an error on numpy >= 2.4;
    # same arithmetic on a scalar here (only for this benchmark's run).
    def accuracy(output, target, topk=(1,)):
        pred = output.topk(max(topk), 1, True, True)[1].t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        return [float(correct[:k].reshape(-1).float().sum()) / len(target) for k in topk]

    timed = {}
    original = zsc.zero_shot_classifier

    def classifier(*a, **kw):
        t = time.perf_counter()
        out = original(*a, **kw)
        _sync(device)
        timed["classifier"] = time.perf_counter() - t
        return out

    zsc.accuracy, zsc.zero_shot_classifier = accuracy, classifier
    try:
        dataset = ParquetImages(source, m.spec.standard_transform(), classnames)
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers, shuffle=False,
                                             pin_memory=device.type == "cuda")
        t = time.perf_counter()
        metrics = zsc.evaluate(m.model, loader, m.tokenizer, classnames, templates, device.type, amp=amp)
        total = time.perf_counter() - t
    finally:
        zsc.zero_shot_classifier = original
    return {"total": total, "classifier": timed["classifier"], "images": total - timed["classifier"],
            "acc1": metrics["acc1"]}


def our_path(m: fasteval.LoadedModel, source: fasteval.ImageSource, classnames: list[str], templates: list[str],
             device: torch.device, batch: int, workers: int, amp: bool, decode: str) -> dict:
    t = time.perf_counter()
    run = fasteval.evaluate([m], source, classnames, templates, device=device, batch_size=batch, amp=amp,
                            decode=decode, workers=workers)
    return {"total": time.perf_counter() - t, **run.seconds, "acc1": run.predictions[0].metrics()["acc1"],
            "routes": dict(run.routes)}


def multi_model(models: list[str], root: Path, out: Path, batch: int, workers: int, device: torch.device,
                repeats: int) -> dict:
    """``letitwag eval`` in-process (no interpreter start-up) with the first model and with all of them,
    alternating, ``repeats`` times each; the fastest run of each counts (the least disturbed by other work)."""
    from typer.testing import CliRunner

    from letitwag_bench.cli import app

    timings: dict[int, list[float]] = {1: [], len(models): []}
    for _ in range(repeats):
        for k in timings:
            t = time.perf_counter()
            result = CliRunner().invoke(app, ["eval", "--models", *models[:k], "--dataset-root", str(root),
                                              "--output", str(out / f"{k}"), "--batch-size", str(batch),
                                              "--workers", str(workers), "--device", str(device)])
            timings[k].append(time.perf_counter() - t)
            if result.exit_code != 0:
                raise RuntimeError(f"letitwag eval failed:\n{result.output}")
            print(f"  letitwag eval, {k} model(s): {timings[k][-1]:.2f} s  | "
                  f"{result.output.strip().splitlines()[-1]}")
    one, many = min(timings[1]), min(timings[len(models)])
    return {"one": one, "many": many, "n_models": len(models), "ratio": many / one, "runs": timings}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--small", action="store_true", help="CPU, CI-sized: tiny model, 2,000 images")
    mode.add_argument("--full", action="store_true", help="GPU: ViT-B-32 random init, 20,000 images")
    ap.add_argument("--n-images", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="DataLoader workers / PIL threads")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--data-dir", type=Path, help="where to keep the synthetic set (default: a temp dir)")
    ap.add_argument("--multi", action="store_true", help="also time `letitwag eval` with 3 models vs 1")
    ap.add_argument("--only-multi", action="store_true", help="time only `letitwag eval` with 3 models vs 1")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each `letitwag eval` timing (fastest counts)")
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                    help="autocast for every path (default: on CUDA only)")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    ap.add_argument("--torch-threads", type=int, help="torch intra-op threads for every path (default: torch's); "
                    "1 avoids OpenMP spin-waiting on a CPU shared with other work")
    args = ap.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    device = torch.device(args.device)
    amp = device.type == "cuda" if args.amp is None else args.amp
    n = args.n_images or (2000 if args.small else 20000)
    batch = args.batch_size or (128 if args.small else 512)
    tmp = Path(tempfile.mkdtemp(prefix="letitwag-bench-"))
    data_dir = args.data_dir or tmp
    t = time.perf_counter()
    root = make_dataset(data_dir, n, args.workers)
    print(f"synthetic set: {n} 400x300 JPEGs, 290 classes, at {root} ({time.perf_counter() - t:.1f} s)")

    if args.small:
        model_names = [save_tiny_clip(tmp / f"tiny{s}", seed=s) for s in range(3)]
        model = fasteval.LoadedModel.load(model_names[0], None, device)
        label = "tiny random-init CLIP (ViT 2x64, text 2x64, 64 px)"
    else:
        # three distinct models (one with another input size: a second preprocessing group)
        model_names = ["ViT-B-32", "ViT-B-32-quickgelu", "ViT-B-32-256"]
        model = fasteval.LoadedModel.load("ViT-B-32", None, device)
        label = "ViT-B-32 random init"
    source = fasteval.open_source(root)
    classnames = [display_name(c, letitwag_label=True) for c in source.class_names]
    templates = fasteval.clip_templates()
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "-"
    print(f"device {device} ({gpu}), {os.cpu_count()} CPU cores, torch {torch.__version__}; model {label}; "
          f"batch {batch}; amp {amp}; {args.workers} workers/threads; torch threads {torch.get_num_threads()}")

    report = {"n_images": n, "batch": batch, "device": str(device), "gpu": gpu, "cpu_cores": os.cpu_count(),
              "model": label, "torch_threads": torch.get_num_threads()}
    if not args.only_multi:
        report.update(compare_paths(model, source, classnames, templates, device, n, batch, args.workers, amp))
    if args.multi or args.only_multi:
        print("\nletitwag eval, decode once for many models:")
        multi = multi_model(model_names, root, tmp / "out", batch, args.workers, device, args.repeats)
        print(f"  {multi['n_models']} models / 1 model = {multi['ratio']:.2f}x (fastest of {args.repeats} runs each)")
        report["multi"] = multi
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))


def compare_paths(model: fasteval.LoadedModel, source: fasteval.ImageSource, classnames: list[str],
                  templates: list[str], device: torch.device, n: int, batch: int, workers: int, amp: bool) -> dict:
    with torch.no_grad():
        clf = fasteval.zero_shot_classifier(model.model, model.tokenizer, classnames, templates, device, amp=amp)
    ceiling = encoder_ceiling(model, clf, n, batch, device, amp)
    standard = standard_path(model, source, classnames, templates, device, batch, workers, amp)
    ours = our_path(model, source, classnames, templates, device, batch, workers, amp, "auto")
    rows = [("encoder-only ceiling", None, ceiling),
            (f"standard clip_benchmark (DataLoader x{workers})", standard, n / standard["images"]),
            (f"ours (decode auto → {'tensor on GPU' if device.type == 'cuda' else 'PIL threads'})", ours,
             n / ours["images"])]
    if device.type == "cpu":  # for information: the tensor path on CPU (libjpeg + torch resize)
        tensor_cpu = our_path(model, source, classnames, templates, device, batch, workers, amp, "tensor")
        rows.append(("ours, --decode tensor on CPU", tensor_cpu, n / tensor_cpu["images"]))

    print(f"\n{'path':<52}{'images/s':>10}{'image pass s':>14}{'classifier s':>14}{'% ceiling':>11}{'× standard':>12}")
    std_rate = n / standard["images"]
    for name, res, rate in rows:
        print(f"{name:<52}{rate:>10.0f}{(n / rate):>14.2f}"
              f"{(res['classifier'] if res else float('nan')):>14.2f}"
              f"{100 * rate / ceiling:>10.1f}%{rate / std_rate:>11.2f}x")
    print(f"\nours / ceiling = {n / ours['images'] / ceiling:.3f}   ours / standard = "
          f"{standard['images'] / ours['images']:.2f}x   end-to-end incl. classifier: ours {ours['total']:.2f} s, "
          f"standard {standard['total']:.2f} s ({standard['total'] / ours['total']:.2f}x)")
    print(f"acc1 standard {standard['acc1']:.4f} vs ours {ours['acc1']:.4f}; ours' routes {ours['routes']}")
    return {"ceiling_images_per_s": ceiling, "standard": standard, "ours": ours}


if __name__ == "__main__":
    main()
