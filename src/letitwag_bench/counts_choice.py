"""Which pretraining counts stratify a model's results: the corpus its pretrained tag names, else a proxy.

Used by both ways of evaluating CLIP models (the clip_benchmark glue, which reads its overrides from
environment variables, and ``letitwag eval``, which takes them as options); the choice is recorded in
the results as the ``counts_*`` keys.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas and the counts module are heavy; the clip_benchmark glue imports this eagerly
    import pandas as pd

    from letitwag_bench.counts import CountsTable

PROXY_CORPUS = "laion400m"  # the largest counted corpus stands in for models trained on an uncounted one
_TAG_CORPUS = re.compile(r"(?:^|[_.-])(cc3m|cc12m|yfcc15m|laion400m)(?:$|[_.-])")


def infer_corpus(pretrained: str | None) -> str | None:
    """The counted corpus an open_clip pretrained tag (or checkpoint file name) names, if any."""
    match = _TAG_CORPUS.search(os.path.basename(pretrained or "").lower())
    return match.group(1) if match else None


def pick_corpus(pretrained: str | None, corpus: str | None = None) -> tuple[str, bool]:
    """(corpus, is_proxy): `corpus` if given, else the one the tag names, else :data:`PROXY_CORPUS`;
    a proxy whenever the corpus is not the one the tag names."""
    inferred = infer_corpus(pretrained)
    chosen = corpus or inferred or PROXY_CORPUS
    return chosen, chosen != inferred


@dataclass(frozen=True)
class CountsChoice:
    """The counts of one run: where they come from and concept key → count for `dataset`."""

    source: str
    revision: str
    corpus: str
    method: str  # upstream method name
    is_proxy: bool
    dataset: str
    counts: pd.Series

    def metrics(self) -> dict[str, object]:
        """The provenance keys recorded with the fit."""
        return {"counts_source": self.source, "counts_revision": self.revision, "counts_corpus": self.corpus,
                "counts_method": self.method, "counts_corpus_is_proxy": self.is_proxy,
                "counts_dataset": self.dataset}


def choose_counts(table: CountsTable, dataset: str, pretrained: str | None, corpus: str | None = None,
                  method: str = "matched") -> CountsChoice:
    """The counts of `table` for `dataset`, corpus by :func:`pick_corpus`; bad names raise CountsError."""
    from letitwag_bench.counts import METHOD_ALIASES

    corpus, is_proxy = pick_corpus(pretrained, corpus)
    counts = table.concept_counts(corpus, method, dataset=dataset)
    return CountsChoice(table.source, table.revision, corpus, METHOD_ALIASES.get(method, method), is_proxy,
                        dataset, counts)
