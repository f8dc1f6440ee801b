"""The four pipeline questions answered by PostgreSQL and by MongoDB, at several scales.

    .venv/bin/python benchmarks/bench_mongo_vs_postgres.py [--scales 1 10] [--repeat 5] [--lookups 11] [--keep]

For each scale: generate the course-layout files, ingest, `dbt build`, publish to MongoDB (all
in throwaway databases named bench_mongo_s<scale>, dropped afterwards unless --keep), then time
each question three ways, median of --repeat runs:

- postgres core   the SQL of mongo/sql_questions.py computed on the fly from the core tables
- postgres mart   reading the dbt mart that already holds the answer (where one exists)
- mongo pipeline  the aggregation pipeline over the published documents

plus indexed point lookups and a filtered pipeline with `explain`'s verdict on index use.
Every Mongo answer is checked against the core SQL before its time is printed. Servers are the
project's (or DATABASE_URL / MONGODB_URI); on the shared embedded nx-27017 other work on the
server inflates the Mongo figures, so CPU-light phases are best run on a quiet machine.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pymongo
from psycopg2 import sql

from mongo import compat, pipelines, publish
from mongo.schemas import CONTENT_ANALYTICS, USER_ANALYTICS
from streamlytics import dbt_relations, services

# The SQL side is the test oracle (tests/sql_questions.py): the same questions over the core.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import sql_questions


def _resolver(target: Path) -> Callable[[str], dbt_relations.Relation]:
    """Model name -> relation from the manifest of this benchmark's own dbt build."""
    os.environ["DBT_TARGET_PATH"] = str(target)
    return dbt_relations.relation


DBT_MODELS = (
    "+path:models/core",
    "+rpt_user_analytics",
    "+rpt_geographic",
    "+rpt_seasonal_by_month",
    "+path:models/marts/sync",
    "+rpt_content_performance",
)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall seconds over ``repeat`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def same_rows(got: list[dict], want: list[dict]) -> bool:
    """Same rows and order; floats equal to 1e-9 relative."""
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        for key, value in w.items():
            a = g.get(key)
            if isinstance(value, float) or isinstance(a, float):
                if a is None or value is None or not math.isclose(a, value, rel_tol=1e-9):
                    return False
            elif a != value:
                return False
    return True


def fresh_postgres(admin_url: str, name: str) -> str:
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    admin.close()
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def drop_postgres(admin_url: str, name: str) -> None:
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    admin.close()


def build(url: str, work: Path, scale: float, seed: int) -> dict[str, float]:
    """Generate, ingest and dbt-build into ``url``; seconds per step."""
    from streamlytics.generate import generate_dataset
    from streamlytics.ingest.pipeline import ingest_directory
    from streamlytics.transform import run_build

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    generate_dataset(work / "data", scale=scale, seed=seed)
    seconds["generate"] = time.perf_counter() - start
    start = time.perf_counter()
    ingest_directory(work / "data", url)
    seconds["ingest"] = time.perf_counter() - start
    os.environ["DATABASE_URL"] = url  # run_build reaches Postgres through the project settings
    # Only the models the questions read; dbt's tests are the test suite's business, not timed.
    result = run_build(
        select=DBT_MODELS,
        exclude=("resource_type:test", "resource_type:unit_test"),
        target_path=work / "target",
        log_path=work / "logs",
    )
    if not result.ok:
        raise SystemExit(
            "dbt build failed: " + "; ".join(f.describe() for f in result.failures[:5])
        )
    seconds["dbt build"] = result.elapsed_seconds
    return seconds


def bench_scale(scale: float, args: argparse.Namespace, pg_admin: str, mongo_uri: str) -> None:
    name = f"bench_mongo_s{str(scale).replace('.', '_')}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}_"))
    url = fresh_postgres(pg_admin, name)
    client = pymongo.MongoClient(mongo_uri)
    client.drop_database(name)
    db = client[name]
    try:
        steps = build(url, work, scale, args.seed)
        start = time.perf_counter()
        resolve = _resolver(work / "target")
        first = publish.publish(url, mongo_uri, name, resolve=resolve)
        steps["publish (first)"] = time.perf_counter() - start
        start = time.perf_counter()
        again = publish.publish(url, mongo_uri, name, resolve=resolve)
        steps["publish (no change)"] = time.perf_counter() - start

        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select count(*) from core.viewing_sessions")
            sessions = cur.fetchone()[0]
        users = db[USER_ANALYTICS].estimated_document_count()
        titles = db[CONTENT_ANALYTICS].estimated_document_count()
        print(
            f"\n=== scale {scale:g}: {users:,} users, {titles:,} titles, {sessions:,} sessions "
            f"(server: {compat.server_process(db)})"
        )
        for step, secs in steps.items():
            print(f"  {step:<22} {secs:8.2f} s")
        for coll, c in first.items():
            print(f"  publish counts {coll}: first {c.as_dict()}; again {again[coll].as_dict()}")

        print(
            f"\n  {'question':<28} {'rows':>5} {'pg core':>10} {'pg mart':>10} {'mongo':>10}  check"
        )
        for question in pipelines.PIPELINES:
            pg_s, want = timed(lambda q=question: sql_questions.answer(conn, q), args.repeat)
            mart_s = None
            if question in sql_questions.MARTS:
                mart_s, _ = timed(
                    lambda q=question: sql_questions.mart_answer(conn, q), args.repeat
                )
            mongo_s, got = timed(lambda q=question: pipelines.run(db, q), args.repeat)
            check = "equal" if same_rows(got, want) else "DIFFERENT"
            mart = f"{mart_s * 1000:8.1f}ms" if mart_s is not None else f"{'-':>10}"
            print(
                f"  {question:<28} {len(got):>5} {pg_s * 1000:8.1f}ms {mart} {mongo_s * 1000:8.1f}ms  {check}"
            )

        for content_type in ("movie", "series"):
            pg_s, want = timed(
                lambda t=content_type: sql_questions.top_titles(conn, t), args.repeat
            )
            mart_s, _ = timed(
                lambda t=content_type: sql_questions.top_titles_mart(conn, t), args.repeat
            )
            mongo_s, got = timed(lambda t=content_type: pipelines.top_titles(db, t), args.repeat)
            check = "equal" if same_rows(got, want) else "DIFFERENT"
            print(
                f"  {'top 10 ' + content_type:<28} {len(got):>5} {pg_s * 1000:8.1f}ms "
                f"{mart_s * 1000:8.1f}ms {mongo_s * 1000:8.1f}ms  {check}"
            )

        with conn.cursor() as cur:  # ids that exist at every scale (the id width grows with it)
            cur.execute("select max(user_id) from core.users")
            user_id = cur.fetchone()[0]
            cur.execute("select max(content_id) from core.content where content_type = 'movie'")
            content_id = cur.fetchone()[0]
        print(
            f"\n  lookups (median of {args.lookups})              pg          mongo      mongo explain"
        )
        lookups = [
            (
                "user by id",
                "select * from core.users where user_id = %s",
                (user_id,),
                USER_ANALYTICS,
                {"user_id": user_id},
            ),
            (
                "title by id",
                "select * from core.content where content_id = %s",
                (content_id,),
                CONTENT_ANALYTICS,
                {"content_id": content_id},
            ),
            (
                "titles of a genre (no index)",
                (
                    "select c.* from core.content c join core.content_genres g "
                    "using (content_id) where g.genre = %s"
                ),
                ("Drama",),
                CONTENT_ANALYTICS,
                {"genres": "Drama"},
            ),
            (
                "users of a country",
                "select * from core.users where country = %s",
                ("Chile",),
                USER_ANALYTICS,
                {"country": "Chile"},
            ),
        ]
        for label, query, params, coll, flt in lookups:

            def pg_lookup(q: str = query, p: tuple = params) -> list:
                with conn.cursor() as cur:
                    cur.execute(q, p)
                    return cur.fetchall()

            pg_s, pg_rows = timed(pg_lookup, args.lookups)
            mongo_s, docs = timed(lambda c=coll, f=flt: list(db[c].find(f)), args.lookups)
            uses = compat.winning_plan_uses_index(db[coll].find(flt).explain())
            print(
                f"  {label:<30} {pg_s * 1000:8.2f}ms {mongo_s * 1000:8.2f}ms   "
                f"{'index' if uses else 'COLLECTION SCAN'} ({len(docs)} docs, pg {len(pg_rows)} rows)"
            )

        filtered_s, rows = timed(
            lambda: pipelines.run(db, "engagement_by_demographics", country="Chile"), args.repeat
        )
        print(
            f"  engagement pipeline for one country (index on country): {filtered_s * 1000:.1f} ms, "
            f"{len(rows)} rows"
        )
        conn.close()
    finally:
        client.close()
        if not args.keep:
            pymongo.MongoClient(mongo_uri).drop_database(name)
            drop_postgres(pg_admin, name)
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=11, help="runs per lookup (median)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the bench databases afterwards")
    args = parser.parse_args(argv)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    pg_admin = services.database_url()
    mongo_uri = services.mongodb_uri()
    for scale in args.scales:
        bench_scale(scale, args, pg_admin, mongo_uri)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
