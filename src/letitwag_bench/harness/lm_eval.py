"""lm-evaluation-harness glue for the ``letitwag`` task group.

The task YAML lives beside this module in ``lm_eval_tasks/`` (print the folder with ``letitwag
tasks-path`` and pass it to ``lm_eval --include_path``); every piece of code it names is here:

- data: :func:`load_vlm_dataset` (Let It Wag! images from the Hub or a local copy) and
  :func:`load_concepts_dataset` (the text-only concept probe, built from the bundled class lists), both
  lm-eval ``custom_dataset`` callables configured through ``--metadata`` (:data:`METADATA_KEYS`);
- scoring: :func:`vlm_process_results` and :func:`concepts_process_results` return, for each stratified
  metric, a per-document record carrying the concept, its pretraining count and log-count and whether
  the answer was right, so that ``--log_samples`` output can be refitted later (the concept probe's
  calibration requests come from :class:`letitwag_bench.harness.lm_eval_task.CalibratedConceptsTask`);
- aggregation: the ``agg_*`` functions group the records per concept and call
  :func:`letitwag_bench.stats.fit_scaling` (one fit per distinct set of records, shared by all metrics;
  :func:`agg_slope_within` fits each category of the concept probe on its own);
- :func:`read_outputs` turns lm-eval's results and samples files into per-concept tables for
  ``letitwag submit``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from letitwag_bench import stats
from letitwag_bench.concepts import concept_key, display_name, strip_domain_suffix
from letitwag_bench.counts import _HUB_ID, CountsError, CountsTable, letitwag_classes, load_counts

log = logging.getLogger(__name__)

VLM_TASK = "letitwag_vlm"
CONCEPTS_TASK = "letitwag_concepts_lm"
# Benchmark id of each task's leaderboard records. The VLM task is a 4-way lettered choice, not the
# 290-way zero-shot protocol of the CLIP `letitwag` benchmark, so its numbers get their own board.
BENCHMARK_IDS: dict[str, str] = {VLM_TASK: VLM_TASK, CONCEPTS_TASK: CONCEPTS_TASK}

HUB_DATASET = "bethgelab/Let-It-Wag"
HUB_SPLIT = "train"
DEFAULT_CORPUS = "laion400m"
# Let It Wag! is long-tail by design: with the paper's default matched counts 225 of its 290 concepts
# have count 0 on laion400m (text: 121, image: 75), which leaves the fit little to work with, so the
# image task uses image (RAM++) counts, as the leaderboard's letitwag board does. A language model only
# ever saw text, so its probe uses the caption (lemmatized) counts.
VLM_METHOD = "image"
CONCEPTS_METHOD = "text"

# Keys read from lm-eval's `--metadata` JSON. lm-eval merges `--model_args` into the same dict, so only
# `letitwag_`-prefixed keys are ours; an unknown one is a typo and an error.
METADATA_KEYS: dict[str, str] = {
    "letitwag_data": f"Let It Wag! images: Hugging Face dataset ORG/NAME[@revision] (default {HUB_DATASET}), "
                     "a parquet file, a folder of parquet files, or a folder written by save_to_disk",
    "letitwag_split": f"split of letitwag_data to evaluate (default {HUB_SPLIT!r})",
    "letitwag_counts": "counts source: 'bundled' (default), ORG/NAME[@revision], or a local file/folder",
    "letitwag_corpus": f"pretraining corpus whose counts are used (default {DEFAULT_CORPUS!r})",
    "letitwag_method": f"count method (default {VLM_METHOD!r} for {VLM_TASK}, {CONCEPTS_METHOD!r} for "
                       f"{CONCEPTS_TASK})",
}

STRATIFIED_METRICS: tuple[str, ...] = ("acc", "slope", "slope_ci_low", "slope_ci_high", "tail_acc")

# Domain-specific datasets of the concept probe and the category each one's classes belong to.
DATASET_CATEGORY: dict[str, str] = {
    "birdsnap": "bird", "cub": "bird", "fgvcaircraft": "aircraft", "flowers102": "flower",
    "food101": "food", "stanfordcars": "car", "oxfordpets": "pet", "dtd": "texture",
    "sun397": "scene", "country211": "country", "ucf101": "action",
}
# Answer phrase per category, in choice order (the continuation scored after "Answer:").
CATEGORY_CHOICES: dict[str, str] = {
    "bird": "a bird", "aircraft": "an aircraft", "flower": "a flower", "food": "a dish",
    "car": "a car", "pet": "a cat or dog breed", "texture": "a texture", "scene": "a place",
    "country": "a country", "action": "a human action",
}
# The hosted Let It Wag! labels carry these domain suffixes (see concepts.LETITWAG_DOMAIN_SUFFIXES).
_SUFFIX_CATEGORY: dict[str, str] = {"_aircraft": "aircraft", "_bird": "bird", "_flowers": "flower",
                                    "_food": "food"}
LETTERS = "ABCD"


class TaskDataError(ValueError):
    """The data or ``--metadata`` of a letitwag lm-eval task is unusable; the message says what to fix."""


class OutputsError(ValueError):
    """An lm-eval results or samples file cannot be read as letitwag output."""


def tasks_path() -> Path:
    """Absolute path of the lm-eval task folder, for ``lm_eval --include_path``.

    The YAML ships inside the package (``tasks/lm_eval`` in a source checkout links to the same folder),
    so the path is right for editable and normal installs alike.
    """
    return Path(str(resources.files("letitwag_bench.harness") / "lm_eval_tasks")).resolve()


# ---------------------------------------------------------------------------------------------------
# --metadata


@dataclass(frozen=True)
class TaskOptions:
    data: str
    split: str
    counts: str
    corpus: str
    method: str


def task_options(metadata: Mapping[str, Any], *, task: str, method: str) -> TaskOptions:
    """Our settings from lm-eval's metadata dict (which also holds ``version``, model args, …)."""
    unknown = sorted(k for k in metadata if k.startswith("letitwag_") and k not in METADATA_KEYS)
    if unknown:
        valid = "; ".join(f"{k}: {v}" for k, v in METADATA_KEYS.items())
        raise TaskDataError(f"{task}: unknown --metadata key(s) {unknown}. Valid keys: {valid}")
    for key in METADATA_KEYS:
        value = metadata.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise TaskDataError(f"{task}: --metadata {key} must be a non-empty string, got {value!r} "
                                f"({METADATA_KEYS[key]})")
    return TaskOptions(
        data=metadata.get("letitwag_data") or HUB_DATASET,
        split=metadata.get("letitwag_split") or HUB_SPLIT,
        counts=metadata.get("letitwag_counts") or "bundled",
        corpus=metadata.get("letitwag_corpus") or DEFAULT_CORPUS,
        method=metadata.get("letitwag_method") or method,
    )


def _concept_counts(opts: TaskOptions, *, task: str, dataset: str | None) -> tuple[pd.Series, CountsTable]:
    try:
        table = load_counts(opts.counts)
        return table.concept_counts(opts.corpus, opts.method, dataset=dataset), table
    except CountsError as err:
        raise TaskDataError(f"{task}: {err} (set with --metadata letitwag_counts/letitwag_corpus/"
                            "letitwag_method)") from err


PROVENANCE_FIELDS: tuple[str, ...] = ("counts_source", "counts_revision", "counts_corpus", "counts_method")


def _provenance(opts: TaskOptions, table: CountsTable) -> dict[str, str]:
    """Constant document fields that say which counts were used, so that samples are self-describing."""
    return dict(zip(PROVENANCE_FIELDS, (table.source, table.revision, opts.corpus, opts.method), strict=True))


# ---------------------------------------------------------------------------------------------------
# letitwag_vlm: data


def load_vlm_dataset(**metadata: Any):
    """lm-eval ``custom_dataset`` for ``letitwag_vlm``: a ``DatasetDict`` with one split, ``test``.

    Each document is one Let It Wag! image with its ``concept``, ``class_name`` (the upstream class-list
    spelling: the hosted label without its domain suffix), pretraining ``count``,
    four lettered ``options`` (the class and three deterministic distractors of the same domain) and the
    ``answer`` letter. Documents are interleaved by class (the first image of every class, then the
    second, …) so that ``--limit N`` evaluates a class-balanced subset.
    """
    import datasets

    opts = task_options(metadata, task=VLM_TASK, method=VLM_METHOD)
    ds, where = _load_images(opts.data, opts.split)
    label = ds.features.get("label")
    if not isinstance(label, datasets.ClassLabel):
        raise TaskDataError(f"{VLM_TASK}: {where}: column 'label' must be a ClassLabel holding the class "
                            f"names (found {label!r}); columns: {list(ds.features)}")
    if not isinstance(ds.features.get("image"), datasets.Image):
        raise TaskDataError(f"{VLM_TASK}: {where}: column 'image' must be an Image feature "
                            f"(found {ds.features.get('image')!r}); columns: {list(ds.features)}")
    if len(label.names) < len(LETTERS):
        raise TaskDataError(f"{VLM_TASK}: {where}: needs at least {len(LETTERS)} classes for lettered "
                            f"choices, found {len(label.names)}")
    counts, table = _concept_counts(opts, task=VLM_TASK, dataset="letitwag")
    labels = ds.select_columns(["label"]).to_pandas()["label"].to_numpy()
    columns = vlm_columns(label.names, labels, counts)
    order = columns.pop("_order")
    columns.update({k: [v] * len(order) for k, v in _provenance(opts, table).items()})
    docs = ds
    for name, values in columns.items():  # before select(): add_column would rewrite a reordered table
        docs = docs.add_column(name, values)
    docs = docs.select(order)
    log.info("%s: %d images of %d classes from %s (split %s)", VLM_TASK, len(docs), len(label.names),
             where, opts.split)
    return datasets.DatasetDict({"test": docs})


def _load_images(data: str, split: str):
    """The requested split of a Let It Wag! copy, and a description of where it came from."""
    import datasets

    path = Path(data).expanduser()
    if path.exists():
        where = str(path.resolve())
        try:
            if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
                loaded = datasets.load_from_disk(str(path))
                if isinstance(loaded, datasets.Dataset):  # a single saved Dataset has no split names
                    loaded = datasets.DatasetDict({HUB_SPLIT: loaded})
            elif path.is_file() and path.suffix != ".parquet":
                raise TaskDataError(f"{VLM_TASK}: --metadata letitwag_data={where}: a file must be .parquet "
                                    f"({METADATA_KEYS['letitwag_data']})")
            else:  # a parquet file (split 'train') or a folder of data files, e.g. a Hub snapshot
                loaded = datasets.load_dataset("parquet" if path.is_file() else where,
                                               data_files=where if path.is_file() else None)
        except TaskDataError:
            raise
        except Exception as err:  # datasets raises many types for unreadable data; all mean "bad copy"
            raise TaskDataError(f"{VLM_TASK}: could not read --metadata letitwag_data={where}: "
                                f"{type(err).__name__}: {err}") from err
    elif _HUB_ID.match(data):
        where = f"Hugging Face dataset {data}"
        repo, _, revision = data.partition("@")
        try:
            loaded = datasets.load_dataset(repo, revision=revision or None)
        except Exception as err:  # the Hub client raises many types; all mean "not reachable or not there"
            raise TaskDataError(
                f"{VLM_TASK}: could not load the {where} (nor is there a local file or folder "
                f"{path.resolve()}): {type(err).__name__}: {err}. Offline, download it once and pass the "
                "local copy: --metadata '{\"letitwag_data\": \"/path/to/Let-It-Wag\"}'"
            ) from err
    else:
        raise TaskDataError(f"{VLM_TASK}: --metadata letitwag_data={data!r}: no such file or folder "
                            f"({path.resolve()}), and not a Hugging Face dataset id ORG/NAME[@revision]")
    if split not in loaded:
        raise TaskDataError(f"{VLM_TASK}: split {split!r} not found in {where}; available splits: "
                            f"{', '.join(loaded) or 'none'} (choose with --metadata letitwag_split)")
    return loaded[split], where


def _label_category(label: str) -> str | None:
    for suffix, category in _SUFFIX_CATEGORY.items():
        if label.endswith(suffix) and len(label) > len(suffix):
            return category
    return None


def vlm_columns(names: Sequence[str], labels: np.ndarray, counts: pd.Series) -> dict[str, list]:
    """Per-document columns of ``letitwag_vlm`` in row order, and ``_order``: the interleaved row order.

    Distractors come from the same domain: the label's suffix (``_bird``, …), else the domain of the
    datasets the class was taken from, else the remaining classes. Each class ranks its candidates by a
    hash of the two concept keys; its k-th image takes the next three in that ranking, and the answer
    letter cycles through A-D, so choices vary between images, every letter is right equally often,
    and everything depends only on the class names and each image's rank within its class.
    """
    concepts = [concept_key(n, letitwag_label=True) for n in names]
    sources = letitwag_classes().set_index("concept")["source_datasets"].to_dict()
    domains = []
    for name, concept in zip(names, concepts, strict=True):
        found = {DATASET_CATEGORY[d] for d in sources.get(concept, "").split(";") if d in DATASET_CATEGORY}
        domains.append(_label_category(name) or (found.pop() if len(found) == 1 else "other"))

    def ranked(i: int, pool: Iterable[int]) -> list[int]:
        key = concepts[i].encode()
        return sorted(pool, key=lambda j: hashlib.sha256(key + b"|" + concepts[j].encode()).digest())

    n_distractors = len(LETTERS) - 1
    candidates = []
    for i in range(len(names)):
        same = ranked(i, (j for j in range(len(names)) if j != i and domains[j] == domains[i]))
        if len(same) < n_distractors:
            same += ranked(i, (j for j in range(len(names)) if j != i and j not in same))[
                : n_distractors - len(same)]
        candidates.append(same)

    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
        raise TaskDataError(f"{VLM_TASK}: label values must be class indices 0..{len(names) - 1}")
    ranks = pd.Series(labels).groupby(labels).cumcount().to_numpy()
    order = np.lexsort((labels, ranks))
    displays = [display_name(n, letitwag_label=True) for n in names]
    out: dict[str, list] = {k: [] for k in ("concept", "class_name", "domain", "options", "answer", "count",
                                            "dataset")}
    for i, k in zip(labels.tolist(), ranks.tolist(), strict=True):
        pool = candidates[i]
        options = [displays[pool[(n_distractors * k + j) % len(pool)]] for j in range(n_distractors)]
        position = (zlib.crc32(concepts[i].encode()) + k) % len(LETTERS)
        options.insert(position, displays[i])
        count = counts.get(concepts[i])
        out["concept"].append(concepts[i])
        out["class_name"].append(strip_domain_suffix(names[i]))
        out["domain"].append(domains[i])
        out["options"].append(options)
        out["answer"].append(LETTERS[position])
        out["count"].append(None if count is None else int(count))
        out["dataset"].append("letitwag")
    out["_order"] = order.tolist()
    return out


# ---------------------------------------------------------------------------------------------------
# letitwag_vlm: prompt and scoring


def vlm_doc_to_text(doc: Mapping[str, Any]) -> str:
    """Image placeholder, question, lettered options, and the LLaVA/MMMU instruction to answer by letter."""
    lines = "\n".join(f"{letter}. {option}" for letter, option in zip(LETTERS, doc["options"], strict=True))
    return ("<image>Which of these is shown in the image?\n"
            f"{lines}\nAnswer with the option's letter from the given choices directly.")


_ONLY_LETTER = re.compile(r"^\W*\(?([A-D])\)?\W*$")
_LEAD_LETTER = re.compile(r"^\s*\(?([A-D])(?:[.):]|\)|$)")
_ANSWER_IS = re.compile(r"\banswer(?: is)?\W{0,3}\(?([A-D])\b", re.IGNORECASE)
_LEAD_WORD = re.compile(r"^\s*([A-D])\s")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def _norm(text: str) -> str:
    return " " + _NON_WORD.sub(" ", text.lower()).strip() + " "


def parse_choice(response: str, options: Sequence[str]) -> str | None:
    """The letter a generated answer picks, or None.

    In order: the bare letter (``B``, ``(B)``); a leading ``B.``/``B)``/``B:``; exactly one option's name in
    the text; ``answer is B``; a leading ``B `` — the last, since ``A`` also starts English sentences.
    """
    letters = LETTERS[: len(options)]
    for pattern in (_ONLY_LETTER, _LEAD_LETTER):
        if (m := pattern.match(response)) and m.group(1) in letters:
            return m.group(1)
    text = _norm(response)
    named = [letters[i] for i, option in enumerate(options) if _norm(option) in text]
    if len(named) == 1:
        return named[0]
    for pattern in (_ANSWER_IS, _LEAD_WORD):
        if (m := pattern.search(response)) and m.group(1) in letters:
            return m.group(1)
    return None


def vlm_process_results(doc: Mapping[str, Any], results: Sequence[str]) -> dict[str, Any]:
    correct = parse_choice(results[0], doc["options"]) == doc["answer"]
    return metric_values(doc, correct=correct, chance=1 / len(doc["options"]))


# ---------------------------------------------------------------------------------------------------
# letitwag_concepts_lm: data, scoring


def concept_categories() -> pd.DataFrame:
    """Every concept of the domain datasets and of Let It Wag!, with its category (or why it has none).

    Columns: ``concept``, ``class_name`` (as its first dataset spells it), ``name`` (display form, for the
    prompt), ``category`` (empty when left out), ``datasets``
    (``;``-joined, ``letitwag`` first), ``in_letitwag``, ``excluded`` (reason, empty when kept). A Let It
    Wag! class takes the category of the domain datasets it was drawn from. Left out: *ambiguous*
    concepts — in datasets of two categories, or whose whole name is a word of another category's
    concept names (``turkey``: a country, and a bird in ``wild turkey``) — and Let It Wag! classes
    drawn only from general datasets (ImageNet and the like), whose answer is none of the choices.
    """
    table = load_counts("bundled")  # the benchmark's concept list is fixed, whatever counts are used
    rows = []
    for dataset, category in DATASET_CATEGORY.items():
        classes = table.classes(dataset)
        rows += [(c, n, dataset, category) for n, c in zip(classes["class_name"], classes["concept"], strict=True)]
    for _, cls in letitwag_classes().iterrows():
        found = [DATASET_CATEGORY[d] for d in cls["source_datasets"].split(";") if d in DATASET_CATEGORY]
        rows += [(cls["concept"], cls["class_name"], "letitwag", c) for c in found or [""]]
    frame = pd.DataFrame(rows, columns=["concept", "class_name", "dataset", "category"])
    frame["rank"] = frame["dataset"].ne("letitwag")  # Let It Wag!'s spelling and name first
    frame = frame.sort_values(["concept", "rank", "dataset"], kind="stable")
    out = frame.groupby("concept", sort=True).agg(
        class_name=("class_name", "first"),
        name=("class_name", lambda s: display_name(s.iloc[0])),
        categories=("category", lambda s: sorted(set(s) - {""})),
        datasets=("dataset", lambda s: ";".join(dict.fromkeys(s))),
    ).reset_index()
    out["in_letitwag"] = out["datasets"].str.startswith("letitwag")
    out["category"] = [c[0] if len(c) == 1 else "" for c in out["categories"]]
    # A one-category name can still be a homonym: "turkey" is a country and, in "wild turkey", a bird.
    words: dict[str, set[str]] = {}
    for concept, category in zip(out["concept"], out["category"], strict=True):
        for word in concept.split():
            words.setdefault(word, set()).add(category)
    excluded = []
    for concept, categories in zip(out["concept"], out["categories"], strict=True):
        homonym = sorted(words.get(concept, set()) - {"", *categories})
        excluded.append(
            "no category among the choices" if not categories
            else f"ambiguous: in {', '.join(categories)}" if len(categories) > 1
            else f"ambiguous: also a word of {', '.join(homonym)} concepts" if homonym else ""
        )
    out["excluded"] = excluded
    return out.drop(columns="categories")


def load_concepts_dataset(**metadata: Any):
    """lm-eval ``custom_dataset`` for ``letitwag_concepts_lm``: a ``DatasetDict`` with one split, ``test``.

    One document per unambiguous concept (:func:`concept_categories`) with its ``class_name``, ``name``,
    ``category``, the ten ``choices`` and the ``gold`` index, and its text ``count``. Documents are
    interleaved by category so that ``--limit N`` keeps every category.
    """
    import datasets

    opts = task_options(metadata, task=CONCEPTS_TASK, method=CONCEPTS_METHOD)
    counts, table = _concept_counts(opts, task=CONCEPTS_TASK, dataset=None)
    frame = concept_categories()
    left_out = frame[frame["excluded"] != ""]
    frame = frame[frame["excluded"] == ""].drop(columns="excluded")
    log.info("%s: %d concepts; left out %d (%s)", CONCEPTS_TASK, len(frame), len(left_out),
             left_out["excluded"].str.split(":").str[0].value_counts().to_dict())
    categories = list(CATEGORY_CHOICES)
    frame["gold"] = frame["category"].map(categories.index)
    frame["rank"] = frame.groupby("gold").cumcount()
    frame = frame.sort_values(["rank", "gold"]).drop(columns="rank").reset_index(drop=True)
    frame["dataset"] = frame["datasets"].str.split(";").str[0]
    records = frame.to_dict("records")
    choices = list(CATEGORY_CHOICES.values())
    provenance = _provenance(opts, table)
    for rec in records:
        count = counts.get(rec["concept"])
        rec.update(choices=choices, count=None if count is None else int(count), **provenance)
    features = datasets.Features({
        **{k: datasets.Value("string") for k in ("concept", "class_name", "name", "category", "datasets", "dataset",
                                                 *provenance)},
        "in_letitwag": datasets.Value("bool"), "gold": datasets.Value("int64"),
        "choices": datasets.Sequence(datasets.Value("string")), "count": datasets.Value("int64"),
    })
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(records, features=features)})


def concepts_process_results(doc: Mapping[str, Any], results: Sequence[tuple[float, bool]]) -> dict[str, Any]:
    """Right when the gold category has the highest *calibrated* log-likelihood, log p(choice | question)
    − log p(choice | the question about "N/A") (the second half of `results`, requested by
    :class:`letitwag_bench.harness.lm_eval_task.CalibratedConceptsTask`).

    Why calibrated: a model that prefers one phrase under this question whatever the concept (as
    random-init models do) gets that category's concepts right, and the categories' counts differ by
    orders of magnitude (bird names: median count 1; country names: ~1,500), so raw scores would turn
    the preference into a slope.
    """
    n_choices = len(doc["choices"])
    if len(results) != 2 * n_choices:
        raise ValueError(f"{CONCEPTS_TASK}: expected {2 * n_choices} log-likelihoods (question and "
                         f"content-free prompt), got {len(results)}; the task needs its class "
                         "CalibratedConceptsTask")
    lls = np.array([ll for ll, _ in results], dtype=float)
    correct = int(np.argmax(lls[:n_choices] - lls[n_choices:])) == doc["gold"]
    return metric_values(doc, correct=correct, chance=1 / n_choices, metrics=(*STRATIFIED_METRICS, "slope_within"))


# ---------------------------------------------------------------------------------------------------
# Per-document records and stratified aggregation


def metric_values(doc: Mapping[str, Any], *, correct: bool, chance: float,
                  metrics: Sequence[str] = STRATIFIED_METRICS) -> dict[str, Any]:
    """process_results output: the same record under every stratified metric, and the chance level.
    Concept-probe records also carry the concept's ``category`` (for ``slope_within``)."""
    count = doc["count"]
    record = {
        "concept": doc["concept"], "class_name": doc["class_name"], "dataset": doc["dataset"],
        "count": count, "log_count": None if count is None else float(stats.log_count(count)),
        "correct": int(correct),
    }
    if "category" in doc:
        record["category"] = doc["category"]
    return {**dict.fromkeys(metrics, record), "chance": chance}


CONCEPT_COLUMNS: tuple[str, ...] = ("concept", "class_name", "dataset", "n", "correct", "accuracy", "count")


def concept_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Per-concept table (HELPERS contract columns, sorted by concept) from per-document records with
    ``concept``, ``class_name``, ``dataset``, ``count`` and ``correct``."""
    frame = pd.DataFrame(list(records), columns=["concept", "class_name", "dataset", "count", "correct"])
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CONCEPT_COLUMNS})
    frame["count"] = pd.to_numeric(frame["count"]).astype("Int64")
    out = frame.groupby("concept", sort=True).agg(
        class_name=("class_name", "first"), dataset=("dataset", "first"), n=("correct", "size"),
        correct=("correct", "sum"), count=("count", "max"),
    ).reset_index()
    out["accuracy"] = out["correct"] / out["n"]
    return out[list(CONCEPT_COLUMNS)]


def fit_concepts(table: pd.DataFrame) -> stats.ScalingFit:
    """The scaling fit of a per-concept table: concepts with a count, in concept order (so the bootstrap
    interval does not depend on document order), each concept weighing the same (stats' default)."""
    have = table[table["count"].notna()].sort_values("concept", kind="stable")
    return stats.fit_scaling(have["accuracy"].to_numpy(float), have["count"].to_numpy(np.int64),
                             n=have["n"].to_numpy(np.int64))


_last_fit: tuple[tuple, stats.ScalingFit | None] | None = None


def _fit(items: Sequence[Mapping[str, Any]]) -> stats.ScalingFit | None:
    """One fit per set of records: lm-eval calls each metric's aggregation on the same items."""
    global _last_fit
    key = tuple((r["concept"], r["count"], r["correct"]) for r in items)
    if _last_fit is None or _last_fit[0] != key:
        try:
            fit = fit_concepts(concept_table(items))
        except stats.StatsError as err:  # e.g. a tiny --limit: report NaN, keep the rest of the run
            log.warning("letitwag: no scaling fit on %d documents: %s", len(items), err)
            fit = None
        _last_fit = (key, fit)
    return _last_fit[1]


def _from_fit(value: Callable[[stats.ScalingFit], float]) -> Callable[[Sequence[Mapping[str, Any]]], float]:
    def aggregate(items: Sequence[Mapping[str, Any]]) -> float:
        fit = _fit(items)
        return math.nan if fit is None else float(value(fit))
    return aggregate


def agg_acc(items: Sequence[Mapping[str, Any]]) -> float:
    """Fraction of documents answered right (as lm-eval's ``acc``)."""
    return float(np.mean([r["correct"] for r in items])) if items else math.nan


# Slope and interval: accuracy points (%) per 10x more pretraining examples. tail_acc is the mean
# accuracy of the tail concepts (stats' threshold) as a fraction, like acc.
agg_slope = _from_fit(lambda f: f.slope)
agg_slope_ci_low = _from_fit(lambda f: f.slope_ci_low)
agg_slope_ci_high = _from_fit(lambda f: f.slope_ci_high)
agg_tail_acc = _from_fit(lambda f: f.tail_accuracy / 100)


def agg_slope_within(items: Sequence[Mapping[str, Any]]) -> float:
    """Slope within categories: the mean of each category's fitted slope, weighted by its number of
    concepts with a count (categories without a finite fit, e.g. under 3 concepts, are left out).

    The pooled ``slope`` also picks up differences *between* categories (bird names are rare, country
    names common), which a model's knowledge of a whole category, or its leaning towards one answer,
    drives as much as frequency does; when the two slopes disagree, trust this one.
    """
    table = concept_table(items)
    categories = {r["concept"]: r["category"] for r in items}
    slopes, weights = [], []
    for _, group in table.groupby(table["concept"].map(categories), sort=True):
        try:
            fit = fit_concepts(group)
        except stats.StatsError:
            continue
        if not np.isfinite(fit.slope):
            continue
        slopes.append(fit.slope)
        weights.append(fit.n_concepts)
    return float(np.average(slopes, weights=weights)) if slopes else math.nan


# ---------------------------------------------------------------------------------------------------
# Reading lm-eval output


_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.jsonl$")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise OutputsError(f"{path}: not a readable JSON file ({err})") from err
    if not isinstance(data, dict):
        raise OutputsError(f"{path}: expected a JSON object (lm-eval results file)")
    return data


def _samples_task(path: Path, tasks: Iterable[str]) -> str:
    m = _SAMPLES_NAME.match(path.name)
    if m and m["task"] in tasks:
        return m["task"]
    raise OutputsError(f"{path}: not a samples file of {sorted(tasks)}; lm-eval names them "
                       "samples_<task>_<date>.jsonl")


def _sample_records(path: Path, task: str) -> list[dict[str, Any]]:
    records = []
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise OutputsError(f"{path}: not readable ({err})") from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            sample = json.loads(line)
            record = sample["acc"]
            missing = [k for k in ("concept", "class_name", "dataset", "count", "correct") if k not in record]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise OutputsError(f"{path}, line {number}: expected an lm-eval sample of {task} with an 'acc' "
                               f"record (written by --log_samples): {type(err).__name__}: {err}") from err
        if missing:
            raise OutputsError(f"{path}, line {number}: 'acc' record lacks {missing}")
        if record["correct"] not in (0, 1):
            raise OutputsError(f"{path}, line {number}: 'acc.correct' must be 0 or 1, "
                               f"got {record['correct']!r}")
        records.append({**record, "doc": sample.get("doc", {})})
    if not records:
        raise OutputsError(f"{path}: holds no samples")
    return records


def _model_info(results: dict, task: str, first_doc: Mapping[str, Any]) -> dict[str, Any]:
    config = results.get("config") or {}
    model_args = config.get("model_args")
    if isinstance(model_args, str):  # "pretrained=ORG/NAME,dtype=float16"
        model_args = dict(p.split("=", 1) for p in model_args.split(",") if "=" in p)
    task_results = results["results"][task]
    return {
        "harness": "lm-eval",
        "harness_version": results.get("lm_eval_version"),
        "model": config.get("model"),
        "model_args": model_args or {},
        "model_name": results.get("model_name") or (model_args or {}).get("pretrained"),
        "task": task,
        "task_version": (results.get("versions") or {}).get(task),
        "n_shot": (results.get("n-shot") or {}).get(task),
        "limit": config.get("limit"),
        "date": results.get("date"),
        "git_hash": results.get("git_hash"),
        "metrics": {m: task_results.get(f"{m},none") for m in (*STRATIFIED_METRICS, "chance")},
        **{k: first_doc.get(k) for k in PROVENANCE_FIELDS},
    }


def read_outputs(results_path: str | Path, samples_paths: Iterable[str | Path]
                 ) -> list[tuple[dict[str, Any], str, pd.DataFrame]]:
    """Per letitwag task in an lm-eval run: (model info, benchmark id, per-concept table).

    `results_path` is lm-eval's ``results_<date>.json``; `samples_paths` its ``samples_<task>_<date>.jsonl``
    files (written with ``--log_samples``), one or more per task. Tasks other than ours are ignored;
    each of ours needs its samples.
    """
    results_path = Path(results_path)
    results = _read_json(results_path)
    if not isinstance(results.get("results"), dict):
        raise OutputsError(f"{results_path}: field 'results' missing; expected an lm-eval results file")
    tasks = [t for t in results["results"] if t in BENCHMARK_IDS]
    if not tasks:
        raise OutputsError(f"{results_path}: no letitwag task in 'results' (found "
                           f"{sorted(results['results'])}; expected {sorted(BENCHMARK_IDS)})")
    by_task: dict[str, list[dict[str, Any]]] = {t: [] for t in tasks}
    for path in map(Path, samples_paths):
        task = _samples_task(path, tasks)
        by_task[task] += _sample_records(path, task)
    out = []
    for task in tasks:
        if not by_task[task]:
            raise OutputsError(f"{results_path}: no samples file given for task {task!r}; run lm_eval with "
                               f"--log_samples and pass samples_{task}_<date>.jsonl")
        info = _model_info(results, task, by_task[task][0]["doc"])
        out.append((info, BENCHMARK_IDS[task], concept_table(by_task[task])))
    return out
