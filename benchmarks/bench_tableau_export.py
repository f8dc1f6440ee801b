"""Tableau extract throughput and memory: prints rows/s, peak RSS of Python and of hyperd.

    .venv/bin/python benchmarks/bench_tableau_export.py --rows 200000 2000000
    .venv/bin/python benchmarks/bench_tableau_export.py --warehouse spark --rows 1000000

For each row count, a throwaway database (dropped afterwards) gets one mart of that many rows
with the marts' column types (bigint, text, numeric, double, date, timestamptz, boolean), and
``export_marts`` writes its .hyper file. With ``--warehouse spark`` the mart is a Parquet table
of a throwaway database on the Spark Connect server in use (`services up` with the Spark
engine, or SPARK_REMOTE), streamed as Arrow batches. Peak RSS of this process is ru_maxrss, sampled per
size in a fresh child process so one size's peak cannot hide another's; hyperd's peak is sampled
every 50 ms. Both must stay flat as the row count grows: rows never pass through Python.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg2
from _common import scratch_database

SPARK_MART_SQL = """
create table {database}.fct_bench using parquet as
select
    id as session_id,
    concat('U', lpad(cast(id % 100000 as string), 6, '0')) as user_id,
    element_at(array('Smart TV', 'Mobile', 'Desktop', 'Tablet'), cast(1 + id % 4 as int))
        as device_type,
    cast(round((id % 997) * 0.37, 2) as decimal(10, 2)) as watch_minutes,
    cast(id % 1000 as double) / 10.0 as completion_percentage,
    date_add(date'2024-01-01', cast(id % 365 as int)) as watch_date,
    timestamp_seconds(1704067200 + id * 7) as started_at,
    id % 3 = 0 as is_binge
from range(1, {rows} + 1)
"""

MART_SQL = """
create schema marts;
create table marts.fct_bench as
select
    g::bigint as session_id,
    'U' || lpad((g % 100000)::text, 6, '0') as user_id,
    (array['Smart TV', 'Mobile', 'Desktop', 'Tablet'])[1 + g % 4] as device_type,
    round((g % 997) * 0.37, 2)::numeric(10, 2) as watch_minutes,
    (g % 1000) / 10.0::float8 as completion_percentage,
    date '2024-01-01' + (g % 365) as watch_date,
    timestamptz '2024-01-01 00:00:00+00' + g * interval '7 seconds' as started_at,
    g % 3 = 0 as is_binge
from generate_series(1, {rows}) as g
"""


def _hyperd_peak(stop: threading.Event, peak: list[int]) -> None:
    me = psutil.Process()
    while not stop.is_set():
        for child in me.children(recursive=True):
            try:
                if child.name().startswith("hyperd"):
                    peak[0] = max(peak[0], child.memory_info().rss)
            except psutil.Error:
                pass
        time.sleep(0.05)


def _export(url: str, out: Path, queue: multiprocessing.Queue, schema: str = "marts") -> None:
    from streamlytics.consumers.tableau import export_marts
    from streamlytics.dbt_relations import Relation

    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=_hyperd_peak, args=(stop, peak), daemon=True)
    sampler.start()
    started = time.perf_counter()
    mart = Relation("fct_bench", schema, "fct_bench")
    (extract,) = export_marts(out, database_url=url, marts=[mart], log_dir=out / "logs")
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    queue.put({
        "rows": extract.rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(extract.rows / seconds),
        "hyper_mb": round(extract.path.stat().st_size / 2**20, 1),
        "python_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "hyperd_peak_rss_mb": round(peak[0] / 2**20, 1),
    })  # fmt: skip


def bench(admin_url: str, rows: int) -> dict:
    with scratch_database(admin_url, "bench") as url:
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute(MART_SQL.format(rows=int(rows)))
        conn.close()
        spawn = multiprocessing.get_context("spawn")
        queue = spawn.Queue()
        with tempfile.TemporaryDirectory() as out:
            proc = spawn.Process(target=_export, args=(url, Path(out), queue))
            proc.start()
            result = queue.get()
            proc.join()
        return result


def bench_spark(rows: int) -> dict:
    import uuid

    from streamlytics import warehouse
    from streamlytics.config import settings

    spark = warehouse.connect(settings()).spark
    database = f"bench_{uuid.uuid4().hex[:8]}"
    spark.sql(f"create database {database}")
    try:
        spark.sql(SPARK_MART_SQL.format(database=database, rows=int(rows)))
        spawn = multiprocessing.get_context("spawn")
        queue = spawn.Queue()
        with tempfile.TemporaryDirectory() as out:
            proc = spawn.Process(target=_export, args=("", Path(out), queue, database))
            proc.start()
            result = queue.get()
            proc.join()
        return {"warehouse": "spark", **result}
    finally:
        spark.sql(f"drop database {database} cascade")


def main(argv: list[str] | None = None) -> int:
    from streamlytics import services

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 2_000_000])
    parser.add_argument("--warehouse", choices=("postgres", "spark"), default="postgres")
    args = parser.parse_args(argv)
    if args.warehouse == "spark":
        # The child process that exports reads the switch from its environment, as the CLI does.
        os.environ["STREAMLYTICS_WAREHOUSE"] = "spark"
        for rows in args.rows:
            print(json.dumps(bench_spark(rows)), flush=True)
        return 0
    admin_url = services.database_url()
    for rows in args.rows:
        print(json.dumps(bench(admin_url, rows)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
