"""`letitwag tasks-path`: where the lm-evaluation-harness task YAML is installed."""

from __future__ import annotations

import typer

from letitwag_bench.harness.lm_eval import tasks_path as _tasks_path


def tasks_path() -> None:
    """Print the folder to pass to `lm_eval --include_path` (the `letitwag` task group)."""
    typer.echo(str(_tasks_path()))
