"""Added cost of the frequency stratification over a plain clip_benchmark zero-shot run.

Same images (2,000 synthetic, in a Let It Wag!-shaped parquet with 290 classes' labels), same tiny
random-init open_clip model, CPU. Measured in one process:

- plain: clip_benchmark's own ``zeroshot_classification.evaluate`` on the dataset (with the numpy-safe
  ``accuracy``, since the shipped one fails on numpy ≥ 2.4);
- stratified: the glue's ``evaluate`` on the same dataset carrying its class → concept map: the plain
  evaluation, plus capture of the logits, counts loaded cold, per-concept table, scaling fit with the
  default 2,000 bootstrap resamples, and the sidecar written.

Prints both times (median of --repeats, in alternating order) and the ratio stratified / plain − 1 (target ≤ 3%).
Run: ``python benchmarks/clip_benchmark_overhead.py`` (needs the test helpers in tests/).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from _clip_benchmark_support import save_tiny_model, write_letitwag_parquet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--classes", type=int, default=100, help="Let It Wag! classes the images are spread over")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    import open_clip
    from clip_benchmark.metrics import zeroshot_classification as zsc

    from letitwag_bench.concept_results import write_sidecar
    from letitwag_bench.counts import letitwag_classes
    from letitwag_bench.datasets import letitwag as lw
    from letitwag_bench.datasets.templates import clip_templates
    from letitwag_bench.harness import clip_benchmark as glue

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="letitwag-overhead-"))
    labels = list(letitwag_classes()["class_name"][: args.classes])
    write_letitwag_parquet(tmp / "data", labels, per_class=-(-args.images // len(labels)))
    model_dir = save_tiny_model(tmp / "model")
    model, _, transform = open_clip.create_model_and_transforms(f"local-dir:{model_dir}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{model_dir}")
    model.eval()

    hf = lw.load_letitwag(tmp / "data").select(range(args.images))
    plain_ds = lw.LetItWagTorchDataset(hf, transform, clip_templates("en", None, ["letitwag"]))
    strat_ds = lw.LetItWagTorchDataset(hf, transform, plain_ds.templates)
    strat_ds.letitwag_stratification = glue.Stratification(
        dataset="letitwag", class_names=lw.label_names(hf), class_concepts=lw.class_concepts(hf))

    plain_eval = zsc.evaluate
    strat_eval = glue._wrap_evaluate(zsc, plain_eval)

    def plain() -> None:
        loader = torch.utils.data.DataLoader(plain_ds, batch_size=args.batch_size, num_workers=0)
        with glue._swapped(zsc, accuracy=glue.accuracy):
            plain_eval(model, loader, tokenizer, plain_ds.classes, plain_ds.templates, device="cpu", amp=False)

    def stratified() -> None:
        glue._table.cache_clear()  # the CLI loads the counts once per run: count it every time
        glue._current = glue._Run(pretrained="laion400m_e32")
        try:
            loader = torch.utils.data.DataLoader(strat_ds, batch_size=args.batch_size, num_workers=0)
            strat_eval(model, loader, tokenizer, strat_ds.classes, strat_ds.templates, device="cpu", amp=False)
            write_sidecar(glue._current.result.table, tmp / "out.concepts.csv")
        finally:
            glue._current = None

    times: dict[str, list[float]] = {"plain": [], "stratified": []}
    pair = (("plain", plain), ("stratified", stratified))
    for i in range(args.repeats):
        for name, fn in pair if i % 2 == 0 else pair[::-1]:  # alternate the order: no drift favours one
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    # The added step alone, on fixed predictions: steadier than a difference of two noisy totals.
    rng = torch.Generator().manual_seed(0)
    targets = torch.tensor(hf["label"]).numpy()
    predictions = torch.randint(0, len(labels), (len(targets),), generator=rng).numpy()
    step = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        glue._table.cache_clear()
        choice = glue.choose_counts("laion400m_e32", "letitwag")
        result = glue.stratify(predictions, targets, strat_ds.letitwag_stratification, choice)
        write_sidecar(result.table, tmp / "step.concepts.csv")
        step.append(time.perf_counter() - t)
    p, s = statistics.median(times["plain"]), statistics.median(times["stratified"])
    print(f"{args.images} images, {len(labels)} classes, tiny model, CPU (1 thread), median of {args.repeats}")
    print(f"plain      {p:.3f} s  {[round(t, 3) for t in times['plain']]}")
    print(f"stratified {s:.3f} s  {[round(t, 3) for t in times['stratified']]}")
    print(f"overhead ratio (stratified / plain - 1): {s / p - 1:+.2%}  (target <= 3%)")
    print(f"stratification step alone (counts load, fit, sidecar): {statistics.median(step):.3f} s = "
          f"{statistics.median(step) / p:.2%} of plain")


if __name__ == "__main__":
    main()
