"""Compare two models on one benchmark: paired slope difference, top-1 difference, overlay plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from letitwag_bench import leaderboard as lb
from letitwag_bench import stats
from letitwag_bench._io import atomic_write_bytes
from letitwag_bench.counts import load_counts
from letitwag_bench.leaderboard_html import SVG_RC, _svg
from letitwag_bench.records import RecordError, read_record


def _record(results_dir: Path, slug: str, benchmark: str):
    path = Path(results_dir) / slug / f"{benchmark}.json"
    if not path.exists():
        have = sorted(p.parent.name for p in Path(results_dir).glob(f"*/{benchmark}.json"))
        raise RecordError(f"{path}: no {benchmark!r} record for model {slug!r}; models with one: "
                          f"{', '.join(have) or 'none'}")
    return read_record(path)


def compare_models(results_dir: Path, slug_a: str, slug_b: str, benchmark: str, *, plot: Path | None,
                   counts_source: str = "bundled", n_bootstrap: int = lb.N_BOOTSTRAP, seed: int = lb.SEED) -> dict:
    if benchmark not in lb.BENCHMARKS:
        raise RecordError(f"unknown benchmark {benchmark!r}; known: {', '.join(lb.BENCHMARKS)}")
    index = lb.ConceptIndex(lb.BENCHMARKS[benchmark].counts(load_counts(counts_source)))
    acc, n = index.values([_record(results_dir, slug_a, benchmark), _record(results_dir, slug_b, benchmark)])
    shared = index.frame["count"].notna().to_numpy() & ~np.isnan(acc).any(axis=0)
    if not shared.any():
        raise RecordError(f"{slug_a} and {slug_b} share no counted concepts on {benchmark!r}")
    acc, n = acc[:, shared], n[:, shared]
    counts = index.frame["count"][shared].to_numpy(float)
    cmp = stats.compare_slopes(acc[0], acc[1], counts, n_bootstrap=n_bootstrap, seed=seed)
    fit_a, fit_b = stats.fit_scaling_many(acc, counts, n_bootstrap=n_bootstrap, seed=seed)
    top_a, top_b = lb.top1(acc[0], n[0]), lb.top1(acc[1], n[1])
    result = {
        "benchmark": benchmark, "model_a": slug_a, "model_b": slug_b, "n_concepts": int(cmp.n_concepts),
        "slope_a": cmp.slope_a, "slope_b": cmp.slope_b, "slope_difference": cmp.difference,
        "ci_low": cmp.ci_low, "ci_high": cmp.ci_high, "p_value": cmp.p_value, "ci_level": cmp.ci_level,
        "top1_a": top_a, "top1_b": top_b, "top1_difference": top_a - top_b,
        "counts": {"corpus": lb.BENCHMARKS[benchmark].corpus, "method": lb.BENCHMARKS[benchmark].method},
        "plot": str(plot) if plot else None,
    }
    if plot is not None:
        atomic_write_bytes(Path(plot), overlay_plot({slug_a: fit_a, slug_b: fit_b}, benchmark))
    return result


def overlay_plot(fits: dict[str, stats.ScalingFit], title: str) -> bytes:
    with matplotlib.rc_context(SVG_RC):
        fig = Figure(figsize=(6.0, 4.0))
        ax = fig.add_subplot()
        for (name, f), colour in zip(fits.items(), ("#4c72b0", "#c44e52"), strict=False):
            b = f.binned
            ok = b.n > 0
            ax.errorbar(b.centre[ok], b.mean[ok], yerr=b.sem[ok], fmt="o", color=colour, markersize=4,
                        label=f"{name}: slope {f.slope:.2f} [{f.slope_ci_low:.2f}, {f.slope_ci_high:.2f}]")
            xs = np.array([f.log_count_min, f.log_count_max])
            ax.plot(xs, f.intercept + f.slope * xs, color=colour)
        ax.set_xlabel("log10 pretraining count")
        ax.set_ylabel("mean accuracy per bin (%)")
        ax.set_title(title)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        return _svg(fig)
