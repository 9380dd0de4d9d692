"""Coverage of the class → counts-concept map for clip_benchmark's own datasets (`letitwag/<name>`).

Class names are taken from clip_benchmark itself where it ships them (en_classnames.json, and the
imagenet-r / imagenet-a subsets in its builder); the others come from torchvision's data files at run
time, so for those a few real names per dataset check the rules. Unmatched classes are listed in the
README section "clip_benchmark"; this test keeps that list honest.
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path

import pytest

from letitwag_bench.counts import load_counts
from letitwag_bench.datasets.clip_benchmark_classes import ALIASES, COUNTS_DATASET, map_classes

builder = pytest.importorskip("clip_benchmark.datasets.builder")

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


def _builder_literal(name: str):
    for node in ast.walk(ast.parse(Path(builder.__file__).read_text())):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise LookupError(name)


def clip_benchmark_classnames(dataset: str) -> list[str]:
    names = json.loads((Path(builder.__file__).parent / "en_classnames.json").read_text())
    if dataset in ("imagenet1k", "imagenetv2", "imagenet_sketch"):
        return names["imagenet1k"]
    if dataset == "imagenet-r":
        wnids = _builder_literal("imagenet_r_wnids")
        return [n for n, w in zip(names["imagenet1k"], builder.all_imagenet_wordnet_ids, strict=True) if w in wnids]
    if dataset == "cifar10":
        return CIFAR10
    return names[dataset]


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
