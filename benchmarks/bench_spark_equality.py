"""The dbt build on Spark next to the one on PostgreSQL, and their row-for-row equality.

    STREAMLYTICS_WAREHOUSE=spark .venv/bin/streamlytics services up    # the local Connect server
    .venv/bin/python benchmarks/bench_spark_equality.py --scale 1

The same generated files (seed 42, clean) are ingested into a scratch PostgreSQL database and
landed on the project's Spark Connect server in databases of their own (prefix); then one full
`dbt build` per engine through streamlytics.transform.run_build (the pipeline's path: a dbt
subprocess; on Spark a client of the Connect server, so no JVM start per invocation), one after
the other, the comparison of tests/spark_equality.py over every core table, mart and the
staging quarantine, and the Great Expectations gates on each engine (raw with every load read,
raw again with the sessions loads carried from the record, marts). Prints a markdown table and writes
benchmarks/results/spark_equality_scale<scale>.json. The machine is shared (2 cores): the load
average before and after is printed with each figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg2
from spark_equality import compare, compared_relations

from streamlytics import services
from streamlytics.config import settings
from streamlytics.generate import generate_dataset
from streamlytics.ingest import ingest_directory, spark_landing
from streamlytics.transform import run_build
from streamlytics.validation import run_validation

DATABASES = ("raw", "audit", "staging", "core", "marts", "analysis_marts")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    cfg = settings()
    admin_url = services.database_url(cfg)
    remote = services.spark_remote(dataclasses.replace(cfg, warehouse="spark"))
    work = Path(tempfile.mkdtemp(prefix="bench-spark-eq-"))
    database = f"bench_spark_eq_{uuid.uuid4().hex[:8]}"
    prefix = f"bencheq{uuid.uuid4().hex[:8]}_"
    url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    spark = spark_landing.connect(remote)
    figures: dict[str, object] = {
        "scale": args.scale,
        "seed": args.seed,
        "machine": f"{platform.node()} ({os.cpu_count()} cores)",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        with admin.cursor() as cur:
            cur.execute(f"create database {database}")
        summary = generate_dataset(work / "data", scale=args.scale, seed=args.seed)
        figures["sessions"] = summary["sessions"]
        ingest_directory(work / "data", url)
        spark_landing.ingest_directory(
            work / "data", remote, work / "ingest.lock", database_prefix=prefix
        )

        before = load()
        os.environ.update(STREAMLYTICS_WAREHOUSE="postgres")
        pg = run_build(
            full_refresh=True,
            target_path=work / "pg" / "target",
            log_path=work / "pg" / "logs",
            cfg=dataclasses.replace(cfg, database_url=url, warehouse="postgres"),
        )
        figures["postgres_build"] = {
            "seconds": round(pg.elapsed_seconds, 1),
            "ok": pg.ok,
            "load": f"{before} → {load()}",
        }

        before = load()
        os.environ.update(
            STREAMLYTICS_WAREHOUSE="spark", SPARK_REMOTE=remote, DBT_SCHEMA_PREFIX=prefix
        )
        sp = run_build(
            full_refresh=True,
            target_path=work / "spark" / "target",
            log_path=work / "spark" / "logs",
            cfg=dataclasses.replace(cfg, warehouse="spark", spark_remote=remote),
        )
        figures["spark_build"] = {
            "seconds": round(sp.elapsed_seconds, 1),
            "ok": sp.ok,
            "load": f"{before} → {load()}",
        }
        for name, result in (("postgres", pg), ("spark", sp)):
            results = json.loads(Path(result.run_results_path).read_text())["results"]
            slowest = sorted(results, key=lambda r: -r["execution_time"])[:5]
            figures[f"{name}_slowest_nodes"] = [
                (r["unique_id"].split(".")[-1], round(r["execution_time"], 1)) for r in slowest
            ]

        before = load()
        started = time.perf_counter()
        pairs = compared_relations(work / "spark" / "target" / "manifest.json", prefix)
        rows, differences = compare(url, spark, pairs)
        figures["equality"] = {
            "seconds": round(time.perf_counter() - started, 1),
            "relations": len(pairs),
            "rows": rows,
            "differences": differences,
            "load": f"{before} → {load()}",
        }
        figures["gates"] = time_gates(cfg, url, remote, prefix, work)
    finally:
        for name in DATABASES:
            spark.sql(f"drop database if exists {prefix}{name} cascade")
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {database} with (force)")
        admin.close()
        shutil.rmtree(work, ignore_errors=True)

    pg_s = figures["postgres_build"]["seconds"]  # type: ignore[index]
    sp_s = figures["spark_build"]["seconds"]  # type: ignore[index]
    equality = figures["equality"]
    print(f"\nscale {args.scale:g} ({figures['sessions']:,} sessions), full `dbt build`:\n")
    print("| engine | build s | load avg |")
    print("|---|---|---|")
    print(f"| PostgreSQL | {pg_s} | {figures['postgres_build']['load']} |")  # type: ignore[index]
    print(f"| Spark (Connect, local) | {sp_s} | {figures['spark_build']['load']} |")  # type: ignore[index]
    print(f"\nSpark / PostgreSQL: {sp_s / pg_s:.1f}x")
    print(
        f"equality: {equality['relations']} relations, {equality['rows']:,} rows in "  # type: ignore[index]
        f"{equality['seconds']} s, {len(equality['differences'])} differing"  # type: ignore[index]
    )
    for line in equality["differences"]:  # type: ignore[index]
        print("  " + line)
    print("\n| gate | PostgreSQL s | Spark s |")
    print("|---|---|---|")
    for step, seconds in figures["gates"]["seconds"].items():  # type: ignore[index]
        print(f"| {step} | {seconds['postgres']} | {seconds['spark']} |")
    print(f"same outcomes on both engines: {figures['gates']['same_outcomes']}")  # type: ignore[index]
    out = ROOT / "benchmarks" / "results" / f"spark_equality_scale{args.scale:g}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nwritten: {out.relative_to(ROOT)}")


def time_gates(cfg, url: str, remote: str, prefix: str, work: Path) -> dict[str, object]:
    """Seconds of each GX gate on each engine, each engine with its own copy of the context."""
    os.environ.update(DBT_TARGET_PATH=str(work / "spark" / "target"))
    engines = {
        "postgres": dataclasses.replace(cfg, database_url=url, warehouse="postgres"),
        "spark": dataclasses.replace(
            cfg, warehouse="spark", spark_remote=remote, schema_prefix=prefix
        ),
    }
    seconds: dict[str, dict[str, float]] = {}
    outcomes: dict[str, list] = {}
    for engine, engine_cfg in engines.items():
        project = work / f"gx_{engine}"
        shutil.copytree(
            cfg.gx_project_dir / "gx", project / "gx", ignore=shutil.ignore_patterns("uncommitted")
        )
        for step, stage in (("raw", "raw"), ("raw again", "raw"), ("marts", "marts")):
            started = time.perf_counter()
            report = run_validation(
                stage, project_dir=project, database_url=url, reports_dir=work, cfg=engine_cfg
            )
            seconds.setdefault(step, {})[engine] = round(time.perf_counter() - started, 1)
            if step != "raw again":
                outcomes.setdefault(engine, []).extend(
                    (o.suite, o.check, o.success, o.unexpected_count, o.observed)
                    for o in report.outcomes
                )
    return {
        "seconds": seconds,
        "same_outcomes": outcomes["postgres"] == outcomes["spark"],
        "load": load(),
    }


if __name__ == "__main__":
    main()
