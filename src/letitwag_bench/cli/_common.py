"""Helpers shared by the CLI modules: turning library errors into clean exits and writing tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum

import pandas as pd
import typer

from letitwag_bench.counts import CountsError


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@contextmanager
def user_errors(*kinds: type[Exception]) -> Iterator[None]:
    """Report errors caused by the user's input as one line on stderr and exit 2, without a traceback."""
    try:
        yield
    except (CountsError, *kinds) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err


def print_frame(frame: pd.DataFrame, fmt: Format) -> None:
    if fmt is Format.csv:
        frame.to_csv(sys.stdout, index=False, lineterminator="\n")
    elif fmt is Format.json:
        records = json.loads(frame.to_json(orient="records"))
        typer.echo(json.dumps(records, indent=1, ensure_ascii=False))
    else:
        typer.echo(frame.to_string(index=False, na_rep="-"))
