"""The counts a model's results are stratified by: one rule for the clip_benchmark glue and `letitwag eval`."""

from __future__ import annotations

import pytest

from letitwag_bench.counts import METHOD_ALIASES, CountsError, load_counts
from letitwag_bench.counts_choice import PROXY_CORPUS, choose_counts, pick_corpus


@pytest.mark.parametrize(("pretrained", "corpus", "expected"), [
    ("laion400m_e32", None, ("laion400m", False)),
    ("cc12m", None, ("cc12m", False)),
    ("openai", None, (PROXY_CORPUS, True)),
    (None, None, (PROXY_CORPUS, True)),
    ("", None, (PROXY_CORPUS, True)),
    ("cc12m", "yfcc15m", ("yfcc15m", True)),  # a corpus other than the model's is a proxy even when asked for
    ("yfcc15m", "yfcc15m", ("yfcc15m", False)),
])
def test_pick_corpus(pretrained, corpus, expected):
    assert pick_corpus(pretrained, corpus) == expected


def test_choose_counts_records_upstream_method_and_dataset():
    table = load_counts("bundled")
    choice = choose_counts(table, "imagenet", "cc3m", method="text")
    assert (choice.corpus, choice.method, choice.is_proxy, choice.dataset) == ("cc3m", METHOD_ALIASES["text"],
                                                                              False, "imagenet")
    assert choice.counts.equals(table.concept_counts("cc3m", "text", dataset="imagenet"))
    assert choice.metrics()["counts_method"] == METHOD_ALIASES["text"]
    with pytest.raises(CountsError, match="valid corpora"):
        choose_counts(table, "imagenet", "cc3m", corpus="nope")
