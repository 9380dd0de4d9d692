"""`letitwag`: one command whose sub-commands mirror the package's layers.

Each layer's commands live in their own module here and are registered below, so a change to one
layer's command line touches one file.
"""

from __future__ import annotations

import typer

from letitwag_bench.cli import counts, fit, leaderboard, tasks
from letitwag_bench.cli import eval as eval_cli

app = typer.Typer(
    name="letitwag",
    help="Long-tail concept benchmark: concept-frequency counts, scaling-slope fits, harness glue, leaderboards.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(counts.app, name="counts")
app.command("fit")(fit.fit)
app.command("compare-fit")(fit.compare_fit)
app.command("tasks-path")(tasks.tasks_path)
app.add_typer(leaderboard.app, name="leaderboard")
app.command()(leaderboard.submit)
app.command()(leaderboard.compare)
app.command("eval")(eval_cli.evaluate_models)


def main() -> None:
    app()
