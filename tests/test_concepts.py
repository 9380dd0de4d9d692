from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from letitwag_bench.concepts import concept_key, display_name, strip_domain_suffix


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acadian_Flycatcher", "acadian flycatcher"),
        ("  great   white\tshark ", "great white shark"),
        ("An-12", "an-12"),
        ("potter's wheel", "potter's wheel"),
        ("Shih_Tzu", "shih tzu"),
        # A real concept that merely ends in a domain word keeps it unless it is a hosted label.
        ("crane bird", "crane bird"),
        ("military_aircraft", "military aircraft"),
    ],
)
def test_concept_key(name: str, key: str) -> None:
    assert concept_key(name) == key


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("A300B4_aircraft", "a300b4"),
        ("Acadian_Flycatcher_bird", "acadian flycatcher"),
        ("globe-flower_flowers", "globe-flower"),
        ("eggnog_food", "eggnog"),
        ("Bouvier_des_Flandres_dog", "bouvier des flandres dog"),  # `_dog` is not a domain suffix
    ],
)
def test_letitwag_label_suffix(label: str, key: str) -> None:
    assert concept_key(label, letitwag_label=True) == key


def test_only_one_suffix_and_never_the_whole_name() -> None:
    assert strip_domain_suffix("x_bird_bird") == "x_bird"
    assert strip_domain_suffix("_bird") == "_bird"


def test_display_name_keeps_case() -> None:
    assert display_name("Acadian_Flycatcher_bird", letitwag_label=True) == "Acadian Flycatcher"


def test_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="string"):
        concept_key(None)  # type: ignore[arg-type]


@given(st.text())
def test_idempotent(name: str) -> None:
    key = concept_key(name)
    assert concept_key(key) == key
    assert key == key.strip()
    assert "_" not in key
