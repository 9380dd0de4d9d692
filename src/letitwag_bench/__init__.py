"""letitwag-bench: the Let It Wag! long-tail benchmark and frequency-stratified metrics for evaluation harnesses."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("letitwag-bench")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"
