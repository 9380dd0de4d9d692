"""Result records: one JSON file per model per benchmark, the leaderboard's only input.

Layout: ``leaderboards/results/<model-slug>/<benchmark>.json``. A record holds who the model is,
which benchmark (and version) it was run on, with which harness and prompts, the per-concept
results (accuracies as fractions in [0, 1]) and how the record was produced. Scaling slopes are
*not* stored: the leaderboard computes them from the per-concept results with the benchmark's
fixed counts, so every model is fitted on the same concept set and the same counts.

On disk the per-concept results are grouped by dataset, one row per line:
``"results": {"imagenet": [["great_white_shark", 50, 0.74], ...]}`` — ``[class_name, n, accuracy]``,
plus the concept key as a fourth value only where it is not ``concept_key(class_name)``. This keeps
the committed files small (the key is derivable) and their diffs readable.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from letitwag_bench._io import atomic_write_text
from letitwag_bench.concepts import concept_key

SCHEMA_VERSION = 1
ROW_FORMAT = "[class_name, n or null, accuracy] (+ concept key, when not concept_key(class_name))"
# A slug is a single path component: lower-case letters, digits and . _ + - ; never "." or "..".
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")
# Names as harnesses spell them (open_clip names, hf-hub:org/name, pretrained tags).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:@/-]*$")


class RecordError(ValueError):
    """A record (or a file to be turned into one) is unusable; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_name(value: str, what: str) -> str:
    """Reject names that could escape a folder or are not plain identifiers (``../x``, ``a b``)."""
    parts = value.split("/")
    if not _NAME.match(value) or any(p in {"", ".", ".."} for p in parts):
        raise ValueError(f"{what} {value!r} is not a safe name: use letters, digits and . _ + : @ - "
                         "(/ only between non-empty parts, no '.' or '..' parts)")
    return value


def model_slug(architecture: str, pretrained: str) -> str:
    """Folder name of a model: ``<architecture>--<pretrained>`` lower-cased, ``/ : @`` → ``-``."""
    check_name(architecture, "architecture")
    check_name(pretrained, "pretrained tag")
    slug = re.sub(r"[/:@]+", "-", f"{architecture}--{pretrained}").lower()
    if not _SLUG.match(slug) or slug in {".", ".."}:
        raise ValueError(f"model slug {slug!r} is not a safe folder name")
    return slug


class ModelInfo(_Strict):
    architecture: str = Field(description="open_clip model name, e.g. ViT-B-32")
    pretrained: str = Field(description="pretrained tag, e.g. laion400m_e32")
    display_name: str = Field(min_length=1, max_length=120)
    corpus: str = Field(description="pretraining corpus, e.g. laion400m, openai-wit, unknown")
    params: int | None = Field(default=None, gt=0, description="parameter count")
    release_date: str | None = Field(default=None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    @field_validator("architecture", "pretrained")
    @classmethod
    def _safe(cls, value: str, info) -> str:
        return check_name(value, info.field_name)

    @property
    def slug(self) -> str:
        return model_slug(self.architecture, self.pretrained)


class BenchmarkRef(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    version: str = Field(min_length=1)


class Harness(_Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)


@dataclass(frozen=True, eq=False)
class ConceptTable:
    """Per-concept results as columns (validated in bulk: records can hold thousands of concepts).

    ``n`` is NaN where the number of test items is unknown; ``accuracy`` is a fraction in [0, 1]
    (recall for retrieval).
    """

    concept: np.ndarray
    class_name: np.ndarray
    dataset: np.ndarray
    n: np.ndarray
    accuracy: np.ndarray

    def __len__(self) -> int:
        return len(self.accuracy)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConceptTable) and self.frame().equals(other.frame())

    __hash__ = None  # type: ignore[assignment]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"dataset": self.dataset, "concept": self.concept, "class_name": self.class_name,
                             "n": self.n, "accuracy": self.accuracy})

    @classmethod
    def from_columns(cls, concept: Sequence, class_name: Sequence, dataset: Sequence, n: Sequence,
                     accuracy: Sequence) -> ConceptTable:
        """Validate and freeze; raises ValueError naming the first bad row.

        The checks run over whole columns first (C-speed `map`/`set`) and look for the offending row
        only when one fails, since the leaderboard build validates millions of values.
        """
        if len(accuracy) == 0:
            raise ValueError("no per-concept results; at least one is needed")
        for name, values in {"concept": concept, "class_name": class_name, "dataset": dataset}.items():
            _check_strings(values, name)
        if len(set(zip(dataset, concept, strict=True))) != len(accuracy):
            seen: set[tuple[str, str]] = set()
            i = next(i for i, k in enumerate(zip(dataset, concept, strict=True)) if k in seen or seen.add(k))
            raise ValueError(f"concept {concept[i]!r} of dataset {dataset[i]!r} appears more than once")
        return cls._freeze(concept, class_name, dataset, n, accuracy)

    @classmethod
    def _freeze(cls, concept: Sequence, class_name: Sequence, dataset: Sequence, n: Sequence,
                accuracy: Sequence) -> ConceptTable:
        """Check the numbers and freeze columns whose strings are already checked."""

        def where(i: int) -> str:
            return f"row {i} ({dataset[i]}/{concept[i]!r})"

        n_types = set(map(type, n))
        known = n if type(None) not in n_types else [v for v in n if v is not None]
        if not n_types <= {int, type(None)} or (known and min(known) <= 0):
            i = next(i for i, v in enumerate(n) if v is not None and (type(v) is not int or v <= 0))
            raise ValueError(f"{where(i)}: n must be a positive integer or null, got {n[i]!r}")
        if not set(map(type, accuracy)) <= {int, float}:
            i = next(i for i, v in enumerate(accuracy) if type(v) not in (int, float))
            raise ValueError(f"{where(i)}: accuracy must be a number, got {accuracy[i]!r}")
        acc = np.asarray(accuracy, dtype=float)
        off = ~(np.isfinite(acc) & (acc >= 0) & (acc <= 1))
        if off.any():
            i = int(np.argmax(off))
            raise ValueError(f"{where(i)}: accuracy must be a finite fraction in [0, 1], got {acc[i]!r}")
        n_arr = np.array([np.nan if v is None else v for v in n] if type(None) in n_types else n, dtype=float)
        arrays = [np.asarray(v, dtype=object) for v in (concept, class_name, dataset)]
        for a in (*arrays, n_arr, acc):
            a.flags.writeable = False
        return cls(*arrays, n_arr, acc)

    @classmethod
    def from_rows(cls, rows: Sequence[dict]) -> ConceptTable:
        want = ("concept", "class_name", "dataset", "n", "accuracy")
        for i, r in enumerate(rows):
            missing = [k for k in want if k not in r and k != "n"] if isinstance(r, dict) else list(want)
            if missing:
                raise ValueError(f"row {i}: missing {missing}; each result needs {list(want)}")
        return cls.from_columns(*([r.get(k) for r in rows] for k in want))


def _to_table(value: Any) -> Any:
    if isinstance(value, ConceptTable):
        return value
    if isinstance(value, list | tuple):
        return ConceptTable.from_rows(value)
    if isinstance(value, dict):
        return _unpack(value)
    raise ValueError(f"expected per-concept results, got {type(value).__name__}")


Results = Annotated[ConceptTable, BeforeValidator(_to_table)]


class CountsUsed(_Strict):
    """Counts the harness used for its own fit (informational: the leaderboard refits on fixed counts)."""

    source: str | None = None
    revision: str | None = None
    corpus: str | None = None
    method: str | None = None


class Provenance(_Strict):
    kind: Literal["imported", "submitted"]
    description: str = Field(min_length=1, description="how the numbers were produced")
    command: str | None = None
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}")
    packages: dict[str, str] = Field(default_factory=dict)


class ResultRecord(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    model: ModelInfo
    benchmark: BenchmarkRef
    harness: Harness
    prompt_set: str = Field(min_length=1)
    counts: CountsUsed = Field(default_factory=CountsUsed)
    provenance: Provenance
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    results: Results

    @property
    def slug(self) -> str:
        return self.model.slug

    def relpath(self) -> Path:
        return Path(self.slug) / f"{self.benchmark.id}.json"

    # -- (de)serialisation ------------------------------------------------------------------------

    def to_json(self) -> str:
        """Canonical text: sorted keys, header fields indented, one result row per line (module docstring)."""
        head = self.model_dump(mode="json", exclude={"results"})
        head["results"] = "@ROWS@"
        text = json.dumps(head, indent=1, sort_keys=True, ensure_ascii=False)
        blocks = []
        frame = self.results.frame().sort_values(["dataset", "concept", "class_name"], kind="stable")
        for dataset, group in frame.groupby("dataset", sort=True):
            lines = ",\n".join("   " + json.dumps(_row(*r), ensure_ascii=False)
                               for r in group[["concept", "class_name", "n", "accuracy"]].itertuples(index=False))
            blocks.append(f"  {json.dumps(dataset, ensure_ascii=False)}: [\n{lines}\n  ]")
        return text.replace('"@ROWS@"', "{\n" + ",\n".join(blocks) + "\n }") + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str) -> ResultRecord:
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except (json.JSONDecodeError, ValueError) as err:
            raise RecordError(f"{where}: not valid JSON ({err})") from err
        if not isinstance(data, dict):
            raise RecordError(f"{where}: expected a JSON object, got {type(data).__name__}")
        return validate_record(data, where=where)


def _row(concept: str, class_name: str, n: float, accuracy: float) -> list:
    row = [class_name, None if math.isnan(n) else int(n), _short(accuracy)]
    return row if _key(class_name) == concept else [*row, concept]


@lru_cache(maxsize=65536)
def _key(name: str) -> str:
    return concept_key(name)  # cached: the same class names recur in every model's record


def _check_strings(values: Sequence, name: str) -> None:
    if set(map(type, values)) != {str} or "" in set(map(str.strip, values)):
        i = next(i for i, v in enumerate(values) if not isinstance(v, str) or not v.strip())
        raise ValueError(f"row {i}: {name} must be a non-empty string, got {values[i]!r}")


@lru_cache(maxsize=256)
def _block_concepts(dataset: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """Concept keys of one dataset's class names, checked: every model of a benchmark repeats the same
    list, so the string checks and key derivation run once per distinct list, not once per record."""
    _check_strings(names, "class_name")
    concepts = tuple(map(_key, names))
    if len(set(concepts)) != len(concepts):
        seen: set[str] = set()
        dup = next(c for c in concepts if c in seen or seen.add(c))
        raise ValueError(f"concept {dup!r} of dataset {dataset!r} appears more than once")
    return concepts


def _unpack(results: dict) -> ConceptTable:
    """``{dataset: [[class_name, n, accuracy(, concept)], ...]}`` → a validated table."""
    cols: tuple[list, ...] = ([], [], [], [], [])
    plain = True  # every row without an explicit concept key: the fast path below
    for dataset, rows in results.items():
        if not isinstance(rows, list):
            raise ValueError(f"results of dataset {dataset!r} must be a list of rows {ROW_FORMAT}")
        # Checks over whole columns with C-level map/set (a build reads millions of rows); the
        # offending row is looked for only when one fails.
        lengths = set(map(len, rows)) if set(map(type, rows)) <= {list} else {None}
        if not lengths <= {3, 4}:
            bad = next(r for r in rows if type(r) is not list or len(r) not in (3, 4))
            raise ValueError(f"dataset {dataset!r} holds row {bad!r}; each row must be {ROW_FORMAT}")
        names, ns, accs = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
        if set(map(type, names)) - {str}:
            bad = next(r for r in rows if type(r[0]) is not str)
            raise ValueError(f"dataset {dataset!r} holds row {bad!r}; class_name must be a string")
        if lengths <= {3}:
            cols[0].extend(_block_concepts(dataset, tuple(names)))
        else:
            plain = False
            cols[0].extend(r[3] if len(r) == 4 else _key(r[0]) for r in rows)
        cols[1].extend(names)
        cols[2].extend([dataset] * len(rows))
        cols[3].extend(ns)
        cols[4].extend(accs)
    if plain and cols[4] and set(map(type, results)) == {str} and "" not in set(map(str.strip, results)):
        return ConceptTable._freeze(*cols)  # names, keys and uniqueness were checked per dataset
    return ConceptTable.from_columns(*cols)


def validate_record(data: Any, *, where: str) -> ResultRecord:
    try:
        return ResultRecord.model_validate(data)
    except ValidationError as err:
        raise RecordError(f"{where}: {format_validation_error(err)}") from err


def format_validation_error(err: ValidationError, limit: int = 5) -> str:
    parts = []
    for e in err.errors()[:limit]:
        loc = ".".join(str(p) for p in e["loc"]) or "(record)"
        got = e.get("input")
        got_text = "" if isinstance(got, dict | list) else f" (got {got!r})"
        parts.append(f"field '{loc}': {e['msg']}{got_text}")
    more = len(err.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _short(x: float) -> float:
    """Round to 1e-6 (1e-4 percentage points): correct/n stays recoverable for n < 500,000."""
    return round(x, 6)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed (values must be finite numbers)")


# -- files --------------------------------------------------------------------------------------------


def read_record(path: Path) -> ResultRecord:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(f"{path}: cannot read ({err})") from err
    return ResultRecord.from_json(text, where=str(path))


def write_record(record: ResultRecord, results_dir: Path) -> Path:
    path = Path(results_dir) / record.relpath()
    atomic_write_text(path, record.to_json())
    return path


def iter_record_paths(results_dir: Path) -> list[Path]:
    return sorted(Path(results_dir).glob("*/*.json"))


def load_records(results_dir: Path) -> list[ResultRecord]:
    """Read and validate every record under `results_dir`; its folder must be the model's slug and
    its file name the benchmark id."""
    records = []
    for path in iter_record_paths(results_dir):
        rec = read_record(path)
        if path.parent.name != rec.slug:
            raise RecordError(f"{path}: folder {path.parent.name!r} does not match the model's slug {rec.slug!r}")
        if path.stem != rec.benchmark.id:
            raise RecordError(f"{path}: file name {path.name!r} does not match benchmark {rec.benchmark.id!r}")
        records.append(rec)
    return records
