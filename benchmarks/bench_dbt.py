"""The dbt build of two versions of the dbt project side by side, node by node, on the same files.

    .venv/bin/python benchmarks/bench_dbt.py --old 930a38c --scales 10
    .venv/bin/python benchmarks/bench_dbt.py --old 930a38c --scales 1 --repeat 2 --checksums

``--old`` / ``--new`` name a commit of this repository (its dbt_project/ and profiles.yml are
exported with ``git archive`` under .state/bench-trees/) or a checkout folder; ``--new`` is this
checkout by default. Both run with this checkout's Python code and .venv: only the dbt project
differs, so the figures are the models' and tests' cost alone (``bench_compare.py`` times the
whole ``streamlytics run`` of two checkouts instead).

For each scale the generator writes one clean data set (seed 42, or ``--data`` reuses a folder);
then, alternately (old, new, new, old, ...), each version gets a fresh database on this
checkout's PostgreSQL, the files are ingested (not timed) and ``dbt build`` runs the whole
project (``full``); then one more day of sessions (bench_pipeline's new-day file) is ingested
and ``dbt build`` runs again (``plus_one_day``: the incremental models append). Per build: wall
seconds (dbt's parse included), the sum of the node times, the slowest nodes from dbt's
run_results.json, and the load average around it (the machine may be shared: compare figures
of one invocation only). With ``--checksums`` each version's first run also hashes every table
of the core, marts, audit and staging schemas (sorted rows, load-time columns left out) after
each build, and the output says which tables differ between the versions.

Printed: a table per scale of the builds' medians and the slowest nodes side by side; all
figures go to benchmarks/results/<name>.json (``--name``, default dbt_compare_latest).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from _common import resolve_commit, scratch_database
from bench_pipeline import NEW_DAY_FILE, add_new_day

# Columns that say when a row was loaded or checked, not what it holds: two databases built
# from the same files differ in them.
TIME_COLUMNS = ("loaded_at", "detected_at", "started_at", "finished_at", "built_at")
CHECKED_SCHEMAS = ("core", "marts", "analysis_marts", "audit", "staging")


def project_tree(spec: str) -> Path:
    """A folder holding dbt_project/ and profiles.yml for ``spec``: a folder as given, or a
    commit's two exported with ``git archive``."""
    path = Path(spec)
    if path.is_dir():
        if not (path / "dbt_project" / "dbt_project.yml").exists():
            raise SystemExit(f"{path} has no dbt_project/dbt_project.yml")
        return path.resolve()
    commit = resolve_commit(ROOT, spec)
    folder = ROOT / ".state" / "bench-trees" / commit[:12]
    if not (folder / "dbt_project").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "dbt_project", "profiles.yml"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def label_of(spec: str, folder: Path) -> str:
    """The commit a version is (short hash), with '+' when its dbt project has local changes."""
    if not (folder / ".git").exists():
        return spec[:12]
    head = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(folder), "status", "--porcelain", "dbt_project", "profiles.yml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return head + ("+" if dirty else "")


def table_checksums(url: str) -> dict[str, str]:
    """Every base table of CHECKED_SCHEMAS: row count and md5 of its sorted rows, time columns
    left out (computed in the database: the session tables hold millions of rows)."""
    import psycopg2

    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select c.table_schema || '.' || c.table_name, "
            "string_agg(format('t.%%I', c.column_name), ', ' order by c.ordinal_position) "
            "from information_schema.columns as c join information_schema.tables as t "
            "on t.table_schema = c.table_schema and t.table_name = c.table_name "
            "where t.table_type = 'BASE TABLE' and c.table_schema = any(%s) "
            "and c.column_name <> all(%s) group by 1 order by 1",
            (list(CHECKED_SCHEMAS), list(TIME_COLUMNS)),
        )
        sums = {}
        for table, columns in cur.fetchall():
            row = f"row({columns})::text"
            cur.execute(
                f"select count(*), md5(coalesce(string_agg({row}, E'\\n' order by {row}), '')) "
                f"from {table} as t"
            )
            count, digest = cur.fetchone()
            sums[table] = f"{count}:{digest}"
    return sums


def node_profile(run_results: Path, top: int) -> dict[str, Any]:
    results = json.loads(run_results.read_text())["results"]
    return {
        "nodes": len(results),
        "sum_seconds": round(sum(r["execution_time"] for r in results), 1),
        "seconds": {
            r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2)
            for r in sorted(results, key=lambda r: -r["execution_time"])[:top]
        },
    }


def build(tree: Path, url: str, work: Path, top: int) -> dict[str, Any]:
    """``dbt build`` of ``tree``'s project on ``url``: wall seconds, load, node profile."""
    from streamlytics.config import settings
    from streamlytics.transform import run_build

    cfg = dataclasses.replace(
        settings(),
        database_url=url,
        dbt_project_dir=tree / "dbt_project",
        dbt_profiles_dir=tree,
    )
    load = os.getloadavg()[0]
    started = time.monotonic()
    result = run_build(target_path=work / "target", log_path=work / "logs", cfg=cfg)
    wall = round(time.monotonic() - started, 1)
    if not result.ok:
        raise SystemExit(
            f"dbt build of {tree} failed: {[f.describe() for f in result.failures]} "
            f"{result.output_tail[-5:]}"
        )
    return {
        "wall_seconds": wall,
        "load": round((load + os.getloadavg()[0]) / 2, 2),
        **node_profile(Path(result.run_results_path), top),
    }


def run_once(
    tree: Path, data: Path, admin_url: str, work: Path, checksums: bool, top: int
) -> dict[str, Any]:
    """Ingest and build on a fresh database, then the same after one more day of sessions."""
    from streamlytics.ingest import ingest_directory

    figures: dict[str, Any] = {}
    with scratch_database(admin_url, "bench_dbt") as url:
        for label in ("full", "plus_one_day"):
            if label == "plus_one_day":
                add_new_day(data)
            ingest_directory(data, url)
            figures[label] = build(tree, url, work, top)
            if checksums:
                figures[f"{label}_checksums"] = table_checksums(url)
        (data / NEW_DAY_FILE).unlink()
    return figures


def differing_tables(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return sorted(t for t in a.keys() | b.keys() if a.get(t) != b.get(t))


def print_scale(scale: str, figures: dict[str, Any], labels: dict[str, str], rows: int) -> None:
    runs = figures["runs"]
    print(f"\nscale {scale}")
    print(f"| build | old {labels['old']} | new {labels['new']} | new / old |")
    print("|---|---:|---:|---:|")
    for build_label in ("full", "plus_one_day"):
        for figure in ("wall_seconds", "sum_seconds"):
            med = {s: statistics.median(r[build_label][figure] for r in runs[s]) for s in runs}
            print(
                f"| {build_label} {figure.split('_')[0]} | {med['old']:.1f} | {med['new']:.1f} "
                f"| {med['new'] / med['old']:.2f} |"
            )
    for build_label in ("full", "plus_one_day"):
        print(f"\n{build_label}: slowest nodes (median seconds)")
        print("| node | old | new |")
        print("|---|---:|---:|")
        med = {
            s: {
                node: statistics.median(r[build_label]["seconds"].get(node, 0.0) for r in runs[s])
                for r0 in runs[s]
                for node in r0[build_label]["seconds"]
            }
            for s in runs
        }
        nodes = sorted(
            med["old"].keys() | med["new"].keys(),
            key=lambda n: -max(med["old"].get(n, 0.0), med["new"].get(n, 0.0)),
        )
        for node in nodes[:rows]:
            old, new = med["old"].get(node), med["new"].get(node)
            print(
                f"| {node} | {'-' if old is None else f'{old:.1f}'} "
                f"| {'-' if new is None else f'{new:.1f}'} |"
            )
    for build_label in ("full", "plus_one_day"):
        key = f"{build_label}_checksums"
        if key in runs["old"][0] and key in runs["new"][0]:
            differ = differing_tables(runs["old"][0][key], runs["new"][0][key])
            print(
                f"\n{build_label}: {len(runs['new'][0][key])} tables hashed; "
                f"differing between old and new: {differ or 'none'}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="commit or checkout folder of the baseline")
    parser.add_argument("--new", default=str(ROOT), help="commit or folder (default: here)")
    parser.add_argument("--scales", default="10", help="comma-separated generator scales")
    parser.add_argument("--repeat", type=int, default=1, help="builds per version and scale")
    parser.add_argument("--data", help="a generated data folder to reuse (one scale only)")
    parser.add_argument("--checksums", action="store_true", help="compare every table's rows")
    parser.add_argument("--top", type=int, default=25, help="slowest nodes kept per build")
    parser.add_argument(
        "--new-first", action="store_true", help="start with the new version (new, old, old, new)"
    )
    parser.add_argument("--name", default="dbt_compare_latest")
    args = parser.parse_args(argv)

    from streamlytics import services

    trees = {"old": project_tree(args.old), "new": project_tree(args.new)}
    labels = {"old": label_of(args.old, trees["old"]), "new": label_of(args.new, trees["new"])}
    admin_url = services.database_url()
    results: dict[str, Any] = {
        "versions": {s: {"tree": str(trees[s]), "label": labels[s]} for s in trees},
        "cores": os.cpu_count(),
        "scales": {},
    }
    out = HERE.parent / "results" / f"{args.name}.json"
    work = Path(tempfile.mkdtemp(prefix="bench_dbt_"))
    try:
        for scale in args.scales.split(","):
            data = work / f"scale_{scale}" / "data"
            if args.data:
                shutil.copytree(args.data, data)
            else:
                from streamlytics.generate import generate_dataset

                generate_dataset(data, scale=float(scale), seed=42)
            runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
            order = ["old", "new", "new", "old"] * args.repeat
            if args.new_first:
                order = ["new", "old", "old", "new"] * args.repeat
            for i, side in enumerate(order[: 2 * args.repeat]):
                figures = run_once(
                    trees[side],
                    data,
                    admin_url,
                    work / side,
                    checksums=args.checksums and not runs[side],
                    top=args.top,
                )
                runs[side].append(figures)
                results["scales"][scale] = {"runs": runs}
                out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
                print(
                    f"scale {scale} {side} ({labels[side]}) run {i}: "
                    + ", ".join(
                        f"{b} {figures[b]['wall_seconds']} s wall, {figures[b]['sum_seconds']} s "
                        f"of nodes (load {figures[b]['load']})"
                        for b in ("full", "plus_one_day")
                    ),
                    flush=True,
                )
            results["scales"][scale] = {"runs": runs}
            print_scale(scale, results["scales"][scale], labels, rows=15)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
