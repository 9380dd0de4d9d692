"""`python -m letitwag_bench` runs the `letitwag` command."""

from letitwag_bench.cli import main

main()
