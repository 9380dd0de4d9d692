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

from collections.abc import Iterator, Sequence

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
