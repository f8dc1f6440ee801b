"""`streamlytics run` of two checkouts side by side, in one run, on the same files and servers.

    .venv/bin/python benchmarks/bench_compare.py --old /path/to/old-checkout --scales 1,10
    .venv/bin/python benchmarks/bench_compare.py --old d0b3e33 --scales 1 --repeat 3

``--old`` is a checkout folder with its own .venv (``make install`` in it), or a commit of this
repository: a worktree of it is then made under .state/bench-checkouts/ and installed there.
``--new`` is this checkout by default. For each scale the generator of the new checkout writes one
clean data set (seed 42); then each checkout runs ``streamlytics run`` on a fresh PostgreSQL and
MongoDB database of the same servers (this checkout's services, or DATABASE_URL / MONGODB_URI),
in alternating order (old, new, new, old, …) so a drift in the machine's load falls on both; then
one more day of sessions (benchmarks/bench_pipeline.py's new-day file) and ``streamlytics run``
again, the incremental figure. Printed: wall seconds per run, the median per checkout and the
ratio new / old, and the load average around each run (the machine may be shared: only ratios
from the same invocation compare). Figures also go to benchmarks/results/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from _common import commit_of, commit_worktree, scratch_database
from bench_pipeline import add_new_day


def checkout(spec: str) -> Path:
    """A folder with a .venv for ``spec``: a path as given, or a commit made into a worktree."""
    path = Path(spec)
    if path.is_dir():
        if not (path / ".venv" / "bin" / "streamlytics").exists():
            raise SystemExit(f"{path} has no .venv/bin/streamlytics: run `make install` there")
        return path.resolve()
    folder = commit_worktree(ROOT, spec)
    if not (folder / ".venv" / "bin" / "streamlytics").exists():
        subprocess.run(["make", "-C", str(folder), "install"], check=True)
    return folder


def services(folder: Path) -> dict[str, str]:
    """DATABASE_URL and MONGODB_URI of the servers in use (started when they are the project's)."""
    exe = str(folder / ".venv" / "bin" / "streamlytics")
    subprocess.run([exe, "services", "up"], check=True, capture_output=True)
    out = subprocess.run([exe, "services", "env"], check=True, capture_output=True, text=True)
    script = out.stdout + '\nprintf "%s\\n%s\\n" "$DATABASE_URL" "$MONGODB_URI"'
    db, mongo = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return {"DATABASE_URL": db, "MONGODB_URI": mongo}


def run_once(folder: Path, data: Path, urls: dict[str, str], log: Path) -> dict[str, float]:
    """``streamlytics run`` on a fresh database, then on the same files plus one more day."""
    from urllib.parse import unquote, urlsplit

    mongo_db = f"bench_{uuid.uuid4().hex[:10]}"
    with scratch_database(urls["DATABASE_URL"], "bench_compare") as url:
        parts = urlsplit(url)
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("PG", "DBT_", "STREAMLYTICS_"))
            },
            "DATABASE_URL": url,
            "PGHOST": parts.hostname or "127.0.0.1",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": unquote(parts.username or ""),
            "PGPASSWORD": unquote(parts.password or ""),
            "PGDATABASE": parts.path.lstrip("/"),
            "MONGODB_URI": urls["MONGODB_URI"],
            "MONGODB_DB": mongo_db,
            "STREAMLYTICS_REPORTS_DIR": str(log.parent / f"reports-{log.stem}"),
            "DBT_PROFILES_DIR": str(folder),
        }
        env.pop("STREAMLYTICS_HOME", None)
        figures = {}
        for label, files in (("full", data), ("plus_one_day", data)):
            if label == "plus_one_day":
                add_new_day(files)
            started, load = time.monotonic(), os.getloadavg()[0]
            with log.open("a") as out:
                proc = subprocess.run(
                    [
                        str(folder / ".venv" / "bin" / "streamlytics"),
                        "run",
                        "--data-dir",
                        str(files),
                    ],
                    cwd=folder,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            if proc.returncode != 0:
                raise SystemExit(
                    f"streamlytics run failed in {folder} (exit {proc.returncode}): {log}"
                )
            figures[label] = round(time.monotonic() - started, 2)
            figures[f"{label}_load"] = round((load + os.getloadavg()[0]) / 2, 2)
        (data / "viewing_sessions_2024-09-01.csv").unlink()
    import pymongo

    with pymongo.MongoClient(urls["MONGODB_URI"]) as client:
        client.drop_database(mongo_db)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="checkout folder or commit of the baseline")
    parser.add_argument(
        "--new", default=str(ROOT), help="checkout folder or commit (default: here)"
    )
    parser.add_argument("--scales", default="1", help="comma-separated generator scales")
    parser.add_argument("--repeat", type=int, default=2, help="runs per checkout and scale")
    parser.add_argument("--name", default="compare_latest")
    args = parser.parse_args(argv)

    old, new = checkout(args.old), checkout(args.new)
    urls = services(new)
    results = {
        "old": {"folder": str(old), "commit": commit_of(old)},
        "new": {"folder": str(new), "commit": commit_of(new)},
        "scales": {},
    }
    work = Path(tempfile.mkdtemp(prefix="bench_compare_"))
    try:
        for scale in (float(s) for s in args.scales.split(",")):
            data = work / f"scale_{scale:g}"
            subprocess.run(
                [
                    str(new / ".venv" / "bin" / "streamlytics"),
                    "generate",
                    "--out",
                    str(data),
                    "--scale",
                    f"{scale:g}",
                    "--seed",
                    "42",
                ],
                check=True,
                capture_output=True,
            )
            runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
            order = ["old", "new", "new", "old"] * args.repeat
            for i, side in enumerate(order[: 2 * args.repeat]):
                folder = old if side == "old" else new
                figures = run_once(folder, data, urls, work / f"{scale:g}-{i}-{side}.log")
                runs[side].append(figures)
                print(f"scale {scale:g} {side:>3} ({commit_of(folder)}): {figures}", flush=True)
            summary = {}
            for label in ("full", "plus_one_day"):
                med = {s: statistics.median(r[label] for r in runs[s]) for s in runs}
                summary[label] = {**med, "ratio_new_old": round(med["new"] / med["old"], 3)}
            results["scales"][f"{scale:g}"] = {"runs": runs, "median": summary}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(
        f"| scale | run | old {results['old']['commit']} (s) | new {results['new']['commit']} (s) | new / old |"
    )
    print("|---|---|---|---|---|")
    for scale, figures in results["scales"].items():
        for label, med in figures["median"].items():
            print(
                f"| {scale} | {label} | {med['old']:.1f} | {med['new']:.1f} | {med['ratio_new_old']:.2f} |"
            )
    out = HERE.parent / "results" / f"{args.name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
