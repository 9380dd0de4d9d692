"""`letitwag fit` and `letitwag compare-fit`: the scaling slope of per-concept results on concept frequency.

Input files are CSV with at least ``concept,accuracy`` (accuracy a fraction in [0, 1]); ``n`` (test
samples per concept) is used when present, ``count`` and ``dataset`` as described below, other columns
(``class_name``, ``correct``, …: the per-concept sidecar written by the harness adapters) are ignored.

Where the counts come from, in order:
1. ``--counts SRC``: counts from that source (``bundled``, a Hub id, a counts file/folder, or a
   ``concept,count`` CSV) for ``--corpus``/``--method``.
2. otherwise, when the file has a ``count`` column: those counts (the numbers the harness used when it
   wrote the sidecar, so a re-fit reproduces its slope); an empty cell means "no count".
3. otherwise the bundled counts.
Which dataset's counts: ``--dataset D`` for every row; otherwise, when the file has a ``dataset``
column, each row's own dataset where the counts source has it (so a pooled file joins every dataset's
classes to that dataset's counts), and the concept's count over all datasets (the largest) elsewhere.
Rows are keyed by concept, or by (dataset, concept) when the file has a ``dataset`` column; a key may
occur once. Concepts without a count are listed on stderr and in the JSON and left out of the fit.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from letitwag_bench.cli._common import user_errors
from letitwag_bench.concepts import concept_key
from letitwag_bench.counts import CountsTable, load_counts
from letitwag_bench.stats import (
    DEFAULT_TAIL_THRESHOLD,
    StatsError,
    compare_slopes,
    examples_needed,
    fit_scaling,
    logistic_fit,
)

DEFAULT_CORPUS = "laion400m"
DEFAULT_METHOD = "matched"
TARGETS_PCT = (50.0, 80.0)
_SHOW_MISSING = 20  # concepts listed on stderr; the JSON lists all


class FitInputError(ValueError):
    """An accuracy file is unusable; the message names the file, the field and what was expected."""


class Weighting(str, Enum):
    equal = "equal"
    n = "n"


class CIMethod(str, Enum):
    percentile = "percentile"
    bca = "bca"


# ---------------------------------------------------------------------------------------------------
# Reading accuracy files


def read_accuracy_file(path: Path) -> pd.DataFrame:
    """Read and validate a per-concept accuracy CSV.

    Returns a frame with ``key`` (``concept`` or ``dataset:concept``), ``concept`` (normalised with
    :func:`concept_key`), ``dataset`` (or None), ``accuracy`` (fraction), ``n`` (Int64 or <NA>) and
    ``count`` (float, NaN when empty or absent), sorted by (dataset, concept) so that results do not depend on the
    order of rows in the file (the bootstrap resamples positions). Raises :class:`FitInputError`.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError as err:
        raise FitInputError(f"{path}: no such file") from err
    except pd.errors.EmptyDataError as err:
        raise FitInputError(f"{path}: file is empty; expected a CSV with columns concept,accuracy[,n]"
                            ) from err
    except (pd.errors.ParserError, UnicodeDecodeError, IsADirectoryError) as err:
        raise FitInputError(f"{path}: not a readable CSV file ({err})") from err
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in ("concept", "accuracy") if c not in raw.columns]
    if missing:
        raise FitInputError(f"{path}: missing column(s) {missing}; expected a CSV with columns "
                            f"concept,accuracy[,n] (found {list(raw.columns)})")
    if raw.empty:
        raise FitInputError(f"{path}: no rows; expected one row per concept")
    line = pd.Series(np.arange(len(raw)) + 2, index=raw.index)  # line numbers as an editor shows them

    def fail(field: str, bad: pd.Series, expected: str) -> None:
        i = bad[bad].index[0]
        raise FitInputError(f"{path}: line {line[i]}, field {field!r}: got {raw.at[i, field]!r}; "
                            f"expected {expected} ({int(bad.sum())} bad row(s))")

    concept_raw = raw["concept"].str.strip()
    empty = concept_raw == ""
    if empty.any():
        fail("concept", empty, "a concept name")
    out = pd.DataFrame({"concept": concept_raw.map(concept_key)})
    out["dataset"] = raw["dataset"].str.strip() if "dataset" in raw.columns else None
    if "dataset" in raw.columns and (out["dataset"] == "").any():
        fail("dataset", out["dataset"] == "", "a dataset name (the column is there, so every row needs one)")

    acc = pd.to_numeric(raw["accuracy"], errors="coerce")
    bad = acc.isna() | ~np.isfinite(acc)
    if bad.any():
        fail("accuracy", bad, "a number")
    bad = (acc < 0) | (acc > 1)
    if bad.any():
        hint = " — looks like percent; divide by 100" if acc.max() <= 100 else ""
        fail("accuracy", bad, f"a fraction in [0, 1]{hint}")
    out["accuracy"] = acc.astype(float)

    out["n"] = pd.array([pd.NA] * len(raw), dtype="Int64")
    if "n" in raw.columns:
        n = pd.to_numeric(raw["n"], errors="coerce")
        bad = n.isna() | (n < 1) | (n != n.round())
        if bad.any():
            fail("n", bad, "an integer ≥ 1 (test samples of the concept)")
        out["n"] = n.astype("Int64")

    out["count"] = np.nan
    if "count" in raw.columns:
        text = raw["count"].str.strip()
        count = pd.to_numeric(text, errors="coerce")
        bad = (text != "") & (count.isna() | (count < 0) | (count != count.round()))
        if bad.any():
            fail("count", bad, "an integer ≥ 0, or empty for a concept without a count")
        out["count"] = count.astype(float)

    out.attrs["has_count"] = "count" in raw.columns
    pooled = out["dataset"].notna().any()
    out.insert(0, "key", out["dataset"] + ":" + out["concept"] if pooled else out["concept"])
    dup = out["key"].duplicated(keep=False)
    if dup.any():
        first = out.loc[dup, "key"].iloc[0]
        lines = ", ".join(str(v) for v in line[dup & (out["key"] == first)])
        what = "(dataset, concept)" if out["dataset"].notna().any() else "concept"
        raise FitInputError(f"{path}: field 'concept': {first!r} occurs on lines {lines} (after normalising "
                            f"names with concept_key); each {what} may appear once")
    # Canonical order (dataset, then concept), the leaderboard's too: same concepts → same resamples.
    return out.sort_values(["dataset", "concept"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------
# Counts


@dataclass(frozen=True)
class CountsUsed:
    """Counts joined to an accuracy table and where they came from."""

    counts: pd.Series  # float per row of the accuracy table, NaN where there is none
    source: str
    revision: str
    corpus: str | None
    method: str | None
    dataset: str | None  # the --dataset given, "per-row" for a pooled file, None for "all datasets"
    notes: tuple[str, ...] = ()  # how rows of datasets the source lacks were joined


def _pick(name: str, given: str | None, default: str, options: list[str], source: str) -> str:
    """The corpus/method to use: the given one, else the default if the source has it, else its only one."""
    if given is not None:
        if given not in options:
            raise FitInputError(f"unknown {name} {given!r} in counts source {source!r}; valid: {', '.join(options)}")
        return given
    if default in options:
        return default
    if len(options) == 1:
        return options[0]
    raise FitInputError(f"counts source {source!r} has no {name} {default!r} and several others; choose one "
                        f"with --{name} ({', '.join(options)})")


def _file_digest(path: Path) -> str:
    return f"sha256-{hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]}"


def join_counts(table: pd.DataFrame, path: Path, *, counts: str | None, corpus: str | None,
                method: str | None, dataset: str | None) -> CountsUsed:
    """Counts for each row of an accuracy table (module docstring: which source and which dataset)."""
    if counts is None and table.attrs["has_count"]:
        if corpus or method or dataset:
            raise FitInputError(f"{path}: has a 'count' column, so --corpus/--method/--dataset need "
                                "--counts SRC to say where other counts come from")
        return CountsUsed(table["count"], source=f"file:{path}", revision=_file_digest(path), corpus=None,
                          method=None, dataset=None)
    source = counts or "bundled"
    counts_table: CountsTable = load_counts(source)
    corpus = _pick("corpus", corpus, DEFAULT_CORPUS, counts_table.corpora(), source)
    method = _pick("method", method, DEFAULT_METHOD, counts_table.methods(corpus=corpus), source)
    if dataset is not None or table["dataset"].isna().all():
        lookup = counts_table.concept_counts(corpus, method, dataset)
        joined = table["concept"].map(lookup).astype(float)
        return CountsUsed(joined, source, counts_table.revision, corpus, method, dataset)
    joined = pd.Series(np.nan, index=table.index)
    _, upstream = counts_table.resolve(corpus=corpus, method=method)
    frame = counts_table.frame
    counted = set(frame.loc[(frame["corpus"] == corpus) & (frame["method"] == upstream), "dataset"])
    notes = []
    for name, rows in table.groupby("dataset"):
        if name in counted:
            lookup = counts_table.concept_counts(corpus, method, name)
        elif name in counts_table.datasets():
            # Counted, but not for this corpus/method: no counts rather than another dataset's.
            notes.append(f"dataset {name!r} has no {corpus}/{method} counts in {source!r}; its concepts have none")
            continue
        else:
            notes.append(f"dataset {name!r} is not in {source!r}; its concepts get their count over all datasets")
            lookup = counts_table.concept_counts(corpus, method, None)
        joined[rows.index] = rows["concept"].map(lookup).astype(float)
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    return CountsUsed(joined, source, counts_table.revision, corpus, method, "per-row", tuple(notes))


def _report_missing(path: Path, keys: pd.Series, total: int, used: CountsUsed) -> list[str]:
    missing = sorted(keys)
    if missing:
        where = f"{used.source}" + (f" ({used.corpus}/{used.method})" if used.corpus else "")
        shown = ", ".join(missing[:_SHOW_MISSING]) + (f", … ({len(missing) - _SHOW_MISSING} more)"
                                                      if len(missing) > _SHOW_MISSING else "")
        typer.echo(f"warning: {path}: {len(missing)} of {total} concepts have no count in {where} and are "
                   f"left out of the fit: {shown}", err=True)
    return missing


# ---------------------------------------------------------------------------------------------------
# Commands

ACCURACY_HELP = "CSV: concept,accuracy[,n] (accuracy a fraction 0-1), or a per-concept sidecar."
AccuracyArg = Annotated[Path, typer.Argument(help=ACCURACY_HELP)]
CountsOpt = Annotated[str | None, typer.Option(
    "--counts", help="Counts source: 'bundled', ORG/NAME[@rev], a counts file/folder or a concept,count CSV. "
                     "Default: the file's 'count' column if it has one, else bundled.")]
DatasetOpt = Annotated[str | None, typer.Option(
    help="Use this dataset's counts for every concept (default: each row's 'dataset' column where present, "
         "else the largest count over all datasets).")]
CorpusOpt = Annotated[str | None, typer.Option(
    help=f"Pretraining corpus (default {DEFAULT_CORPUS}, or the source's only corpus).")]
MethodOpt = Annotated[str | None, typer.Option(
    help=f"Count method: matched, text, image or an upstream name (default {DEFAULT_METHOD}, "
         "or the source's only one).")]
BootstrapOpt = Annotated[int, typer.Option("--bootstrap", min=1, help="Bootstrap resamples over concepts.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the bootstrap (same inputs + seed → same interval).")]
CIOpt = Annotated[CIMethod, typer.Option("--ci-method", help="Bootstrap interval: percentile or BCa.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a summary.")]


def fit(
    accuracy: Annotated[Path, typer.Option("--accuracy", help=ACCURACY_HELP)],
    counts: CountsOpt = None,
    dataset: DatasetOpt = None,
    corpus: CorpusOpt = None,
    method: MethodOpt = None,
    weighting: Annotated[Weighting, typer.Option(help="equal: each concept weighs the same; n: weights ∝ n.")
                         ] = Weighting.equal,
    tail_threshold: Annotated[float, typer.Option(help="Count below which a concept is 'tail'.")
                              ] = DEFAULT_TAIL_THRESHOLD,
    bootstrap: BootstrapOpt = 2000,
    seed: SeedOpt = 0,
    ci_method: CIOpt = CIMethod.percentile,
    as_json: JsonOpt = False,
) -> None:
    """Fit per-concept accuracy against log10 pretraining count: slope (points per 10× examples) with a
    bootstrap interval, correlations, binned curve, tail/head accuracy and examples needed."""
    with user_errors(FitInputError, StatsError):
        table = read_accuracy_file(accuracy)
        used = join_counts(table, accuracy, counts=counts, corpus=corpus, method=method, dataset=dataset)
        have = used.counts.notna()
        missing = _report_missing(accuracy, table.loc[~have, "key"], len(table), used)
        rows = table[have]
        n = rows["n"].to_numpy(dtype=float, na_value=np.nan) if rows["n"].notna().all() else None
        if weighting is Weighting.n and n is None:
            raise FitInputError(f"{accuracy}: --weighting n needs an 'n' column with a value for every "
                                "concept")
        result = fit_scaling(rows["accuracy"].to_numpy(), used.counts[have].to_numpy(), n=n,
                             weighting=weighting.value, n_bootstrap=bootstrap, seed=seed,
                             tail_threshold=tail_threshold, ci_method=ci_method.value)
        needed = {t: examples_needed(result, t) for t in TARGETS_PCT}
        glm = None
        if n is not None:
            correct = np.round(rows["accuracy"].to_numpy() * n)
            try:
                glm = logistic_fit(correct, n, used.counts[have].to_numpy())
            except StatsError as err:  # an unidentified GLM should not hide the main fit
                typer.echo(f"warning: logistic fit skipped: {err}", err=True)
    out = {"accuracy_file": str(accuracy), **result.to_dict()}
    for t, e in needed.items():
        out[f"examples_needed_{t:g}"] = _py(e.count)
        out[f"examples_needed_{t:g}_extrapolated"] = e.extrapolated if e.defined else None
    out |= _counts_meta(used) | {"n_missing_counts": len(missing), "missing_counts": missing}
    out["logistic"] = glm.to_dict() if glm else None
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(_summary(out, result.binned.to_records()))


def compare_fit(
    accuracy_a: AccuracyArg,
    accuracy_b: AccuracyArg,
    counts: CountsOpt = None,
    dataset: DatasetOpt = None,
    corpus: CorpusOpt = None,
    method: MethodOpt = None,
    bootstrap: BootstrapOpt = 2000,
    seed: SeedOpt = 0,
    ci_method: CIOpt = CIMethod.percentile,
    as_json: JsonOpt = False,
) -> None:
    """Compare two models' slopes on their shared concepts: difference A − B, interval and p-value
    (paired bootstrap over concepts). Counts come from A's file unless --counts is given."""
    with user_errors(FitInputError, StatsError):
        a = read_accuracy_file(accuracy_a)
        b = read_accuracy_file(accuracy_b)
        used = join_counts(a, accuracy_a, counts=counts, corpus=corpus, method=method, dataset=dataset)
        a = a.assign(count=used.counts)
        shared = a.merge(b[["key", "accuracy"]], on="key", suffixes=("_a", "_b"))
        have = shared["count"].notna()
        missing = _report_missing(accuracy_a, shared.loc[~have, "key"], len(shared), used)
        shared = shared[have]
        result = compare_slopes(shared["accuracy_a"].to_numpy(), shared["accuracy_b"].to_numpy(),
                                shared["count"].to_numpy(), n_bootstrap=bootstrap, seed=seed,
                                ci_method=ci_method.value)
    only_a = sorted(set(a["key"]) - set(b["key"]))
    only_b = sorted(set(b["key"]) - set(a["key"]))
    for path, keys in ((accuracy_a, only_a), (accuracy_b, only_b)):
        if keys:
            typer.echo(f"note: {len(keys)} concepts only in {path} are not compared", err=True)
    out = {"accuracy_file_a": str(accuracy_a), "accuracy_file_b": str(accuracy_b), **result.to_dict(),
           "n_only_a": len(only_a), "n_only_b": len(only_b), **_counts_meta(used),
           "n_missing_counts": len(missing), "missing_counts": missing}
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    level = f"{100 * result.ci_level:g}%"
    typer.echo("\n".join([
        f"compare-fit: A = {accuracy_a}, B = {accuracy_b}",
        f"shared concepts with counts: {result.n_concepts} (only in A: {len(only_a)}, only in B: "
        f"{len(only_b)}, no count: {len(missing)})",
        f"counts: {_counts_line(out)}",
        f"slope A: {result.slope_a:.3f}   slope B: {result.slope_b:.3f}   points per 10x examples",
        f"difference A - B: {result.difference:.3f} ({level} CI {result.ci_low:.3f} to {result.ci_high:.3f}, "
        f"p = {result.p_value:.4g}; paired {result.ci_method} bootstrap, {result.n_bootstrap} resamples, "
        f"seed {result.seed})",
    ]))


# ---------------------------------------------------------------------------------------------------
# Output helpers


def _py(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _counts_meta(used: CountsUsed) -> dict:
    return {"counts_source": used.source, "counts_revision": used.revision, "counts_corpus": used.corpus,
            "counts_method": used.method, "counts_dataset": used.dataset, "counts_notes": list(used.notes)}


def _counts_line(out: dict) -> str:
    if out["counts_corpus"] is None:
        return f"{out['counts_source']} ({out['counts_revision']})"
    dataset = {None: "all datasets", "per-row": "each row's dataset"}.get(out["counts_dataset"],
                                                                         out["counts_dataset"])
    return (f"{out['counts_source']} (revision {out['counts_revision']}), {out['counts_corpus']}/"
            f"{out['counts_method']}, {dataset}")


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def _summary(out: dict, bins: list[dict]) -> str:
    level = f"{100 * out['ci_level']:g}%"
    lines = [
        f"fit: {out['accuracy_file']}: {out['n_concepts']} concepts ({out['n_zero_count']} with count 0, "
        f"{out['n_missing_counts']} without a count left out)",
        f"counts: {_counts_line(out)}",
        f"slope: {_fmt(out['slope'], '.3f')} points per 10x examples ({level} CI "
        f"{_fmt(out['slope_ci_low'], '.3f')} to {_fmt(out['slope_ci_high'], '.3f')}, {out['ci_method']} "
        "bootstrap over concepts, "
        f"{out['n_bootstrap']} resamples, seed {out['seed']}; {out['weighting']} weights)",
        f"intercept: {_fmt(out['intercept'])} points at count 1",
        f"pearson r: {_fmt(out['pearson_r'], '.3f')}   spearman rho: {_fmt(out['spearman_rho'], '.3f')}   "
        f"binned r: {_fmt(out['binned_r'], '.3f')} "
        f"(end bins trimmed: {_fmt(out['binned_r_trimmed'], '.3f')})",
        f"tail accuracy (count < {out['tail_threshold']:g}, {out['n_tail']} concepts): "
        f"{_fmt(out['tail_accuracy'])}   head ({out['n_head']}): {_fmt(out['head_accuracy'])}",
        f"bottom quartile by count: {_fmt(out['tail_quartile_accuracy'])}   top quartile: "
        f"{_fmt(out['head_quartile_accuracy'])}",
    ]
    for t in TARGETS_PCT:
        count = out[f"examples_needed_{t:g}"]
        extrapolated = out[f"examples_needed_{t:g}_extrapolated"]
        note = ("undefined (slope ≤ 0)" if extrapolated is None else
                "beyond 1e308 (extrapolated)" if count is None else
                f"{count:.3g}" + (" (extrapolated)" if extrapolated else ""))
        lines.append(f"examples needed for {t:g}%: {note}")
    if out["logistic"]:
        g = out["logistic"]
        lines.append(f"logistic (binomial GLM) slope: {g['slope']:.3f} log-odds per 10x "
                     f"(95% CI {g['slope_ci_low']:.3f} to {g['slope_ci_high']:.3f}, "
                     f"dispersion {g['dispersion']:.2f})")
    lines.append("binned curve (log10 count):")
    frame = pd.DataFrame(bins)
    lines.append(frame.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.2f}"))
    return "\n".join(lines)
