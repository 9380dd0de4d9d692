"""Generated caption corpora with planted concept occurrences, for the counting tests and benchmark.

Every planted caption says, by hand, which concepts it must count for under each method; the
expected counts are sums over the plan, never computed by the code under test.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

CONCEPTS = [
    "goose", "shih tzu", "kite (bird of prey)", "kite", "potter's wheel", "mouse", "baseball-bat",
    "ram (adult male sheep)", "sheep", "737-800", "f/a-18", "st. bernard", "red fox", "fox", "fire truck",
    "highway or road",
]
L, W = "lemmatized", "lowercased"
# (caption, concepts it counts for with `lemmatized`, with `lowercased`)
PLANTS: list[tuple[str, set[str], set[str]]] = [
    ("Two geese near the lake", {"goose"}, set()),                      # irregular plural
    ("a goose", {"goose"}, {"goose"}),
    ("goosebumps on a gooseberry", set(), set()),                       # substrings of a word
    ("Shih Tzus playing", {"shih tzu"}, set()),                          # plural of a multi-word concept
    ("shih-tzu puppy", {"shih tzu"}, {"shih tzu"}),                      # hyphen splits like a space
    ("a tzu and some text", set(), set()),                              # one word of a two-word concept
    ("a kite, a bird of prey", {"kite (bird of prey)", "kite"}, {"kite (bird of prey)", "kite"}),
    ("kites over the beach", {"kite"}, set()),
    ("bird of prey", set(), set()),
    ("Potter's wheel", {"potter's wheel"}, {"potter's wheel"}),
    ("two potters wheels", {"potter's wheel"}, set()),
    ("mice in the kitchen", {"mouse"}, set()),
    ("MOUSE", {"mouse"}, {"mouse"}),
    ("mousetrap", set(), set()),
    ("baseball bats", {"baseball-bat"}, set()),
    ("Baseball-Bat", {"baseball-bat"}, {"baseball-bat"}),
    ("a baseball game", set(), set()),
    ("a ram, an adult male sheep", {"ram (adult male sheep)", "sheep"}, {"ram (adult male sheep)", "sheep"}),
    ("a male sheep", {"sheep"}, {"sheep"}),
    ("sheepdog", set(), set()),
    ("Boeing 737-800 landing", {"737-800"}, {"737-800"}),
    ("boeing 737 800", {"737-800"}, {"737-800"}),
    ("737-8000", set(), set()),                                          # near-miss number
    ("737800", set(), set()),
    ("F/A-18 Hornet", {"f/a-18"}, {"f/a-18"}),
    ("F-18", set(), set()),
    ("St. Bernard puppy", {"st. bernard"}, {"st. bernard"}),
    ("Bernard", set(), set()),
    ("a red fox", {"red fox", "fox"}, {"red fox", "fox"}),
    ("a red car", set(), set()),
    ("Foxes", {"fox"}, set()),
    ("Fire trucks", {"fire truck"}, set()),
    ("fire-truck", {"fire truck"}, {"fire truck"}),
    ("the highway", set(), set()),
    ("highway road", {"highway or road"}, {"highway or road"}),
    ("", set(), set()),
    (None, set(), set()),
]
# Image tags planted on the rows of some captions: (plant index, tag as a tagger might spell it).
TAGS = [(0, "Goose"), (11, "mouse"), (12, "goose"), (28, "red_fox"), (28, "unicorn"), (3, "Shih_Tzu")]


def concepts_csv(path: Path) -> Path:
    """The test vocabulary as a `concept,count` CSV (read by load_counts as dataset `custom`)."""
    pd.DataFrame({"concept": CONCEPTS, "count": 0}).to_csv(path, index=False)
    return path


def planted(seed: int = 0, n_filler: int = 500) -> tuple[pd.DataFrame, dict[str, dict[str, int]], dict[str, int]]:
    """Rows (``key``, ``caption``, ``plant``), expected text counts per method, expected matched counts
    (lemmatized caption and tag). Each plant is repeated 1..9 times with random case; filler
    captions use made-up words that are no concept's word."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, (caption, _, _) in enumerate(PLANTS):
        for _ in range(int(rng.integers(1, 10))):
            cased = caption if caption is None else [str.upper, str.title, str.lower, str][rng.integers(4)](caption)
            rows.append((cased, i))
    syllables = ["zor", "qua", "vix", "plim", "drub", "kesh"]
    for _ in range(n_filler):
        rows.append((" ".join("".join(rng.choice(syllables, 2)) for _ in range(rng.integers(3, 12))), -1))
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[i] for i in order], columns=["caption", "plant"])
    frame.insert(0, "key", [f"s{i:07d}" for i in range(len(frame))])
    expected = {m: {c: 0 for c in CONCEPTS} for m in (L, W)}
    for plant in frame["plant"][frame["plant"] >= 0]:
        for method, concepts in ((L, PLANTS[plant][1]), (W, PLANTS[plant][2])):
            for c in concepts:
                expected[method][c] += 1
    matched = {c: 0 for c in CONCEPTS}
    for plant, tag in TAGS:
        concept = tag.lower().replace("_", " ")
        if concept in PLANTS[plant][1]:
            matched[concept] += int((frame["plant"] == plant).sum())
    return frame, expected, matched


def tags_table(frame: pd.DataFrame) -> pa.Table:
    """Tags of the planted rows: a list of names per sample id."""
    tags: dict[str, list[str]] = {}
    for plant, tag in TAGS:
        for key in frame.loc[frame["plant"] == plant, "key"]:
            tags.setdefault(key, []).append(tag)
    return pa.table({"key": list(tags), "concepts": list(tags.values())})


def write_shards(frame: pd.DataFrame, folder: Path, formats: tuple[str, ...] = ("parquet", "jsonl")) -> list[Path]:
    """Split `frame` over one shard per format (parquet shards get two small row groups each)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt, part in zip(formats, np.array_split(np.arange(len(frame)), len(formats)), strict=True):
        rows = frame.iloc[part]
        captions = [None if pd.isna(c) else c for c in rows["caption"]]  # pandas may hold nulls as NaN
        if fmt == "parquet":
            path = folder / "part-0.parquet"
            pq.write_table(pa.table({"key": list(rows["key"]), "caption": pa.array(captions, pa.string())}), path,
                           row_group_size=max(1, len(rows) // 2))
        elif fmt == "jsonl":
            path = folder / "part-1.jsonl.gz"
            with gzip.open(path, "wt", encoding="utf-8") as f:
                for key, caption in zip(rows["key"], captions, strict=True):
                    f.write(json.dumps({"key": key, "caption": caption, "url": "http://x"}) + "\n")
        else:
            path = folder / "part-2.tar"
            with tarfile.open(path, "w") as tar:
                for key, caption in zip(rows["key"], captions, strict=True):
                    if caption is None:
                        data, name = json.dumps({"caption": None}).encode(), f"{key}.json"
                    else:
                        data, name = caption.encode(), f"{key}.txt"
                    for member, payload in ((name, data), (f"{key}.jpg", b"\xff\xd8")):
                        info = tarfile.TarInfo(member)
                        info.size = len(payload)
                        tar.addfile(info, io.BytesIO(payload))
        paths.append(path)
    return paths


def synthetic_captions(n: int, concepts: list[str], seed: int = 0) -> list[str | None]:
    """`n` caption-like strings: Zipf-distributed made-up words, half with a concept name (random case,
    sometimes pluralised), a few null. For engine equality and speed, not for known answers."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = np.array(["".join(rng.choice(letters, rng.integers(3, 9))) for _ in range(30000)], dtype=object)
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    words = vocab[rng.choice(len(vocab), size=(n, 9), p=p / p.sum())]
    picks = rng.integers(0, len(concepts), n)
    out: list[str | None] = []
    for i in range(n):
        row = list(words[i])
        if i % 2 == 0:
            name = concepts[picks[i]]
            row.insert(int(rng.integers(0, 9)), (name + "s") if i % 6 == 0 else name.title())
        out.append(None if i % 997 == 0 else " ".join(row) + ".")
    return out
