"""Which counts belong to which class of clip_benchmark's own datasets.

clip_benchmark names classes its own way (CLIP's prompt names, torchvision's files); the released
counts use each dataset's original names. A class maps to the counts concept of the first candidate
found among that dataset's counted concepts:

1. its concept key (:func:`letitwag_bench.concepts.concept_key`);
2. a rotation of its words, last words first: torchvision writes ``AM General Hummer SUV 2000`` and
   SUN397's ``apartment_building/outdoor`` (clip_benchmark: ``apartment building outdoor``) where the
   counts have ``2000 AM General Hummer SUV`` and ``outdoor apartment_building``;
3. the hand-checked aliases below (CLIP renamed some classes; the counts keep one upstream typo).

Classes with no candidate keep their own concept key and get no count (listed in the README).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

from letitwag_bench.concepts import concept_key

# clip_benchmark dataset name → counts dataset name. `letitwag/<name>` works for exactly these.
COUNTS_DATASET: dict[str, str] = {
    "imagenet1k": "imagenet",
    "imagenetv2": "imagenet",
    "imagenet_sketch": "imagenet-sketch",
    "imagenet-r": "imagenet-r",
    "cars": "stanfordcars",
    "fgvc_aircraft": "fgvcaircraft",
    "flowers": "flowers102",
    "food101": "food101",
    "pets": "oxfordpets",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "dtd": "dtd",
    "eurosat": "eurosat",
    "sun397": "sun397",
    "caltech101": "caltech101",
    "country211": "country211",
}

# clip_benchmark datasets whose class names ship inside the installed clip_benchmark package (its
# en_classnames.json and the ImageNet-R subset in its builder), so their concept keys are known without
# the data. The others (cars, fgvc_aircraft, food101, dtd, sun397, cifar10, cifar100) take their names
# from torchvision's files of the downloaded data at run time. `pets` is here because torchvision
# title-cases the file ids (``american_pit_bull_terrier`` → ``American Pit Bull Terrier``), which is
# exactly clip_benchmark's shipped list.
SHIPPED_CLASS_NAMES: tuple[str, ...] = ("imagenet1k", "imagenetv2", "imagenet_sketch", "imagenet-r", "flowers",
                                        "pets", "eurosat", "caltech101", "country211")
# The datasets of the `concepts_cb` leaderboard: in the paper's pooled results and reachable as
# `letitwag/<name>` with shipped class names. imagenetv2 is left out: the paper did not evaluate it, and its
# classes are ImageNet's (its rows would carry dataset `imagenet`).
POOLED_DATASETS: tuple[str, ...] = ("caltech101", "country211", "eurosat", "flowers", "imagenet1k", "imagenet-r",
                                    "imagenet_sketch", "pets")

# counts dataset → {concept key of clip_benchmark's name: counts concept key}. Checked by hand
# against the class definitions; test_clip_benchmark_classes.py checks every target exists.
ALIASES: dict[str, dict[str, str]] = {
    "imagenet-r": {
        "smooth newt": "newt", "green iguana": "iguana", "chameleon": "african chameleon",
        "indian cobra": "cobra", "peafowl": "peacock", "american lobster": "lobster",
        "great egret": "american egret", "cocker spaniel": "cocker spaniels", "st. bernard": "saint bernard",
        "siberian husky": "husky", "grey wolf": "timber wolf", "praying mantis": "mantis",
        "cottontail rabbit": "wood rabbit", "giant panda": "panda", "clownfish": "clown fish",
        "pufferfish": "puffer fish", "fire truck": "fire engine", "gas mask or respirator": "gasmask",
        "hot dog": "hotdog", "granny smith apple": "granny smith",
    },
    "flowers102": {"globe flower": "globe-flower", "pink and yellow dahlia": "pink-yellow dahlia",
                   "air plant": "ball moss"},
    "eurosat": {
        "brushland or shrubland": "herbaceous vegetation land",
        "industrial buildings or commercial buildings": "industrial buildings",
        "residential buildings or homes or apartments": "residential buildings",
        "lake or sea": "sea or lake",
    },
    "caltech101": {
        "off-center face": "face", "centered face": "face", "side of a car": "car side",
        "body of a cougar cat": "cougar body", "face of a cougar cat": "cougar face",
        "head of a crocodile": "crocodile head", "head of a flamingo": "flamingo head",
        "snoopy (cartoon beagle)": "snoopy", "yin and yang symbol": "yin yang",
    },
    "cifar10": {"automobile": "car"},
    "cifar100": {"crab": "cra"},  # the upstream count file spells it `cra`
}


def _candidates(name: str, aliases: dict[str, str]) -> Iterator[str]:
    key = concept_key(name)
    yield key
    words = key.split(" ")
    for k in range(1, len(words)):
        yield " ".join(words[-k:] + words[:-k])
    if key in aliases:
        yield aliases[key]


def map_classes(counts_dataset: str, class_names: Sequence[str], counted: set[str]) -> list[str | None]:
    """Counts concept of each class (``None`` where none is found) among `counted`, the concept keys
    that the counts hold for `counts_dataset`."""
    aliases = ALIASES.get(counts_dataset, {})
    return [next((c for c in _candidates(n, aliases) if c in counted), None) for n in class_names]


def _builder_literal(source: str, name: str) -> object:
    """The literal assigned to `name` anywhere in clip_benchmark's builder (ImageNet-R's ids are a local there)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise LookupError(f"clip_benchmark's builder no longer assigns {name!r}; update clip_benchmark_class_names")


@cache
def clip_benchmark_class_names(name: str) -> tuple[str, ...]:
    """clip_benchmark's class names of dataset `name` (English, no custom class-name file), read from the
    installed clip_benchmark package: no data and no network needed. Only for :data:`SHIPPED_CLASS_NAMES`."""
    if name not in SHIPPED_CLASS_NAMES:
        raise ValueError(f"clip_benchmark dataset {name!r} takes its class names from the downloaded data; "
                         f"names ship with clip_benchmark only for {', '.join(SHIPPED_CLASS_NAMES)}")
    from clip_benchmark.datasets import builder  # imported here: clip_benchmark pulls in torch

    folder = Path(builder.__file__).parent
    names = json.loads((folder / "en_classnames.json").read_text(encoding="utf-8"))
    if name in ("imagenet1k", "imagenetv2", "imagenet_sketch"):
        return tuple(names["imagenet1k"])
    if name == "imagenet-r":  # the builder keeps ImageNet's names of the 200 ImageNet-R ids, in ImageNet order
        wnids = _builder_literal((folder / "builder.py").read_text(encoding="utf-8"), "imagenet_r_wnids")
        return tuple(n for n, w in zip(names["imagenet1k"], builder.all_imagenet_wordnet_ids, strict=True)
                     if w in wnids)
    return tuple(names[name])
