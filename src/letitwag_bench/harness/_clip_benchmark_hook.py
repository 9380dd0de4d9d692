"""The lazy post-import hook behind ``letitwag_bench_clip_benchmark.pth``.

The .pth (installed at the top of site-packages by our distribution, so uninstalling removes it)
puts a small meta-path finder first in ``sys.meta_path`` at interpreter start (once, even where a
``lib64 -> lib`` symlink makes site read the .pth twice). That finder imports nothing and answers
``None`` at once for every module except the two in :data:`TARGETS`; only then does it import this
module and call :func:`find_spec`, which lets the real finders locate the module and wraps its loader
so that, right after the module has run, :func:`..clip_benchmark.install` patches it. If this package
cannot be imported (a moved editable checkout), the finder warns and clip_benchmark runs unpatched.
``LETITWAG_CLIP_BENCHMARK=off`` leaves clip_benchmark untouched.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

TARGETS = ("clip_benchmark.datasets.builder", "clip_benchmark.cli")
FINDER_NAME = "LetitwagClipBenchmarkFinder"  # the class the .pth line defines


class _PatchingLoader:
    """The real loader, plus a patch once the module has run."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        from letitwag_bench.harness.clip_benchmark import install

        install(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, is_package, … of the real loader
        return getattr(self._loader, name)


def enabled() -> bool:
    return os.environ.get("LETITWAG_CLIP_BENCHMARK", "").strip().lower() not in ("0", "off", "false", "no")


def find_spec(fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
    if fullname not in TARGETS or not enabled():
        return None
    for finder in sys.meta_path:
        if getattr(finder, "__name__", None) == FINDER_NAME or not hasattr(finder, "find_spec"):
            continue
        spec = finder.find_spec(fullname, path, target)
        if spec is not None:
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _PatchingLoader(spec.loader)
            return spec
    return None
