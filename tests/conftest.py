"""Shared test fixtures and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The paper's release, laid beside the checkout as ../shared (absent outside this workplace).
UPSTREAM = REPO.parent / "shared" / "upstream" / "frequency_determines_performance"


@pytest.fixture(scope="session")
def upstream() -> Path:
    if not UPSTREAM.is_dir():
        pytest.skip(f"upstream release not found at {UPSTREAM}")
    return UPSTREAM
