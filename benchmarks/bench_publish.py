"""The MongoDB publish after one more day of sessions: full vs incremental, side by side.

    .venv/bin/python benchmarks/bench_publish.py --scale 1
    .venv/bin/python benchmarks/bench_publish.py --scale 10 --name publish_scale10

At one scale: generate the course-layout files (seed 42), ingest them into a fresh PostgreSQL
database, `dbt build` the sync models and what they need, and publish into two fresh MongoDB
databases (the first publish, timed once). Then one more day of sessions arrives (the new file
of benchmarks/bench_pipeline.py: every k-th session of the log under new ids, dated
2024-09-01), is ingested and built (dbt's incremental models), and the two databases are
brought up to date side by side:

- full         every document rebuilt from the sync models and synced by hash
               (`streamlytics publish --full`);
- incremental  only the documents of the users and titles the new day touched
               (`streamlytics publish`, the stage's default);

then the documents of both are compared (they must be equal, or the benchmark fails), and the
incremental publish runs once more with nothing new. Figures are wall seconds of the document
publish alone (the aggregation pipelines the stage runs afterwards read every document either
way; their time is printed apart, and again once nothing changed: then run_all only checks the
documents' fingerprint and returns the saved rows). Output: a markdown table on stdout and in
benchmarks/results/<name>.md, the figures in <name>.json (default name publish_scale<scale>).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
RESULTS_DIR = HERE.parent / "results"
sys.path.insert(0, str(HERE.parent))

from _common import scratch_database
from bench_pipeline import add_new_day

# The sync models and every node they need; dbt's tests are the suite's business, not timed.
DBT_SELECT = ("+path:models/marts/sync",)


def dbt_build(url: str, work: Path) -> float:
    from dataclasses import replace

    from streamlytics.config import settings
    from streamlytics.transform import run_build

    result = run_build(
        select=DBT_SELECT,
        exclude=("resource_type:test", "resource_type:unit_test"),
        target_path=work / "target",
        log_path=work / "logs",
        cfg=replace(settings(), database_url=url),
    )
    if not result.ok:
        raise SystemExit("dbt build failed: " + "; ".join(f.describe() for f in result.failures))
    return result.elapsed_seconds


def timed_publish(url: str, mongo_uri: str, db: str, *, incremental: bool) -> dict[str, Any]:
    from mongo import publish

    started = time.perf_counter()
    counts = publish.publish(url, mongo_uri, db, incremental=incremental)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "counts": {name: c.as_dict() for name, c in counts.items()},
    }


def documents_of(client: Any, db: str) -> dict[str, dict[Any, Any]]:
    from mongo.schemas import CONTENT_ANALYTICS, USER_ANALYTICS

    return {
        name: {d["_id"]: d for d in client[db][name].find()}
        for name in (USER_ANALYTICS, CONTENT_ANALYTICS)
    }


def bench(scale: float, work: Path) -> dict[str, Any]:
    import pymongo

    from mongo import pipelines
    from streamlytics import services
    from streamlytics.generate import generate_dataset
    from streamlytics.ingest import ingest_directory

    urls = services.up()
    data = work / "data"
    summary = generate_dataset(data, scale=scale, seed=42)
    out: dict[str, Any] = {
        "scale": scale,
        "sessions": summary["sessions"],
        "users": summary["users"],
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    with scratch_database(urls["postgres"], "bench_publish") as url:
        os.environ["DBT_TARGET_PATH"] = str(work / "target")  # the consumers' manifest
        mongo_uri = urls["mongo"]
        name = url.rsplit("/", 1)[1]
        dbs = {"full": f"{name}_full", "incremental": f"{name}_incr"}
        with pymongo.MongoClient(mongo_uri) as client:
            try:
                ingest_directory(data, url)
                out["dbt_build_seconds"] = round(dbt_build(url, work), 1)
                print(f"scale {scale:g}: {out['sessions']:,} sessions, built", flush=True)
                for mode, db in dbs.items():
                    first = timed_publish(url, mongo_uri, db, incremental=mode == "incremental")
                    out.setdefault("first_publish", {})[mode] = first
                out["new_day_sessions"] = add_new_day(data)
                ingest_directory(data, url)
                out["dbt_build_new_day_seconds"] = round(dbt_build(url, work), 1)
                print(f"  new day: {out['new_day_sessions']:,} sessions, built", flush=True)
                out["new_day"] = {
                    mode: timed_publish(url, mongo_uri, db, incremental=mode == "incremental")
                    for mode, db in dbs.items()
                }
                full, incremental = (documents_of(client, db) for db in dbs.values())
                out["documents_equal"] = full == incremental
                if not out["documents_equal"]:
                    raise SystemExit("the incremental publish's documents differ from the full's")
                out["nothing_new"] = timed_publish(
                    url, mongo_uri, dbs["incremental"], incremental=True
                )
                db = client[dbs["incremental"]]
                started = time.perf_counter()
                pipelines.save_results(db, pipelines.run_all(db))
                out["pipelines_seconds"] = round(time.perf_counter() - started, 2)
                started = time.perf_counter()  # no document changed since: the saved rows
                out["pipelines_reused"] = pipelines.run_all(db).reused
                out["pipelines_again_seconds"] = round(time.perf_counter() - started, 2)
            finally:
                for db in dbs.values():
                    client.drop_database(db)
    return out


def table(run: dict[str, Any]) -> str:
    new_day = run["new_day"]
    full, incr = new_day["full"], new_day["incremental"]

    def written(counts: dict[str, dict[str, int]]) -> str:
        """Documents built / written / held, per collection."""
        return ", ".join(
            f"{name}: {c['built']:,} / {c['inserted'] + c['updated']:,} / {c['total']:,}"
            for name, c in counts.items()
        )

    lines = [
        (
            f"## MongoDB publish at scale {run['scale']:g} ({run['sessions']:,} sessions, "
            f"{run['users']:,} users), {run['started_at']}"
        ),
        "",
        (
            f"Machine: {run['machine']}; load average at start {run['load_average']}. dbt build "
            f"{run['dbt_build_seconds']} s, after the new day {run['dbt_build_new_day_seconds']} s "
            "(the sync models and their parents)."
        ),
        "",
        "| publish | full | incremental | incremental / full |",
        "|---|---|---|---|",
        (
            f"| first publish (empty MongoDB database) | {run['first_publish']['full']['seconds']} s "
            f"| {run['first_publish']['incremental']['seconds']} s (no state: full) | – |"
        ),
        (
            f"| one more day ({run['new_day_sessions']:,} sessions) | {full['seconds']} s "
            f"| {incr['seconds']} s | {incr['seconds'] / full['seconds']:.2f} |"
        ),
        f"| documents built / written / held | {written(full['counts'])} | {written(incr['counts'])} | – |",
        (
            f"| nothing new (re-run) | – | {run['nothing_new']['seconds']} s, "
            f"{written(run['nothing_new']['counts'])} | – |"
        ),
        "",
        (
            f"Documents after the new day, full vs incremental: "
            f"{'equal' if run['documents_equal'] else 'DIFFERENT'}. The stage's four aggregation "
            f"pipelines (not incremental: they read every document) took {run['pipelines_seconds']} s "
            f"(run and saved); again with no document changed {run['pipelines_again_seconds']} s "
            f"(saved rows reused: {run['pipelines_reused']})."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--name", help="results file name (default publish_scale<scale>)")
    parser.add_argument("--keep-data", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    name = args.name or f"publish_scale{args.scale:g}"
    work = Path(tempfile.mkdtemp(prefix="bench_publish_"))
    try:
        run = bench(args.scale, work)
    finally:
        if not args.keep_data:
            shutil.rmtree(work, ignore_errors=True)
    text = table(run)
    print("\n" + text)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.md").write_text(text, encoding="utf-8")
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
