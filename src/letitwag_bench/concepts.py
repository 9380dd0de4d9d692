"""Concept names: the one normalisation that turns a dataset's class name into the join key to counts.

Pure functions, no I/O and no imports from the rest of the package.
"""

from __future__ import annotations

import re

# The hosted Let It Wag! dataset (HF `bethgelab/Let-It-Wag`) suffixes some labels with their domain,
# e.g. `A300B4_aircraft`, `Acadian_Flycatcher_bird`. Only these four, and only joined by `_`: the
# upstream count files hold real concepts such as `crane bird` or `military_aircraft`, so the
# suffix is stripped only where the caller says the name is a hosted Let It Wag! label.
LETITWAG_DOMAIN_SUFFIXES: tuple[str, ...] = ("_aircraft", "_bird", "_flowers", "_food")

_WS = re.compile(r"\s+")


def concept_key(name: str, *, letitwag_label: bool = False) -> str:
    """Normalise a class or concept name to its concept key.

    Lower-cases, turns underscores into spaces, folds runs of white space and strips the ends.
    Hyphens, digits, apostrophes and parentheses are kept (``An-12``, ``potter's wheel``), since
    they distinguish real concepts in the released counts.

    Parameters
    ----------
    name:
        The name as a dataset spells it, e.g. ``"Acadian_Flycatcher"`` or ``"great white shark"``.
    letitwag_label:
        The name is a label of the hosted Let It Wag! dataset: strip one trailing domain suffix
        (``_aircraft``, ``_bird``, ``_flowers``, ``_food``) first.

    Examples
    --------
    >>> concept_key("Acadian_Flycatcher_bird", letitwag_label=True)
    'acadian flycatcher'
    >>> concept_key("  Shih_Tzu ")
    'shih tzu'
    """
    if not isinstance(name, str):
        raise TypeError(f"concept name must be a string, got {type(name).__name__}: {name!r}")
    if letitwag_label:
        name = strip_domain_suffix(name)
    return _WS.sub(" ", name.replace("_", " ")).strip().lower()


def strip_domain_suffix(label: str) -> str:
    """Remove one Let It Wag! domain suffix (``_aircraft|_bird|_flowers|_food``) from a hosted label."""
    for suffix in LETITWAG_DOMAIN_SUFFIXES:
        if label.endswith(suffix) and len(label) > len(suffix):
            return label[: -len(suffix)]
    return label


def display_name(name: str, *, letitwag_label: bool = False) -> str:
    """Human-readable class name for text prompts: suffix and underscores removed, case kept."""
    if letitwag_label:
        name = strip_domain_suffix(name)
    return _WS.sub(" ", name.replace("_", " ")).strip()
