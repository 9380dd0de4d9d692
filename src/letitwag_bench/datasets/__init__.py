"""Image datasets of the benchmark: Let It Wag! and the class-to-concept maps of clip_benchmark's datasets."""
