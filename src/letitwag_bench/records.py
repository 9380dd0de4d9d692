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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


class ConceptResult(_Strict):
    concept: str = Field(min_length=1)
    class_name: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    n: int | None = Field(default=None, gt=0, description="test items of this concept; None when unknown")
    accuracy: float = Field(ge=0.0, le=1.0, description="fraction correct (recall for retrieval)")

    @field_validator("accuracy")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("accuracy must be a finite number in [0, 1]")
        return value


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
    results: tuple[ConceptResult, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ResultRecord:
        seen: set[tuple[str, str]] = set()
        for r in self.results:
            key = (r.dataset, r.concept)
            if key in seen:
                raise ValueError(f"concept {r.concept!r} of dataset {r.dataset!r} appears twice in results")
            seen.add(key)
        return self

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
        for dataset in sorted({r.dataset for r in self.results}):
            rows = sorted((r for r in self.results if r.dataset == dataset), key=lambda r: (r.concept, r.class_name))
            lines = ",\n".join("   " + json.dumps(_row(r), ensure_ascii=False) for r in rows)
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
        results = data.get("results")
        if isinstance(results, dict):
            data = {**data, "results": _unpack(results, where)}
        return validate_record(data, where=where)


def _row(r: ConceptResult) -> list:
    row = [r.class_name, r.n, _short(r.accuracy)]
    return row if concept_key(r.class_name) == r.concept else [*row, r.concept]


def _unpack(results: dict, where: str) -> list[dict]:
    out = []
    for dataset, rows in results.items():
        if not isinstance(rows, list):
            raise RecordError(f"{where}: field 'results.{dataset}' must be a list of rows {ROW_FORMAT}")
        for row in rows:
            if not isinstance(row, list) or len(row) not in (3, 4) or not isinstance(row[0], str):
                raise RecordError(f"{where}: field 'results.{dataset}' holds {row!r}; each row must be "
                                  f"{ROW_FORMAT}")
            concept = row[3] if len(row) == 4 else concept_key(row[0])
            out.append({"concept": concept, "class_name": row[0], "dataset": dataset, "n": row[1],
                        "accuracy": row[2]})
    return out


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
