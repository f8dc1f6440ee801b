"""Spark next to PostgreSQL, measured side by side in one run (figures for docs/scale-out.md).

    STREAMLYTICS_WAREHOUSE=spark .venv/bin/streamlytics services up    # the local Connect server
    .venv/bin/python benchmarks/bench_spark.py --scales 1 10

Per scale (generated clean data, seed 42): the raw landing of the same files on PostgreSQL (COPY
into a fresh database) and on Spark (Parquet batches into fresh databases of the project's Spark
Connect server), wall seconds and session records per second; then a re-run of each (every file
skipped). Once: what one dbt invocation pays to reach Spark, ``dbt debug`` (opens a connection
and runs a query) in session mode with a local JVM of its own (no SPARK_REMOTE: what dbt-spark's
session method does by default) against the long-running Connect server, and against PostgreSQL.

Prints a markdown table; the machine is shared (2 cores), so the load average is printed too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlytics import services
from streamlytics.config import settings
from streamlytics.generate import generate_dataset
from streamlytics.ingest import ingest_directory as ingest_postgres
from streamlytics.ingest import spark_landing


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(work, *args, **kwargs) -> float:
    start = time.perf_counter()
    work(*args, **kwargs)
    return time.perf_counter() - start


def scratch_database(admin_url: str) -> tuple[str, str]:
    import psycopg2

    name = f"bench_spark_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"create database {name}")
    conn.close()
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"drop database if exists {name} with (force)")
    conn.close()


def dbt_debug_seconds(env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "debug"],
        cwd=ROOT / "dbt_project",
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"dbt debug failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="*", type=float, default=[1.0, 10.0])
    parser.add_argument("--repeat-dbt", type=int, default=2)
    args = parser.parse_args()

    cfg = settings()
    admin_url = services.database_url(cfg)
    remote = services.spark_remote(cfg)
    lock = spark_landing.lock_file(cfg)
    rows = []
    for scale in args.scales:  # `--scales` alone: only the dbt figures
        folder = Path(tempfile.mkdtemp(prefix=f"bench-spark-{scale:g}-"))
        try:
            summary = generate_dataset(folder, scale=scale, seed=42)
            sessions = summary["sessions"]
            name, url = scratch_database(admin_url)
            prefix = f"bench{uuid.uuid4().hex[:8]}_"
            try:
                before = load()
                pg = timed(ingest_postgres, folder, url)
                pg_again = timed(ingest_postgres, folder, url)
                land = spark_landing.ingest_directory
                sp = timed(land, folder, remote, lock, database_prefix=prefix)
                sp_again = timed(land, folder, remote, lock, database_prefix=prefix)
                rows.append((scale, sessions, pg, sp, pg_again, sp_again, f"{before} → {load()}"))
            finally:
                drop_database(admin_url, name)
                session = spark_landing.connect(remote)
                for db in ("raw", "audit"):
                    session.sql(f"drop database if exists {prefix}{db} cascade")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    print(
        "\n| scale | sessions | ingest PostgreSQL s | ingest Spark s | Spark / PG | "
        "re-run PG s | re-run Spark s | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for scale, sessions, pg, sp, pg_again, sp_again, loads in rows:
        print(
            f"| {scale:g} | {sessions:,} | {pg:.1f} ({sessions / pg:,.0f}/s) | "
            f"{sp:.1f} ({sessions / sp:,.0f}/s) | {sp / pg:.2f} | {pg_again:.1f} | "
            f"{sp_again:.1f} | {loads} |"
        )

    env = {**os.environ, **services.service_environment(cfg)}
    spark_env = {**env, "STREAMLYTICS_WAREHOUSE": "spark", "SPARK_REMOTE": remote}
    local_env = {k: v for k, v in spark_env.items() if k != "SPARK_REMOTE"}
    local_env.update(SPARK_LOCAL_IP="127.0.0.1")
    scratch = Path(tempfile.mkdtemp(prefix="bench-spark-session-"))
    # dbt-spark's session method without SPARK_REMOTE starts a JVM in the dbt process; keep its
    # Derby metastore and warehouse out of the project folder.
    local_env["PYSPARK_SUBMIT_ARGS"] = (
        f"--conf spark.sql.warehouse.dir={scratch}/warehouse "
        f"--driver-java-options -Dderby.system.home={scratch} pyspark-shell"
    )
    pg_env = {**env, "STREAMLYTICS_WAREHOUSE": "postgres"}
    timings = {
        "PostgreSQL": [],
        "Spark Connect (long-running server)": [],
        "Spark session, local JVM per invocation": [],
    }
    for _ in range(args.repeat_dbt):
        timings["PostgreSQL"].append(dbt_debug_seconds(pg_env))
        timings["Spark Connect (long-running server)"].append(dbt_debug_seconds(spark_env))
        timings["Spark session, local JVM per invocation"].append(dbt_debug_seconds(local_env))
    shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"\n`dbt debug` wall seconds ({args.repeat_dbt} runs each, interleaved; load {load()}):\n"
    )
    print("| target | runs | best s |")
    print("|---|---|---|")
    for target, seconds in timings.items():
        print(f"| {target} | {', '.join(f'{s:.1f}' for s in seconds)} | {min(seconds):.1f} |")


if __name__ == "__main__":
    main()
