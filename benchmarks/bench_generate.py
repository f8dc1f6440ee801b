"""Generator throughput and memory at a given scale: prints wall time, rows/s and peak RSS.

    .venv/bin/python benchmarks/bench_generate.py --scale 45 [--seed 42] [--dirty-fraction 0]
        [--out DIR]   (default: a temporary directory, removed afterwards)

Peak RSS is the process's own high-water mark (ru_maxrss), which includes the interpreter and
numpy/scipy; it is the figure that must stay flat as the scale grows.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from streamlytics.generate import generate_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=45.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dirty-fraction", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="bench_generate_"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    cpu_start = time.process_time()
    try:
        summary = generate_dataset(
            out, scale=args.scale, seed=args.seed, dirty_fraction=args.dirty_fraction
        )
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

    print(
        f"scale            {args.scale:g} (seed {args.seed}, dirty fraction {args.dirty_fraction:g})"
    )
    print(f"users            {summary['users']:,}")
    print(f"titles           {summary['movies']:,} movies + {summary['series']:,} series")
    print(f"sessions         {summary['sessions']:,}")
    print(f"defects          {summary['defects']:,}")
    for name, size in sizes.items():
        print(f"  {name:<22} {size / 1e6:,.1f} MB")
    print(f"wall time        {seconds:.2f} s")
    # CPU time is the figure to compare across runs on a shared machine: wall time grows
    # when other processes compete for the cores, CPU time hardly does.
    print(f"CPU time         {cpu:.2f} s (user + system)")
    print(f"sessions/s       {summary['sessions'] / seconds:,.0f}")
    print(f"peak RSS         {peak_mb:.0f} MB (after imports: {rss_before / 1024:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
