"""Start-up cost of the clip_benchmark hook for a Python that never imports clip_benchmark.

Needs letitwag-bench installed (normal or editable) in the interpreter given by --python (default:
this one). Two measurements, both in fresh interpreters started with ``-S`` so that this script
decides whether site-packages' ``letitwag_bench_clip_benchmark.pth`` is processed:

- in-process: the time ``site.addpackage`` takes to read and run our .pth (median of --runs);
- end to end: wall time of ``python -S -c <run site.main() with/without our .pth>``, alternating
  the two variants --runs times each, median difference.

Target: < 5 ms. Prints the numbers and the ratio to the target.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PTH = "letitwag_bench_clip_benchmark.pth"
SKIP = (
    "import site; _add = site.addpackage\n"
    "site.addpackage = lambda d, n, k: None if n == {pth!r} else _add(d, n, k)\n"
    "site.main()\n"
)
KEEP = "import site; site.main()\n"
IN_PROCESS = ("import site, time; t = time.perf_counter(); site.addpackage({d!r}, {pth!r}, set()); "
              "print(time.perf_counter() - t)")


def wall(python: str, code: str) -> float:
    t = time.perf_counter()
    subprocess.run([python, "-S", "-c", code], check=True)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    purelib = subprocess.run([args.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    if not (Path(purelib) / PTH).exists():
        sys.exit(f"{PTH} is not installed in {purelib}: install letitwag-bench into {args.python}'s environment")
    inproc = [float(subprocess.run([args.python, "-S", "-c", IN_PROCESS.format(d=purelib, pth=PTH)], check=True,
                                   capture_output=True, text=True).stdout) for _ in range(args.runs)]
    with_pth, without = [], []
    for _ in range(args.runs):
        with_pth.append(wall(args.python, KEEP))
        without.append(wall(args.python, SKIP.format(pth=PTH)))
    added = statistics.median(with_pth) - statistics.median(without)
    print(f"in-process .pth cost: median {statistics.median(inproc) * 1e3:.3f} ms "
          f"(min {min(inproc) * 1e3:.3f} ms) over {args.runs} interpreters")
    print(f"end to end: with .pth {statistics.median(with_pth) * 1e3:.1f} ms, "
          f"without {statistics.median(without) * 1e3:.1f} ms, "
          f"added {added * 1e3:+.2f} ms (median of {args.runs} alternating runs; noise on a busy machine is ~ms)")
    print(f"ratio in-process cost / 5 ms target: {statistics.median(inproc) / 5e-3:.3f}")


if __name__ == "__main__":
    main()
