"""The leaderboard's static page and plot files, rendered from the built leaderboard data.

Plots are SVG written by matplotlib with a fixed hash salt, no date and text kept as text, so the
same data gives the same bytes. Per-model curves are drawn in the page from the data embedded once
(one JSON blob), not as one image per model, so the page scales to thousands of models.
"""

from __future__ import annotations

import io
import json
import re

import jinja2
import markupsafe
import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

SVG_RC = {"svg.hashsalt": "letitwag-bench", "svg.fonttype": "none", "font.size": 8,
          "font.family": "DejaVu Sans", "path.simplify": True}
_MAX_LABELS = 120  # forest plots with more models drop the per-model tick labels


def _svg(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(SVG_RC):
        # The matplotlib version is recorded: SVG bytes are only reproducible with the same version.
        fig.savefig(buf, format="svg", bbox_inches="tight",
                    metadata={"Date": None, "Creator": f"letitwag-bench, matplotlib {matplotlib.__version__}"})
    return buf.getvalue()


def slopes_plot(bench: dict) -> bytes:
    """All models' slopes with their intervals, steepest at the top."""
    models = sorted(bench["models"], key=lambda r: (r["slope"], r["slug"]))
    k = len(models)
    with matplotlib.rc_context(SVG_RC):
        fig = Figure(figsize=(6.5, 1.0 + 0.16 * min(k, 400)))
        ax = fig.add_subplot()
        y = np.arange(k)
        slope = np.array([r["slope"] for r in models])
        lo = np.array([r["slope_ci_low"] for r in models])
        hi = np.array([r["slope_ci_high"] for r in models])
        ax.hlines(y, lo, hi, color="#4c72b0", linewidth=1.2)
        ax.plot(slope, y, "o", color="#1f3b73", markersize=3)
        if k <= _MAX_LABELS:
            ax.set_yticks(y, [r["model"] for r in models])
        else:
            ax.set_yticks([])
            ax.set_ylabel(f"{k} models, sorted by slope")
        ax.set_ylim(-1, k)
        ax.set_xlabel(f"slope: pp {bench['metric']} per 10× pretraining examples ({bench['ci_level']:.0%} CI)")
        ax.set_title(bench["title"])
        ax.grid(axis="x", alpha=0.3)
        return _svg(fig)


def curves_plot(bench: dict) -> bytes:
    """Every model's binned scaling curve on one axis."""
    with matplotlib.rc_context(SVG_RC):
        fig = Figure(figsize=(6.5, 4.0))
        ax = fig.add_subplot()
        segments = []
        for slug in sorted(bench["curves"]):
            c = bench["curves"][slug]
            pts = [(x, y) for x, y in zip(c["x"], c["y"], strict=True) if y is not None]
            if len(pts) > 1:
                segments.append(pts)
        alpha = 0.8 if len(segments) <= 50 else max(0.05, 40 / len(segments))
        ax.add_collection(LineCollection(segments, linewidths=0.8, alpha=alpha, colors="#4c72b0"))
        ax.autoscale()
        ax.set_xlabel(f"log10 pretraining count ({bench['corpus']}, {bench['method']})")
        ax.set_ylabel(f"mean {bench['metric']} per bin (%)")
        ax.set_title(f"{bench['title']}: binned curves of {len(bench['curves'])} models")
        ax.grid(alpha=0.3)
        return _svg(fig)


def _code(text: str) -> markupsafe.Markup:
    """Escape `text` and show its `backticked` names (Markdown, as in README.md) as <code>."""
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(markupsafe.escape(text))))


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("letitwag_bench", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["code"] = _code
    return env


def _embed(data: dict) -> str:
    # `</` would end the <script> element early; JSON allows the escaped form.
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("</", "<\\/")


def render(data: dict) -> dict[str, str | bytes]:
    """Page and plots: ``{"index.html": ..., "plots/<benchmark>_slopes.svg": ..., ...}``."""
    files: dict[str, str | bytes] = {}
    for bid, bench in data["benchmarks"].items():
        files[f"plots/{bid}_slopes.svg"] = slopes_plot(bench)
        files[f"plots/{bid}_curves.svg"] = curves_plot(bench)
    curves = {bid: b["curves"] for bid, b in data["benchmarks"].items()}
    html = _env().get_template("leaderboard.html.j2").render(data=data, curves_json=_embed(curves))
    files["index.html"] = html
    return files
