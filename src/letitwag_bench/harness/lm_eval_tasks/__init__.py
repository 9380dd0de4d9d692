"""lm-evaluation-harness task definitions (YAML) of the ``letitwag`` group; ``hooks`` is what they call."""
