"""Coverage of the class → counts-concept map for clip_benchmark's own datasets (`letitwag/<name>`).

Class names are taken from clip_benchmark itself where it ships them (`clip_benchmark_class_names`:
en_classnames.json, and the imagenet-r subset in its builder); the others come from torchvision's data files at run
time, so for those a few real names per dataset check the rules. Unmatched classes are listed in the
README section "clip_benchmark"; this test keeps that list honest.
"""

from __future__ import annotations

from functools import cache

import pytest

from letitwag_bench.counts import load_counts
from letitwag_bench.datasets.clip_benchmark_classes import (
    ALIASES,
    COUNTS_DATASET,
    POOLED_DATASETS,
    SHIPPED_CLASS_NAMES,
    clip_benchmark_class_names,
    map_classes,
)

pytest.importorskip("clip_benchmark.datasets.builder")

# Classes without a count, per clip_benchmark dataset (the README table).
EXPECTED_UNMATCHED: dict[str, list[str]] = {
    "imagenet1k": [], "imagenetv2": [], "imagenet_sketch": [], "imagenet-r": [], "flowers": [], "pets": [],
    "country211": [], "eurosat": [], "caltech101": ["background"], "cifar10": [],
}
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# Real class names as torchvision's files give them (and clip_benchmark's builder rewrites them),
# with the counts concept each must map to.
TORCHVISION_EXAMPLES: dict[str, dict[str, str]] = {
    "cars": {"AM General Hummer SUV 2000": "2000 am general hummer suv",
             "Ram C/V Cargo Van Minivan 2012": "2012 ram c/v cargo van minivan",
             "smart fortwo Convertible 2012": "2012 smart fortwo convertible"},
    "sun397": {"abbey": "abbey", "apartment building outdoor": "outdoor apartment building",
               "car interior backseat": "backseat car interior", "theater indoor procenium": "indoor procenium theater",
               "wine cellar barrel storage": "barrel storage wine cellar"},
    "fgvc_aircraft": {"707-320": "707-320", "F-16A/B": "f-16a/b", "BAE 146-200": "bae 146-200"},
    "food101": {"apple pie": "apple pie", "baby back ribs": "baby back ribs"},
    "dtd": {"banded": "banded", "zigzagged": "zigzagged"},
    "cifar100": {"crab": "cra", "aquarium_fish": "aquarium fish", "maple_tree": "maple tree"},
}


@cache
def counted(counts_dataset: str) -> frozenset[str]:
    return frozenset(load_counts("bundled").classes(counts_dataset)["concept"])


def clip_benchmark_classnames(dataset: str) -> list[str]:
    if dataset == "cifar10":
        return CIFAR10
    return list(clip_benchmark_class_names(dataset))


@pytest.mark.parametrize("dataset", sorted(EXPECTED_UNMATCHED))
def test_mapping_coverage(dataset):
    names = clip_benchmark_classnames(dataset)
    found = map_classes(COUNTS_DATASET[dataset], names, counted(COUNTS_DATASET[dataset]))
    assert [n for n, c in zip(names, found, strict=True) if c is None] == EXPECTED_UNMATCHED[dataset]
    # Distinct classes keep distinct concepts, except caltech101's centred and off-centre faces (one
    # counted concept) and the two names CLIP's ImageNet list repeats (sunglasses, missile).
    mapped = [c for c in found if c is not None]
    merged = {c for c in mapped if mapped.count(c) > 1}
    assert merged <= {"face", "sunglasses", "missile"}, merged


@pytest.mark.parametrize("dataset", sorted(TORCHVISION_EXAMPLES))
def test_torchvision_named_examples(dataset):
    examples = TORCHVISION_EXAMPLES[dataset]
    found = map_classes(COUNTS_DATASET[dataset], list(examples), counted(COUNTS_DATASET[dataset]))
    assert found == list(examples.values())


@pytest.mark.parametrize("counts_dataset", sorted(ALIASES))
def test_alias_targets_exist(counts_dataset):
    missing = set(ALIASES[counts_dataset].values()) - counted(counts_dataset)
    assert not missing


def test_every_stratified_dataset_has_counts():
    assert set(COUNTS_DATASET.values()) <= set(load_counts("bundled").datasets())
    required = {"imagenet1k", "cars", "fgvc_aircraft", "flowers", "food101", "pets", "cifar10", "cifar100", "dtd",
                "eurosat", "sun397", "caltech101", "country211", "imagenet-r", "imagenet_sketch"}
    assert required <= set(COUNTS_DATASET)


def test_shipped_names_have_the_sizes_of_the_datasets() -> None:
    sizes = {"imagenet1k": 1000, "imagenetv2": 1000, "imagenet_sketch": 1000, "imagenet-r": 200, "flowers": 102,
             "pets": 37, "eurosat": 10, "caltech101": 102, "country211": 211}
    assert {n: len(clip_benchmark_class_names(n)) for n in SHIPPED_CLASS_NAMES} == sizes
    with pytest.raises(ValueError, match="takes its class names from the downloaded data"):
        clip_benchmark_class_names("cars")


def test_concepts_cb_board_is_what_the_adapter_writes() -> None:
    """The committed class list of `concepts_cb` and its `excluded` rows are exactly the (dataset, concept)
    pairs a `letitwag/<name>` run writes for the board's datasets, so a real run covers the board."""
    from letitwag_bench.harness.clip_benchmark import stratification_for
    from letitwag_bench.leaderboard import BENCHMARKS

    written = set()
    for name in POOLED_DATASETS:
        strat = stratification_for(name, list(clip_benchmark_class_names(name)))
        written |= {(strat.dataset, c) for c in strat.class_concepts}
    bench = BENCHMARKS["concepts_cb"]
    board = set(zip(bench.classes()["dataset"], bench.classes()["concept"], strict=True))
    assert board | bench.excluded == written and not board & bench.excluded
    assert bench.excluded == {("caltech101", "background")}
    assert {COUNTS_DATASET[n] for n in POOLED_DATASETS} == {d for d, _ in board}
    assert "imagenetv2" not in POOLED_DATASETS
